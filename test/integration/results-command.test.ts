import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startLocalStack } from "../../harness/local/local-stack.ts";
import { operatorHarness } from "../../harness/local/operator-harness.ts";
import { runCli } from "../../src/cli/main.ts";
import { listPartKeys, readRunLines } from "../../src/read-result-parts.ts";
import {
  type FaultStack,
  RESULTS_PREFIX,
  runToCleanFinish,
  seedImages,
} from "../support/fault-harness.ts";

/**
 * The run's result parts end to end: the real workflow on the local stack
 * (IAM enforced from the packaged template) writes them, a batch retried
 * after stopping early leaves no image twice, and `results --local` reads them
 * back with the same figures as the report.
 */

let dataDirectory: string | undefined;
let fixture: FaultStack | undefined;

afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
  if (dataDirectory) await rm(dataDirectory, { recursive: true, force: true });
  dataDirectory = undefined;
});

/** A fast local stack on a folder the test keeps, so `--local` can open it afterwards. */
async function startStack(emulator: { tpsPerUnit: number; latencyMs: number }) {
  dataDirectory = await mkdtemp(join(tmpdir(), "results-command-"));
  const stack = await startLocalStack({
    dataDirectory,
    emulator: { startDelayMs: 300, stopDelayMs: 200, unitReplaceDelayMs: 400, ...emulator },
  });
  let closed = false;
  fixture = {
    stack,
    arn: stack.projectVersionArn,
    async close() {
      if (closed) return;
      closed = true;
      await stack.close();
    },
  };
  return fixture;
}

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    args,
    {
      stdout: { write: (text: string) => out.push(text) },
      stderr: { write: (text: string) => err.push(text) },
      env: process.env,
    },
    { localHarness: operatorHarness },
  );
  return { code, stdout: out.join(""), stderr: err.join("") };
}

describe("the run's result parts", () => {
  it("a batch retried after stopping early leaves every image once; results --local matches the report", async () => {
    // 24 images at 5 TPS take about 5 s; the abort signal fires 1 s into each
    // attempt (timeout 31 s minus the 30 s grace), so the batch is retried
    // several times, each attempt rewriting the part of the one before.
    const current = await startStack({ tpsPerUnit: 5, latencyMs: 30 });
    await seedImages(current.stack, 24, { seed: 7 });
    const { result, report } = await runToCleanFinish(current, {
      timeouts: { processBatch: 31 },
      input: { lambdaTimeoutSeconds: 900, maxWorkers: 1, tpsPerUnit: 5 },
    });
    const incomplete = result.execution.events.filter(
      (event) => event.type === "StateFailed" && event.error === "BatchIncomplete",
    );
    expect(incomplete.length).toBeGreaterThanOrEqual(1);

    const runId = result.plan?.runId as string;
    const summary = result.summary;
    expect(summary?.reconciled).toBe(true);
    const location = {
      s3: current.stack.s3,
      bucket: current.stack.resultsBucket,
      resultsPrefix: RESULTS_PREFIX,
    };
    const keys: string[] = [];
    for await (const line of readRunLines(location, runId)) keys.push(line.key);
    const finished = report.succeeded + report.failed;
    expect(keys).toHaveLength(finished);
    expect(new Set(keys).size).toBe(keys.length);
    // One part per batch, rewritten by each attempt of it: as many parts as
    // the plan made batches, however many attempts there were.
    const batches = Math.ceil(24 / (result.plan?.sizing.batchSize ?? 24));
    expect(await listPartKeys(location, runId)).toHaveLength(batches);
    expect(summary?.resultParts).toMatchObject({ parts: batches, lines: finished });
    expect(summary?.checks.find((c) => c.name === "result parts")).toMatchObject({ ok: true });

    // The command opens the same data folder, so the stack must let go of it first.
    await current.close();
    const red = summary?.labels.find((entry) => entry.label === "red")?.images ?? 0;
    expect(red).toBeGreaterThan(0);
    const csv = await cli([
      "results",
      "--local",
      "--data",
      dataDirectory as string,
      "--label",
      "red",
      "--format",
      "csv",
    ]);
    expect(csv.code).toBe(0);
    const rows = csv.stdout.trimEnd().split("\n");
    expect(rows[0]).toBe("run_id,key,status,labels,error,analyzed_at,model_version,etag");
    expect(rows.slice(1)).toHaveLength(red);
    for (const row of rows.slice(1)) {
      expect(row).toMatch(new RegExp(`^${runId},[^,]+,succeeded,([^,]*;)?red:`));
    }
    expect(csv.stderr).toContain(`${red} of ${finished} images from run ${runId}`);

    const failed = await cli([
      "results",
      "--local",
      "--data",
      dataDirectory as string,
      "--run",
      runId,
      "--status",
      "failed",
      "--format",
      "jsonl",
    ]);
    expect(failed.code).toBe(0);
    const lines = failed.stdout
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line));
    expect(lines).toHaveLength(report.failed);
    for (const line of lines) expect(line).toMatchObject({ run_id: runId, status: "failed" });
  });

  it("says which run it cannot find, and exits 1", async () => {
    const current = await startStack({ tpsPerUnit: 50, latencyMs: 20 });
    await current.close();
    const missing = await cli([
      "results",
      "--local",
      "--data",
      dataDirectory as string,
      "--run",
      "no-such-run",
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no run no-such-run under s3:\/\/.*\/runs\//);
    const none = await cli(["results", "--local", "--data", dataDirectory as string]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no runs under s3:\/\//);
  });
});
