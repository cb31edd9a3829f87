import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import pMap from "p-map";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type EmbeddedS3,
  localS3ClientConfig,
  startS3Server,
} from "../../harness/local/s3-server.ts";
import { IMAGE_LIMITS, listBacklog } from "../../src/backlog.ts";
import { readJsonLines } from "../../src/json-lines.ts";
import { type LearnedTps, readLearnedTps, writeLearnedTps } from "../../src/learned-tps.ts";
import {
  type LedgerEntry,
  LedgerSnapshotWriter,
  type LedgerStats,
  ledgerEntries,
} from "../../src/ledger-index.ts";
import { readManifest, readSkippedList, writeJsonl } from "../../src/manifest.ts";
import { planRun } from "../../src/plan.ts";
import { previewPlan } from "../../src/plan-preview.ts";
import { bucketRegion } from "../../src/region-check.ts";
import { resultKeyFor, runFiles, runFolder } from "../../src/result-keys.ts";
import { successRecord, writeImageResult } from "../../src/results.ts";
import { parseRunInput, type RunInput } from "../../src/run-input.ts";
import { type Logger, silentLogger, systemClock } from "../../src/runtime.ts";
import type { Plan } from "../../src/shapes.ts";

const BUCKET = "images";
/** Images at the root, results in the same bucket. */
const ROOTED = "rooted";
const ARN = "arn:aws:rekognition:us-east-1:123456789012:project/weekly/version/v1/1700000000000";
const BULK = 1_050;

const ODD_KEYS = [
  "photos/with space/a b.jpg",
  "photos/plus+sign/1+1.png",
  "photos/café/ü.jpg",
  "photos/a/b/c/d/e/f/g/h/deep.JPEG",
  "photos/percent%20literal.jpg",
  "photos/..dots/x.jpeg",
];

let dataDir: string;
let server: EmbeddedS3;
let s3: S3Client;

async function put(key: string, body: string | Buffer) {
  // A Buffer, so even an empty body goes with its Content-Length.
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: Buffer.from(body) }));
}

/** Writes the job's own result for the image as it is now (its current ETag). */
async function writeResultFor(input: RunInput, key: string, bucket = BUCKET) {
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  const image = {
    key,
    size: head.ContentLength ?? 0,
    etag: head.ETag ?? "",
    lastModified: (head.LastModified ?? new Date(0)).toISOString(),
  };
  const context = {
    runId: "earlier-run",
    projectVersionArn: ARN,
    imagesBucket: bucket,
    resultsBucket: bucket,
    resultsPrefix: input.resultsPrefix,
    imageMode: "S3Object" as const,
    perWorkerTps: 1,
    concurrency: 1,
  };
  const record = successRecord({
    context,
    image,
    attempts: 1,
    analyzedAt: "2026-01-01T00:00:00Z",
    labels: [],
  });
  await writeImageResult(s3, context, record);
}

function inputFor(overrides: Record<string, unknown> = {}): RunInput {
  return parseRunInput(
    {
      imagesBucket: BUCKET,
      imagesPrefix: "photos/",
      resultsPrefix: "results-area/",
      projectVersionArn: ARN,
      ...overrides,
    },
    {},
  );
}

const bulkKey = (i: number) => `photos/bulk/img-${String(i).padStart(4, "0")}.jpg`;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "backlog-test-"));
  server = await startS3Server({ directory: dataDir, buckets: [BUCKET, ROOTED] });
  s3 = new S3Client(localS3ClientConfig(server.endpoint));
  const bulk = Array.from({ length: BULK }, (_, i) => bulkKey(i));
  await pMap(bulk, (key) => put(key, "jpeg-ish"), { concurrency: 16 });
  for (const key of ODD_KEYS) await put(key, "image bytes");
  await put("photos/notes.txt", "not an image");
  await put("photos/no-extension", "data");
  await put("photos/folder/", "");
  await put("photos/empty.jpg", "");
  await put("photos/at-limit.png", Buffer.alloc(IMAGE_LIMITS.s3ObjectMaxBytes, 1));
  await put("photos/over-limit.png", Buffer.alloc(IMAGE_LIMITS.s3ObjectMaxBytes + 1, 1));
  await put("elsewhere/outside.jpg", "not under the prefix");
}, 300_000);

afterAll(async () => {
  s3?.destroy();
  await server?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe("listBacklog against a real S3 server", () => {
  it("lists past 1,000 keys, keeps odd keys intact and skips bad objects with reasons", async () => {
    const backlog = await listBacklog({ s3, input: inputFor() });
    const pendingKeys = backlog.pending.map((image) => image.key);

    expect(pendingKeys).toHaveLength(BULK + ODD_KEYS.length + 1);
    expect(pendingKeys).toEqual(expect.arrayContaining([...ODD_KEYS, "photos/at-limit.png"]));
    expect(pendingKeys).toContain(bulkKey(0));
    expect(pendingKeys).toContain(bulkKey(BULK - 1));
    expect(new Set(pendingKeys).size).toBe(pendingKeys.length);
    expect(pendingKeys).not.toContain("elsewhere/outside.jpg");

    const odd = backlog.pending.find((image) => image.key === "photos/café/ü.jpg");
    expect(odd?.size).toBe(Buffer.byteLength("image bytes"));
    expect(odd?.etag).toMatch(/^"?[0-9a-f]{32}"?$/);
    expect(Number.isNaN(Date.parse(odd?.lastModified ?? ""))).toBe(false);

    const reasons = Object.fromEntries(backlog.skipped.map((s) => [s.key, s.reason]));
    expect(reasons).toEqual({
      "photos/notes.txt": "unsupported-extension",
      "photos/no-extension": "unsupported-extension",
      "photos/folder/": "folder-marker",
      "photos/empty.jpg": "empty-object",
      "photos/over-limit.png": "too-large",
    });
    expect(backlog.skipped.find((s) => s.key === "photos/over-limit.png")?.detail).toContain(
      "15.0 MB S3Object limit",
    );
    expect(backlog.skippedByReason).toEqual({
      "unsupported-extension": 2,
      "folder-marker": 1,
      "empty-object": 1,
      "too-large": 1,
    });
    const { counts } = backlog;
    expect(counts).toEqual({
      listed: BULK + ODD_KEYS.length + 1 + 5,
      pending: BULK + ODD_KEYS.length + 1,
      skipped: 5,
      alreadyDone: 0,
    });
    expect(counts.listed).toBe(counts.pending + counts.skipped + counts.alreadyDone);
  });

  it("in Bytes mode skips an image at the 15 MB limit as over the 4 MB limit", async () => {
    const backlog = await listBacklog({ s3, input: inputFor({ imageMode: "Bytes" }) });
    const atLimit = backlog.skipped.find((s) => s.key === "photos/at-limit.png");
    expect(atLimit?.reason).toBe("too-large");
    expect(atLimit?.detail).toContain("4.0 MB Bytes limit");
  });

  it("writes the manifest and skipped list and reads them back identical", async () => {
    const input = inputFor();
    const backlog = await listBacklog({ s3, input });
    const plan = await planRun({
      s3,
      input,
      executionId: "local:test",
      runId: "manifest-run",
      clock: systemClock,
      logger: silentLogger,
    });
    const location = {
      s3,
      bucket: BUCKET,
      resultsPrefix: input.resultsPrefix,
      runId: "manifest-run",
    };
    expect(await readManifest(location)).toEqual(backlog.pending);
    expect(await readSkippedList(location)).toEqual(backlog.skipped);

    expect(plan.counts).toEqual(backlog.counts);
    expect(plan.skippedByReason).toEqual(backlog.skippedByReason);
    expect(plan.nothingToDo).toBe(false);
    expect(plan.manifest).toEqual({
      bucket: BUCKET,
      key: runFiles.manifest("results-area/", "manifest-run"),
    });
    expect(plan.mapResults.prefix).toBe("results-area/runs/manifest-run/map");
    expect(plan.sizing.tpsSource).toBe("default");
    expect(plan.sizing.workers * plan.sizing.perWorkerTps).toBeCloseTo(
      plan.sizing.provisionedTps,
      9,
    );
    expect(plan.context).toMatchObject({
      runId: "manifest-run",
      projectVersionArn: ARN,
      imagesBucket: BUCKET,
      resultsBucket: BUCKET,
      resultsPrefix: "results-area/",
      perWorkerTps: plan.sizing.perWorkerTps,
      concurrency: plan.sizing.concurrency,
    });

    const stored = await s3.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: runFiles.plan("results-area/", "manifest-run") }),
    );
    const storedPlan = JSON.parse((await stored.Body?.transformToString()) ?? "") as Plan;
    expect(storedPlan).toEqual(plan);
  });

  it("previews, for the CLI's plan, exactly the counts and sizing the Plan step plans, writing nothing", async () => {
    const input = inputFor();
    const runId = "2026-01-01T00-00-00Z-abcd";
    const preview = await previewPlan({ s3, input, logger: silentLogger });
    const listedBefore = await s3.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: runFolder(input.resultsPrefix, runId) }),
    );
    expect(listedBefore.KeyCount ?? 0).toBe(0);
    const plan = await planRun({
      s3,
      input,
      executionId: "local:test",
      runId,
      clock: systemClock,
      logger: silentLogger,
    });
    expect(preview.assumedCount).toBe(false);
    expect(preview.counts).toEqual(plan.counts);
    expect(preview.sizing).toEqual(plan.sizing);
    expect(preview.cost).toEqual(plan.cost);
  });

  it("streams a JSONL object larger than one multipart part", async () => {
    const key = "results-area/big.jsonl";
    const records = Array.from({ length: 40_000 }, (_, i) => ({ i, pad: "x".repeat(150) }));
    const written = await writeJsonl({ s3, bucket: BUCKET, key, records });
    expect(written.lines).toBe(records.length);
    expect(written.bytes).toBeGreaterThan(5 * 1024 * 1024);
    let count = 0;
    for await (const record of readJsonLines<{ i: number; pad: string }>({
      s3,
      bucket: BUCKET,
      key,
    })) {
      expect(record.i).toBe(count);
      count++;
    }
    expect(count).toBe(records.length);
  });

  it("on a re-run, pends only new images and images whose version changed since their result", async () => {
    const input = inputFor({ imagesPrefix: "rerun/" });
    const keys = ["rerun/one.jpg", "rerun/two.png", "rerun/três +.jpg"];
    for (const key of keys) await put(key, "v1");

    const first = await listBacklog({ s3, input });
    expect(first.pending.map((i) => i.key).sort()).toEqual([...keys].sort());

    for (const key of keys) await writeResultFor(input, key);
    await put("rerun/new.jpg", "v1");

    const second = await listBacklog({ s3, input });
    expect(second.pending.map((i) => i.key)).toEqual(["rerun/new.jpg"]);
    expect(second.counts).toEqual({ listed: 4, pending: 1, skipped: 0, alreadyDone: 3 });

    // Replaced with new bytes, and then a result written for the OLD bytes after
    // the replacement (a call that started before it): a later write, but
    // another version. No wait for the clock: times are not compared.
    const analysedBefore = await s3.send(
      new HeadObjectCommand({ Bucket: BUCKET, Key: "rerun/two.png" }),
    );
    await put("rerun/two.png", "v2");
    await put(
      resultKeyFor(input.resultsPrefix, "rerun/two.png"),
      JSON.stringify({
        schemaVersion: 2,
        status: "succeeded",
        image: {
          bucket: BUCKET,
          key: "rerun/two.png",
          etag: analysedBefore.ETag,
          size: 2,
          lastModified: "2026-01-01T00:00:00.000Z",
        },
        projectVersionArn: ARN,
        labels: [],
        analyzedAt: "2026-01-01T00:00:00.000Z",
        runId: "slow-run",
        attempts: 1,
      }),
    );

    const third = await listBacklog({ s3, input });
    expect(third.pending.map((i) => i.key).sort()).toEqual(["rerun/new.jpg", "rerun/two.png"]);
    expect(third.counts).toEqual({ listed: 4, pending: 2, skipped: 0, alreadyDone: 2 });
    expect(third.pendingByReason).toEqual({
      new: 1,
      replaced: 1,
      unreadableResult: 0,
      unreadableImage: 0,
    });
  });

  it("plans nothing to do when every image has a current result", async () => {
    const input = inputFor({ imagesPrefix: "done/" });
    await put("done/a.jpg", "v1");
    await writeResultFor(input, "done/a.jpg");
    const plan = await planRun({
      s3,
      input,
      executionId: "local:test",
      runId: "nothing-run",
      clock: systemClock,
      logger: silentLogger,
    });
    expect(plan.nothingToDo).toBe(true);
    expect(plan.counts).toEqual({ listed: 1, pending: 0, skipped: 0, alreadyDone: 1 });
    expect(plan.cost.chosen.cost).toBe(0);
    const location = {
      s3,
      bucket: BUCKET,
      resultsPrefix: input.resultsPrefix,
      runId: "nothing-run",
    };
    expect(await readManifest(location)).toEqual([]);
  });

  it("plans images at the bucket root beside the job's own folders, which it never counts", async () => {
    const input = parseRunInput(
      { imagesBucket: ROOTED, imagesPrefix: "", resultsPrefix: "", projectVersionArn: ARN },
      {},
    );
    const images = ["a.jpg", "results0.jpg", "runsheet.png", "zz/b.png"];
    for (const key of images) {
      await s3.send(new PutObjectCommand({ Bucket: ROOTED, Key: key, Body: Buffer.from("img") }));
    }
    const plan = (runId: string) =>
      planRun({
        s3,
        input,
        executionId: "local:test",
        runId,
        clock: systemClock,
        logger: silentLogger,
      });

    const first = await plan("root-1");
    expect(first.counts).toEqual({ listed: 4, pending: 4, skipped: 0, alreadyDone: 0 });
    // The first run wrote runs/root-1/...; results arrive under results/; the lease under state/.
    for (const key of images) await writeResultFor(input, key, ROOTED);
    await s3.send(
      new PutObjectCommand({ Bucket: ROOTED, Key: "state/lease.json", Body: Buffer.from("{}") }),
    );
    const second = await plan("root-2");
    expect(second.counts).toEqual({ listed: 4, pending: 0, skipped: 0, alreadyDone: 4 });
  });

  it("refuses a model in another Region before listing anything; the local S3 answers us-east-1", async () => {
    expect(await bucketRegion(s3, BUCKET)).toBe("us-east-1");
    const elsewhere = ARN.replace(":us-east-1:", ":eu-west-1:");
    const error = await planRun({
      s3,
      input: inputFor({ projectVersionArn: elsewhere }),
      executionId: "local:test",
      runId: "region-run",
      clock: systemClock,
      logger: silentLogger,
    }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.name).toBe("InvalidRunInput");
    expect(error?.message).toContain(
      "projectVersionArn is a model in eu-west-1, but the job runs in us-east-1",
    );
    const listed = await s3.send(
      new ListObjectsV2Command({
        Bucket: BUCKET,
        Prefix: runFolder("results-area/", "region-run"),
      }),
    );
    expect(listed.KeyCount ?? 0).toBe(0);
  });

  it("plans a corrupt result's image as pending and counts it apart", async () => {
    const input = inputFor({ imagesPrefix: "corrupt/", resultsPrefix: "corrupt-results/" });
    const bodies: Record<string, string | Buffer> = {
      "corrupt/text.jpg": "not json {",
      "corrupt/shape.jpg": JSON.stringify({ hello: "world" }),
      "corrupt/empty.jpg": "",
      "corrupt/huge.jpg": Buffer.alloc(2 * 1024 * 1024, 32),
    };
    for (const key of Object.keys(bodies)) {
      await put(key, "v1");
      await put(resultKeyFor(input.resultsPrefix, key), bodies[key] as string | Buffer);
    }
    await put("corrupt/good.jpg", "v1");
    await writeResultFor(input, "corrupt/good.jpg");
    const plan = await planRun({
      s3,
      input,
      executionId: "local:test",
      runId: "corrupt-run",
      clock: systemClock,
      logger: silentLogger,
    });
    expect(plan.counts).toEqual({ listed: 5, pending: 4, skipped: 0, alreadyDone: 1 });
    expect(plan.pendingByReason).toEqual({
      new: 0,
      replaced: 0,
      unreadableResult: 4,
      unreadableImage: 0,
    });
  });

  it("keeps a ledger snapshot so that the next plan reads only new or changed results", async () => {
    const input = inputFor({ imagesPrefix: "snap/", resultsPrefix: "snap-results/" });
    const keys = ["snap/a.jpg", "snap/b.jpg", "snap/c.jpg"];
    for (const key of keys) {
      await put(key, "v1");
      await writeResultFor(input, key);
    }
    const location = {
      s3,
      bucket: BUCKET,
      resultsPrefix: input.resultsPrefix,
      logger: silentLogger,
    };
    // One pass over the ledger, writing the next snapshot as a Plan does.
    const pass = async () => {
      const stats: LedgerStats = { read: 0, reused: 0 };
      const snapshot = new LedgerSnapshotWriter(location);
      const entries: LedgerEntry[] = [];
      for await (const entry of ledgerEntries({ ...location, stats, onEntry: snapshot.write })) {
        entries.push(entry);
      }
      await snapshot.close();
      return { stats, entries };
    };
    const first = await pass();
    expect(first.stats).toEqual({ read: 3, reused: 0 });

    await put("snap/b.jpg", "v2");
    await writeResultFor(input, "snap/b.jpg");
    const second = await pass();
    expect(second.stats).toEqual({ read: 1, reused: 2 });
    expect(second.entries.map((e) => e.record?.status)).toEqual([
      "succeeded",
      "succeeded",
      "succeeded",
    ]);
    expect((await listBacklog({ s3, input })).counts.alreadyDone).toBe(3);

    // A snapshot that is not gzip JSON lines only means reading everything.
    await put(`${input.resultsPrefix}state/ledger-index.jsonl.gz`, "garbage");
    const stats: LedgerStats = { read: 0, reused: 0 };
    for await (const _ of ledgerEntries({ ...location, stats })) {
      // counted in stats
    }
    expect(stats).toEqual({ read: 3, reused: 0 });
  });

  it("fails with ResourceNotFound on a missing images bucket and leaves no run files", async () => {
    const input = inputFor({ imagesBucket: "no-such-bucket", resultsBucket: BUCKET });
    await expect(
      planRun({
        s3,
        input,
        executionId: "local:test",
        runId: "missing-bucket-run",
        clock: systemClock,
        logger: silentLogger,
      }),
    ).rejects.toMatchObject({ name: "ResourceNotFound" });
    const location = {
      s3,
      bucket: BUCKET,
      resultsPrefix: input.resultsPrefix,
      runId: "missing-bucket-run",
    };
    await expect(readManifest(location)).rejects.toMatchObject({ name: "NoSuchKey" });
  });

  it("sizes with the learned TPS of the last run, and ignores a corrupt file with a warning", async () => {
    const input = inputFor({ imagesPrefix: "done/" });
    const learned: LearnedTps = {
      tpsPerUnit: 7.5,
      measuredAt: "2026-01-05T06:00:00.000Z",
      runId: "earlier",
      projectVersionArn: ARN,
      provisionedTps: 10,
      accepted: 1200,
    };
    await writeLearnedTps({ s3, bucket: BUCKET, resultsPrefix: input.resultsPrefix, learned });
    const plan = await planRun({
      s3,
      input,
      executionId: "local:test",
      clock: systemClock,
      logger: silentLogger,
    });
    expect(plan.sizing.tpsPerUnit).toBe(7.5);
    expect(plan.sizing.tpsSource).toBe("learned");
    expect(plan.runId).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z-[0-9a-f]{4}$/);

    const fixed = await planRun({
      s3,
      input: { ...input, tpsPerUnit: 3 },
      executionId: "local:test",
      clock: systemClock,
      logger: silentLogger,
    });
    expect(fixed.sizing.tpsSource).toBe("input");

    await put("results-area/state/learned-tps.json", "{ not json");
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (message) => warnings.push(message) };
    expect(
      await readLearnedTps({ s3, bucket: BUCKET, resultsPrefix: input.resultsPrefix, logger }),
    ).toBeUndefined();
    expect(warnings).toEqual(["ignoring a corrupt learned TPS file"]);
  });
});
