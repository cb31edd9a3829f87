import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type LocalJobResult, runLocalJob } from "../../harness/local/local-job.ts";
import { type LocalStack, startLocalStack } from "../../harness/local/local-stack.ts";
import { writeSampleImages } from "../../harness/local/sample-images.ts";
import type { LocalHandler } from "../../harness/local/workflow/index.ts";
import { readLedgerSnapshot } from "../../src/ledger-index.ts";
import { readManifest, readSkippedList } from "../../src/manifest.ts";
import { stateFiles } from "../../src/result-keys.ts";
import { silentLogger } from "../../src/runtime.ts";
import { getObjectJson } from "../../src/s3-json.ts";

/**
 * The sharded Plan through the local engine: a small `planShardObjects`
 * makes a few hundred images a backlog too large for one Plan, so the
 * workflow runs the PlanShards Map and MergePlan (with IAM enforced, as
 * packaged) before the model is started.
 */

const RESULTS_PREFIX = "rekognition-results/";
const FOLDERS = ["cam-a", "cam-b", "cam-c", "cam-d", "cam-e"];
let dataDirectory: string;
let stack: LocalStack;

beforeEach(async () => {
  dataDirectory = await mkdtemp(join(tmpdir(), "plan-shards-"));
  stack = await startLocalStack({
    dataDirectory,
    emulator: { startDelayMs: 200, stopDelayMs: 100, latencyMs: 5, tpsPerUnit: 200 },
  });
  process.env.LOG_LEVEL = "silent";
});

afterEach(async () => {
  await stack.close();
  await rm(dataDirectory, { recursive: true, force: true });
});

async function seed(folder: string, count: number, seed: number): Promise<void> {
  await writeSampleImages({
    s3: stack.s3,
    bucket: stack.imagesBucket,
    prefix: `incoming/${folder}/`,
    count,
    seed,
    largeImages: 0,
  });
}

function run(
  planShardObjects: number,
  handlers: Partial<Record<string, LocalHandler>> = {},
): Promise<LocalJobResult> {
  return runLocalJob({ stack, waitMs: 20, input: { planShardObjects, maxUnits: 2 }, handlers });
}

function mapRuns(result: LocalJobResult, state: string) {
  return result.execution.events.flatMap((e) =>
    e.type === "MapRunStarted" && e.state === state ? [e] : [],
  );
}

/** DetectCustomLabels calls the emulator accepted: one per image analysed. */
function callsAccepted(): number {
  return stack.emulator.admin
    .timeline(stack.projectVersionArn)
    .reduce((sum, second) => sum + second.accepted, 0);
}

describe("the sharded Plan, locally end to end", () => {
  it("lists a backlog in shards, reconciles, and analyses each image once, run after run", async () => {
    for (const [i, folder] of FOLDERS.entries()) await seed(folder, 60, i + 1);

    // First run: no snapshot yet, so the shards are cut at the folders.
    const first = await run(100);
    expect(first.execution.status).toBe("SUCCEEDED");
    const shardRuns = mapRuns(first, "PlanShards");
    expect(shardRuns).toHaveLength(1);
    expect(shardRuns[0]?.totalItems).toBe(FOLDERS.length);
    expect(first.summary?.reconciled).toBe(true);
    expect(first.plan?.counts).toEqual({ listed: 300, pending: 300, skipped: 0, alreadyDone: 0 });
    expect(first.plan?.pendingByReason).toEqual({
      new: 300,
      replaced: 0,
      unreadableResult: 0,
      unreadableImage: 0,
    });
    expect(first.summary?.counts).toMatchObject({ succeeded: 300, unaccounted: 0 });
    const runId = first.plan?.runId as string;
    const manifest = await readManifest({
      s3: stack.s3,
      bucket: stack.resultsBucket,
      resultsPrefix: RESULTS_PREFIX,
      runId,
    });
    const keys = manifest.map((image) => image.key);
    expect(new Set(keys).size).toBe(300);
    expect(keys).toEqual([...keys].sort()); // the shards' parts joined in key order
    expect(callsAccepted()).toBe(300);
    // The single Plan stopped at planShardObjects and kept nothing: one run folder, the shards'.
    const runs = await stack.s3.send(
      new ListObjectsV2Command({
        Bucket: stack.resultsBucket,
        Prefix: `${RESULTS_PREFIX}runs/`,
        Delimiter: "/",
      }),
    );
    expect(runs.CommonPrefixes?.map((p) => p.Prefix)).toEqual([`${RESULTS_PREFIX}runs/${runId}/`]);
    const snapshotStats = async () =>
      (await getObjectJson({
        s3: stack.s3,
        bucket: stack.resultsBucket,
        key: stateFiles.ledgerIndexStats(RESULTS_PREFIX),
      })) as { entries: number; samples: string[] };
    // The snapshot is the ledger as this Plan found it: empty on a first run.
    expect((await snapshotStats()).entries).toBe(0);

    // Second run: 40 new images, still cut at the folders (the snapshot is empty).
    await seed("cam-f", 40, 9);
    const second = await run(100);
    expect(second.execution.status).toBe("SUCCEEDED");
    expect(mapRuns(second, "PlanShards")[0]?.totalItems).toBe(FOLDERS.length + 1);
    expect(second.plan?.counts).toEqual({ listed: 340, pending: 40, skipped: 0, alreadyDone: 300 });
    expect(second.summary?.reconciled).toBe(true);
    expect(callsAccepted()).toBe(340);
    // The shards' snapshot parts, joined (gzip members one after the other): every result of
    // the first run once, in key order, readable as one snapshot.
    expect((await snapshotStats()).entries).toBe(300);
    const entries: string[] = [];
    for await (const entry of readLedgerSnapshot({
      s3: stack.s3,
      bucket: stack.resultsBucket,
      resultsPrefix: RESULTS_PREFIX,
      logger: silentLogger,
    })) {
      expect(entry.record?.status).toBe("succeeded");
      entries.push(entry.resultKey);
    }
    expect(entries).toHaveLength(300);

    // Third run: the snapshot (300 results, about 600 listed objects) cuts 6 shards at its keys,
    // and its entries are reused across the shards' ranges.
    await seed("cam-g", 20, 10);
    const third = await run(100);
    expect(third.execution.status).toBe("SUCCEEDED");
    expect(mapRuns(third, "PlanShards")[0]?.totalItems).toBe(6);
    expect(third.plan?.counts).toEqual({ listed: 360, pending: 20, skipped: 0, alreadyDone: 340 });
    expect(third.summary?.reconciled).toBe(true);
    expect(callsAccepted()).toBe(360);
    expect((await snapshotStats()).entries).toBe(340);
    const skipped = await readSkippedList({
      s3: stack.s3,
      bucket: stack.resultsBucket,
      resultsPrefix: RESULTS_PREFIX,
      runId: third.plan?.runId as string,
    });
    expect(skipped).toEqual([]);
  });

  it("keeps the single Plan when the backlog fits one shard", async () => {
    await seed("cam-a", 20, 1);
    const result = await run(100);
    expect(result.execution.status).toBe("SUCCEEDED");
    expect(mapRuns(result, "PlanShards")).toHaveLength(0);
    expect(result.plan?.counts.pending).toBe(20);
  });

  it("retries a shard whose Lambda glitches, and fails the run without starting the model when a shard keeps failing", async () => {
    for (const [i, folder] of FOLDERS.slice(0, 3).entries()) await seed(folder, 30, i + 1);
    const { WORKFLOW_HANDLERS } = await import("../../harness/local/local-job.ts");
    const real = WORKFLOW_HANDLERS.planShard as LocalHandler;
    const failing = (times: number): LocalHandler => {
      let failures = 0;
      return async (event, context) => {
        const shard = (event as { shard: { index: number } }).shard;
        if (shard.index === 1 && failures < times) {
          failures += 1;
          const error = new Error("Rate exceeded");
          error.name = "Lambda.TooManyRequestsException";
          throw error;
        }
        return real(event, context);
      };
    };

    const glitch = await run(50, { planShard: failing(2) });
    expect(glitch.execution.status).toBe("SUCCEEDED");
    expect(glitch.plan?.counts.pending).toBe(90);
    expect(callsAccepted()).toBe(90);

    await seed("cam-d", 10, 4);
    const broken = await run(50, { planShard: failing(Number.POSITIVE_INFINITY) });
    expect(broken.execution.status).toBe("FAILED");
    expect(broken.execution.error).toBe("States.ExceedToleratedFailureThreshold");
    expect(mapRuns(broken, "ProcessImages")).toHaveLength(0);
    expect(callsAccepted()).toBe(90);
    // The model was stopped after the first run, and never started again.
    const model = stack.emulator.admin
      .state()
      .models.find((m) => m.arn === stack.projectVersionArn);
    expect(["STOPPED", "STOPPING"]).toContain(model?.status);
    expect(
      broken.execution.events.some((e) => "state" in e && e.state === "EnsureModelRunning"),
    ).toBe(false);
  });

  it("checks the shards as their own role: without its images listing grant, a shard is denied", async () => {
    for (const [i, folder] of FOLDERS.slice(0, 2).entries()) await seed(folder, 60, i + 1);
    const result = await runLocalJob({
      stack,
      waitMs: 20,
      input: { planShardObjects: 50 },
      adjustPolicies: (packaged) => {
        const narrowed = structuredClone(packaged);
        for (const entry of narrowed.planShard) {
          entry.policy.Statement = entry.policy.Statement.filter(
            (statement) => !JSON.stringify(statement.Resource).includes(stack.imagesBucket),
          );
        }
        return narrowed;
      },
    });
    expect(result.execution.status).toBe("FAILED");
    const denied = result.execution.events.find(
      (e) => e.type === "StateFailed" && e.state === "PlanShard",
    );
    expect(denied && "cause" in denied ? denied.cause : "").toMatch(/s3:ListBucket/);
    expect(callsAccepted()).toBe(0);
  });
});
