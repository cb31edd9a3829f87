import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type EmbeddedS3,
  localS3ClientConfig,
  startS3Server,
} from "../../harness/local/s3-server.ts";
import { readLearnedTps } from "../../src/learned-tps.ts";
import type { RunSummary } from "../../src/report/run-summary.ts";
import { type ReportState, writeRunReport } from "../../src/report/summary.ts";
import { runFiles, stateFiles } from "../../src/result-keys.ts";
import { writeResultPart } from "../../src/result-parts.ts";
import { successRecord } from "../../src/results.ts";
import { silentLogger } from "../../src/runtime.ts";
import type { BatchOutput, ImageRef, Plan, SkippedObject } from "../../src/shapes.ts";
import { FakeClock } from "../support/fake-clock.ts";
import {
  iso,
  makeBatch,
  makePlan,
  RESULTS_BUCKET,
  steadyTimeline,
  T0,
} from "../support/report-fixtures.ts";

let dataDir: string;
let server: EmbeddedS3;
let s3: S3Client;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "report-s3-"));
  server = await startS3Server({ directory: dataDir, buckets: [RESULTS_BUCKET] });
  s3 = new S3Client(localS3ClientConfig(server.endpoint));
});

afterAll(async () => {
  s3?.destroy();
  await server?.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** A plan whose run files live under their own prefix, so tests do not share state. */
function planUnder(prefix: string, counts: Plan["counts"]): Plan {
  const plan = makePlan({ counts });
  const runId = plan.runId;
  return {
    ...plan,
    context: { ...plan.context, resultsPrefix: prefix },
    manifest: { bucket: RESULTS_BUCKET, key: runFiles.manifest(prefix, runId) },
    skippedList: { bucket: RESULTS_BUCKET, key: runFiles.skipped(prefix, runId) },
    mapResults: { bucket: RESULTS_BUCKET, prefix: runFiles.mapResults(prefix, runId) },
  };
}

/** The result part a batch of `count` analysed images writes. */
async function writePart(plan: Plan, count: number) {
  const images: ImageRef[] = Array.from({ length: count }, (_, i) => ({
    key: `incoming/${i}.jpg`,
    size: 1,
    etag: `"e${i}"`,
    lastModified: iso(T0),
  }));
  await writeResultPart({
    s3,
    context: plan.context,
    firstImageKey: images[0]?.key ?? "",
    records: images.map((image) =>
      successRecord({
        context: plan.context,
        image,
        attempts: 1,
        analyzedAt: iso(T0 + 300),
        labels: [],
      }),
    ),
  });
}

async function put(key: string, body: string) {
  // An empty body without its length makes the SDK warn of a stream of unknown length.
  await s3.send(
    new PutObjectCommand({
      Bucket: RESULTS_BUCKET,
      Key: key,
      Body: body,
      ContentLength: Buffer.byteLength(body),
    }),
  );
}

async function getText(key: string): Promise<{ text: string; contentType?: string }> {
  const response = await s3.send(new GetObjectCommand({ Bucket: RESULTS_BUCKET, Key: key }));
  return {
    text: (await response.Body?.transformToString("utf-8")) ?? "",
    ...(response.ContentType ? { contentType: response.ContentType } : {}),
  };
}

async function writeSkipped(plan: Plan, skipped: SkippedObject[]) {
  await put(plan.skippedList.key, skipped.map((s) => `${JSON.stringify(s)}\n`).join(""));
}

const imageRef = (key: string): ImageRef => ({
  key,
  size: 1000,
  etag: '"e"',
  lastModified: iso(T0 - 3600),
});

/**
 * Writes what the Distributed Map's ResultWriter writes (Transformation NONE):
 * `<prefix>/<mapRunId>/manifest.json` and one JSON array per status, child
 * `Input`/`Output` as JSON strings. Returns the manifest's location.
 */
async function writeResultWriterOutput(
  plan: Plan,
  children: {
    succeeded: { name: string; output: BatchOutput }[];
    failed: { name: string; error: string; cause: string; keys: string[] }[];
  },
) {
  const mapRunId = "5a9c1e2f-0000-4000-8000-000000000001";
  const folder = `${plan.mapResults.prefix}/${mapRunId}`;
  const mapRunArn = `arn:aws:states:us-east-1:123456789012:mapRun:weekly-batch/ProcessImages:${mapRunId}`;
  const child = (name: string, keys: string[]) => ({
    ExecutionArn: `arn:aws:states:us-east-1:123456789012:execution:weekly-batch/ProcessImages:${name}`,
    Input: JSON.stringify({ BatchInput: { context: plan.context }, Items: keys.map(imageRef) }),
    InputDetails: { Included: true },
    Name: name,
    StartDate: iso(T0 + 300),
    StateMachineArn:
      "arn:aws:states:us-east-1:123456789012:stateMachine:weekly-batch/ProcessImages",
    StopDate: iso(T0 + 330),
  });
  const succeeded = children.succeeded.map(({ name, output }) => ({
    ...child(name, []),
    Output: JSON.stringify(output),
    OutputDetails: { Included: true },
    Status: "SUCCEEDED",
  }));
  const failed = children.failed.map(({ name, error, cause, keys }) => ({
    ...child(name, keys),
    Error: error,
    Cause: cause,
    Status: "FAILED",
  }));
  const resultFiles: Record<"SUCCEEDED" | "FAILED" | "PENDING", { Key: string; Size: number }[]> = {
    SUCCEEDED: [],
    FAILED: [],
    PENDING: [],
  };
  for (const [status, rows] of [
    ["SUCCEEDED", succeeded],
    ["FAILED", failed],
  ] as const) {
    if (rows.length === 0) continue;
    const key = `${folder}/${status}_0.json`;
    const body = JSON.stringify(rows);
    await put(key, body);
    resultFiles[status].push({ Key: key, Size: Buffer.byteLength(body) });
  }
  const manifestKey = `${folder}/manifest.json`;
  await put(
    manifestKey,
    JSON.stringify({
      DestinationBucket: RESULTS_BUCKET,
      MapRunArn: mapRunArn,
      ResultFiles: resultFiles,
    }),
  );
  return { Bucket: RESULTS_BUCKET, Key: manifestKey };
}

const lambdaCause = (message: string) =>
  JSON.stringify({
    errorType: "RetriesExhausted",
    errorMessage: message,
    trace: ["at x (y.js:1)"],
  });

const ownedModelState = (plan: Plan): Omit<ReportState, "map"> => ({
  plan,
  model: {
    action: "started",
    owned: true,
    status: "STARTING",
    startRequestedAt: iso(T0 + 10),
    units: 2,
  },
  check: { status: "RUNNING", checkedAt: iso(T0 + 250) },
  stop: { stopped: true, reason: "completed", stopRequestedAt: iso(T0 + 340) },
});

describe("writeRunReport against a real S3 server", () => {
  it("reads the ResultWriter output, writes summary.json, report.html and the learned TPS", async () => {
    const prefix = "ok/";
    const plan = planUnder(prefix, { listed: 12, pending: 9, skipped: 1, alreadyDone: 2 });
    await writeSkipped(plan, [
      {
        key: "incoming/<img src=x onerror=alert(1)>.txt",
        size: 3,
        reason: "unsupported-extension",
        detail: ".txt",
      },
    ]);
    const details = await writeResultWriterOutput(plan, {
      succeeded: [
        {
          name: "batch-0",
          output: makeBatch({
            items: 4,
            labels: { red: 4 },
            // The model refused calls in each of these 8 seconds: a measurement.
            timeline: steadyTimeline(T0 + 300, 8, 12, 1),
          }),
        },
        {
          name: "batch-1",
          output: makeBatch({
            items: 2,
            failures: [
              { key: "incoming/broken.jpg", error: "InvalidImageFormat", message: "not a JPEG" },
            ],
            labels: { blue: 1 },
            timeline: steadyTimeline(T0 + 300, 8, 2),
          }),
        },
      ],
      failed: [
        {
          name: "batch-2",
          error: "RetriesExhausted",
          cause: lambdaCause("InternalServerError kept coming back"),
          keys: ["incoming/a.jpg", "incoming/b.jpg", "incoming/c.jpg"],
        },
      ],
    });

    const result = await writeRunReport({
      s3,
      state: { ...ownedModelState(plan), map: { ResultWriterDetails: details } },
      clock: new FakeClock((T0 + 350) * 1000),
      logger: silentLogger,
    });

    expect(result).toMatchObject({
      bucket: RESULTS_BUCKET,
      summaryKey: runFiles.summary(prefix, plan.runId),
      reportKey: runFiles.report(prefix, plan.runId),
      outcome: "incomplete",
      reconciled: false,
      counts: { pending: 9, succeeded: 5, failed: 1, unaccounted: 3, failedBatches: 1 },
      learnedTps: { tpsPerUnit: 7, measured: true },
    });
    // Small enough for Step Functions state.
    expect(JSON.stringify(result).length).toBeLessThan(2000);

    const summaryObject = await getText(result.summaryKey);
    expect(summaryObject.contentType).toContain("application/json");
    const summary = JSON.parse(summaryObject.text) as RunSummary;
    expect(summary.mapRunArn).toContain("mapRun:weekly-batch/ProcessImages");
    expect(summary.failures.batches).toEqual([
      {
        name: "batch-2",
        status: "FAILED",
        error: "RetriesExhausted",
        cause: "InternalServerError kept coming back",
        items: 3,
        keys: ["incoming/a.jpg", "incoming/b.jpg", "incoming/c.jpg"],
      },
    ]);
    expect(summary.discrepancies[0]).toContain("3 items were in 1 batch that did not succeed");
    expect(summary.labels).toEqual([
      { label: "red", images: 4 },
      { label: "blue", images: 1 },
    ]);
    expect(summary.billing.inferenceHours).toBeCloseTo((2 * 330) / 3600, 10);
    expect(summary.throughput.throttled).toBe(8);

    const report = await getText(result.reportKey);
    expect(report.contentType).toContain("text/html");
    expect(report.text).toContain("&lt;img src=x onerror=alert(1)&gt;.txt");
    expect(report.text).not.toMatch(/<img/i);

    const learned = JSON.parse((await getText(stateFiles.learnedTps(prefix))).text);
    expect(learned).toMatchObject({
      tpsPerUnit: 7,
      measured: true,
      sampleSeconds: 8,
      units: 2,
      provisionedTps: 10,
      accepted: 112,
      throttled: 8,
      projectVersionArn: plan.context.projectVersionArn,
      runId: plan.runId,
    });
  });

  it("finds the map's results by listing on the failure path, and keeps a measurement over a lower bound", async () => {
    const prefix = "failed-map/";
    const plan = planUnder(prefix, { listed: 6, pending: 6, skipped: 0, alreadyDone: 0 });
    await writeSkipped(plan, []);
    await writeResultWriterOutput(plan, {
      succeeded: [
        {
          name: "batch-0",
          // At its own limit (2 units x 5 TPS) for 20 s, never throttled: a lower bound.
          output: makeBatch({ items: 3, timeline: steadyTimeline(T0 + 300, 20, 10) }),
        },
      ],
      failed: [
        {
          name: "batch-1",
          error: "States.ExceedToleratedFailureThreshold",
          cause: "too many failed batches",
          keys: ["incoming/d.jpg", "incoming/e.jpg", "incoming/f.jpg"],
        },
      ],
    });
    const measuredBefore = {
      tpsPerUnit: 6,
      measured: true,
      basis: "an earlier run",
      sampleSeconds: 40,
      units: 2,
      projectVersionArn: plan.context.projectVersionArn,
      runId: "earlier",
      measuredAt: iso(T0 - 7 * 86400),
    };
    await put(stateFiles.learnedTps(prefix), JSON.stringify(measuredBefore));

    const result = await writeRunReport({
      s3,
      state: {
        ...ownedModelState(plan),
        error: { Error: "States.ExceedToleratedFailureThreshold", Cause: "Map failed" },
      },
      clock: new FakeClock((T0 + 350) * 1000),
      logger: silentLogger,
    });

    expect(result.outcome).toBe("failed");
    expect(result.counts).toMatchObject({ succeeded: 3, unaccounted: 3, failedBatches: 1 });
    expect(result.learnedTps).toBeUndefined();
    const summary = JSON.parse((await getText(result.summaryKey)).text) as RunSummary;
    expect(summary.capacity).toMatchObject({ kind: "lower-bound", tpsPerUnit: 5 });
    expect(summary.failure?.Error).toBe("States.ExceedToleratedFailureThreshold");
    expect(JSON.parse((await getText(stateFiles.learnedTps(prefix))).text)).toEqual(measuredBefore);
  });

  it("records a lower bound with its flag, which planning does not use", async () => {
    const prefix = "lower-bound/";
    const plan = planUnder(prefix, { listed: 3, pending: 3, skipped: 0, alreadyDone: 0 });
    await writeSkipped(plan, []);
    const details = await writeResultWriterOutput(plan, {
      succeeded: [
        {
          name: "batch-0",
          output: makeBatch({ items: 3, timeline: steadyTimeline(T0 + 300, 12, 10) }),
        },
      ],
      failed: [],
    });
    await writePart(plan, 3);

    const result = await writeRunReport({
      s3,
      state: { ...ownedModelState(plan), map: { ResultWriterDetails: details } },
      clock: new FakeClock((T0 + 350) * 1000),
      logger: silentLogger,
    });

    expect(result).toMatchObject({
      outcome: "succeeded",
      reconciled: true,
      learnedTps: { tpsPerUnit: 5, measured: false },
    });
    const summary = JSON.parse((await getText(result.summaryKey)).text) as RunSummary;
    expect(summary.resultParts).toMatchObject({ parts: 1, lines: 3 });
    const stored = JSON.parse((await getText(stateFiles.learnedTps(prefix))).text);
    expect(stored).toMatchObject({ tpsPerUnit: 5, measured: false, sampleSeconds: 12 });
    const forPlanning = await readLearnedTps({
      s3,
      bucket: RESULTS_BUCKET,
      resultsPrefix: prefix,
      logger: silentLogger,
      projectVersionArn: plan.context.projectVersionArn,
    });
    expect(forPlanning).toBeUndefined();
  });

  it("reports a run with nothing to do: no model, no map, no learned TPS", async () => {
    const prefix = "idle/";
    const plan = planUnder(prefix, { listed: 3, pending: 0, skipped: 1, alreadyDone: 2 });
    await writeSkipped(plan, [
      { key: "incoming/", size: 0, reason: "folder-marker", detail: "a folder marker" },
    ]);

    const result = await writeRunReport({
      s3,
      state: { plan },
      clock: new FakeClock((T0 + 20) * 1000),
      logger: silentLogger,
    });

    expect(result).toMatchObject({ outcome: "nothing-to-do", reconciled: true });
    expect(result.learnedTps).toBeUndefined();
    const summary = JSON.parse((await getText(result.summaryKey)).text) as RunSummary;
    expect(summary.billing.cost).toBe(0);
    expect(summary.skipped.byReason).toEqual([{ reason: "folder-marker", count: 1 }]);
    await expect(getText(stateFiles.learnedTps(prefix))).rejects.toMatchObject({
      name: "NoSuchKey",
    });
    expect((await getText(result.reportKey)).text).toContain("Nothing to do");
  });
});
