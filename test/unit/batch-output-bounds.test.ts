import {
  DetectCustomLabelsCommand,
  type DetectCustomLabelsCommandInput,
  RekognitionClient,
} from "@aws-sdk/client-rekognition";
import { HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AdaptiveRateController } from "../../src/adaptive-rate-controller.ts";
import {
  boundBatchOutput,
  coarsenTimeline,
  MAX_FAILURE_SAMPLE,
  MAX_TIMELINE_POINTS,
  type RawBatchOutput,
} from "../../src/batch-output.ts";
import { processBatch } from "../../src/process-batch.ts";
import { silentLogger } from "../../src/runtime.ts";
import type { BatchContext, BatchOutput, ImageRef } from "../../src/shapes.ts";
import { jsonBytes, STATE_PAYLOAD_LIMIT_BYTES } from "../../src/state-limits.ts";
import { FakeClock } from "../support/fake-clock.ts";

/**
 * A batch's output is a Map child's state output: over 256 KiB it fails with
 * States.DataLimitExceeded, which no Catch or Retry of ours can handle. These
 * are the worst cases a real run can produce.
 */

const s3Mock = mockClient(S3Client);
const rekognitionMock = mockClient(RekognitionClient);
const s3 = new S3Client({ region: "us-east-1" });
const rekognition = new RekognitionClient({ region: "us-east-1", maxAttempts: 1 });

/** What this test asks of the output: the cap with a clear margin. */
const WITH_MARGIN = STATE_PAYLOAD_LIMIT_BYTES - 32 * 1024;

const context: BatchContext = {
  runId: "2026-01-05T06-00-00Z-abcdef",
  projectVersionArn: `arn:aws:rekognition:us-east-1:111122223333:project/${"p".repeat(255)}/version/${"v".repeat(255)}/1700000000000`,
  imagesBucket: "b".repeat(63),
  resultsBucket: "r".repeat(63),
  resultsPrefix: `${"é".repeat(400)}/`,
  imageMode: "S3Object",
  perWorkerTps: 5,
  concurrency: 2,
};

/** A key of exactly `bytes` UTF-8 bytes, made of 2-byte characters after a unique head. */
function keyOfBytes(index: number, bytes: number): string {
  const head = `${index}/`;
  const fill = bytes - Buffer.byteLength(head);
  return head + "é".repeat(Math.floor(fill / 2)) + (fill % 2 ? "x" : "");
}

/** As many items as the ItemBatcher's 256 KiB batch (input included) holds. */
function largestBatch(keyBytes: number): ImageRef[] {
  const items: ImageRef[] = [];
  for (let i = 0; ; i++) {
    const item: ImageRef = {
      key: keyOfBytes(i, keyBytes),
      size: 14_999_999,
      etag: `"${"0".repeat(32)}-10000"`,
      lastModified: "2026-01-01T00:00:00.000Z",
    };
    if (jsonBytes({ BatchInput: { context }, Items: [...items, item] }) > STATE_PAYLOAD_LIMIT_BYTES)
      return items;
    items.push(item);
  }
}

function awsError(name: string, message: string) {
  return Object.assign(new Error(message), {
    name,
    $fault: "client",
    $metadata: { httpStatusCode: 400 },
  });
}

/** A long, multi-byte error message, as a worst case for what Rekognition says. */
const LONG_MESSAGE = `Unable to get object metadata from S3. Check object key, region and/or access permissions. ${"ü".repeat(2000)}`;

/** 300 labels with 255-character multi-byte names (Custom Labels' longest label name). */
const MANY_LABELS = Array.from({ length: 300 }, (_, i) => ({
  Name: `${String(i).padStart(3, "0")}${"ß".repeat(252)}`,
  Confidence: 99.5,
}));

let clock: FakeClock;
beforeEach(() => {
  clock = new FakeClock();
  s3Mock.reset();
  rekognitionMock.reset();
  s3Mock.on(HeadObjectCommand).rejects(awsError("NotFound", "not found"));
  s3Mock.on(PutObjectCommand).resolves({});
});
afterEach(() => {
  s3Mock.reset();
  rekognitionMock.reset();
});

/**
 * Runs the batch with each call taking enough fake time that the batch spans
 * the whole 900 s a Lambda may run: the per-second timeline is as long as it gets.
 */
async function runSpanning(
  items: ImageRef[],
  answer: (input: DetectCustomLabelsCommandInput, index: number) => unknown,
): Promise<BatchOutput> {
  const callMs = Math.floor((900_000 * context.concurrency) / items.length);
  let calls = 0;
  rekognitionMock.on(DetectCustomLabelsCommand).callsFake(async (input) => {
    const index = calls++;
    await clock.sleep(callMs);
    return answer(input, index);
  });
  let settled = false;
  const promise = processBatch({
    event: { BatchInput: context, Items: items },
    rekognition,
    s3,
    clock,
    logger: silentLogger,
    random: () => 0.5,
    rateController: new AdaptiveRateController({ plannedTps: 1000, clock }),
  }).finally(() => {
    settled = true;
  });
  promise.catch(() => {});
  await clock.advanceUntil(() => settled, 250, 2_000_000);
  return promise;
}

describe("a batch's output stays far under 256 KiB whatever happens", () => {
  it.each([
    // ~220 items: the longest failure records.
    ["1,024-byte multi-byte keys", 1024, 100],
    // ~2,000 items, enough calls to fill every second of the 900 s.
    ["short keys (the most items per batch)", 24, 850],
  ])(
    "every image of the largest batch fails with a long message (%s)",
    async (_, keyBytes, seconds) => {
      const items = largestBatch(keyBytes);
      const output = await runSpanning(items, () => {
        throw awsError("InvalidImageFormatException", LONG_MESSAGE);
      });
      expect(output.failed).toBe(items.length);
      expect(output.timeline.length).toBeGreaterThan(seconds);
      expect(jsonBytes(output)).toBeLessThan(WITH_MARGIN);
      // Counts stay exact; the sample says how many it leaves out.
      expect(output.failures.length + output.failuresOmitted).toBe(items.length);
      expect(output.failures.length).toBeGreaterThan(0);
      expect(output.failures[0]?.key).toBe(items[0]?.key);
    },
  );

  it("every image succeeds with hundreds of long label names", async () => {
    const items = largestBatch(1024);
    const output = await runSpanning(items, () => ({ CustomLabels: MANY_LABELS }));
    expect(output.succeeded).toBe(items.length);
    expect(jsonBytes(output)).toBeLessThan(WITH_MARGIN);
    const kept = Object.keys(output.labels).length;
    expect(kept + output.labelsOmitted).toBe(MANY_LABELS.length);
  });

  it("half fail, half succeed with many labels, over the full 900 s", async () => {
    const items = largestBatch(1024);
    const output = await runSpanning(items, (_, index) => {
      if (index % 2 === 0) throw awsError("InvalidImageFormatException", LONG_MESSAGE);
      return { CustomLabels: MANY_LABELS };
    });
    expect(output.succeeded + output.failed).toBe(items.length);
    expect(jsonBytes(output)).toBeLessThan(WITH_MARGIN);
  });
});

describe("boundBatchOutput", () => {
  const raw = (over: Partial<RawBatchOutput> = {}): RawBatchOutput => ({
    runId: "run-1",
    items: 0,
    succeeded: 0,
    failed: 0,
    resumed: 0,
    failures: [],
    labels: {},
    calls: 0,
    throttled: 0,
    retried: 0,
    startedAt: "2026-01-05T06:00:00.000Z",
    endedAt: "2026-01-05T06:15:00.000Z",
    timeline: [],
    ...over,
  });

  it("merges a timeline that a clock jump made too long, keeping the totals", () => {
    const timeline = Array.from({ length: 5000 }, (_, i) => ({
      t: 1_800_000_000 + i,
      accepted: 2,
      throttled: i % 10 === 0 ? 1 : 0,
    }));
    const bounded = coarsenTimeline(timeline);
    expect(bounded.length).toBeLessThanOrEqual(MAX_TIMELINE_POINTS);
    expect(bounded.reduce((s, p) => s + p.accepted, 0)).toBe(10_000);
    expect(bounded.reduce((s, p) => s + p.throttled, 0)).toBe(500);
    expect(coarsenTimeline(timeline.slice(0, 900))).toHaveLength(900);
  });

  it("cuts a failure's message, never its count, and says how many it left out", () => {
    const failures = Array.from({ length: 40 }, (_, i) => ({
      key: `k${i}.jpg`,
      error: "InvalidS3ObjectException",
      message: "x".repeat(5000),
    }));
    const output = boundBatchOutput(raw({ items: 40, failed: 40, failures }));
    expect(output.failed).toBe(40);
    expect(output.failures).toHaveLength(MAX_FAILURE_SAMPLE);
    expect(output.failuresOmitted).toBe(40 - MAX_FAILURE_SAMPLE);
    expect(output.failures[0]?.message).toMatch(/^x+ \[\.\.\. \d+ more characters\]$/);
    expect(Array.from(output.failures[0]?.message ?? "")).toHaveLength(300);
  });

  it("leaves a small output as it is", () => {
    const small = raw({
      items: 2,
      succeeded: 1,
      failed: 1,
      failures: [{ key: "a.jpg", error: "E", message: "m" }],
      labels: { red: 1 },
      timeline: [{ t: 1, accepted: 2, throttled: 0 }],
    });
    expect(boundBatchOutput(small)).toEqual({ ...small, failuresOmitted: 0, labelsOmitted: 0 });
  });
});
