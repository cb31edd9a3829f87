import { describe, expect, it } from "vitest";
import { parseRunInput } from "../../src/run-input.ts";
import type { BatchContext, ImageRef, Sizing } from "../../src/shapes.ts";
import {
  concurrencyFor,
  describeDuration,
  itemJsonBytes,
  jsonBytesUpperBound,
  pendingStatsOf,
  SIZING_RULES,
  sizeRun,
} from "../../src/sizing.ts";

const ARN = "arn:aws:rekognition:us-east-1:123456789012:project/p/version/v1/1700000000000";

function inputWith(overrides: Record<string, unknown> = {}) {
  return parseRunInput(
    { imagesBucket: "images", imagesPrefix: "in/", projectVersionArn: ARN, ...overrides },
    {},
  );
}

function image(key: string): ImageRef {
  return {
    key,
    size: 123_456,
    etag: '"0123456789abcdef0123456789abcdef"',
    lastModified: "2026-01-05T06:00:00.000Z",
  };
}

const context: BatchContext = {
  runId: "2026-01-05T06-00-00Z-abcd",
  projectVersionArn: ARN,
  imagesBucket: "images",
  resultsBucket: "images",
  resultsPrefix: "rekognition-results/",
  imageMode: "S3Object",
  perWorkerTps: 1234.5678901234567,
  concurrency: 100_000,
};
const contextBytes = jsonBytesUpperBound(context);

function size(
  count: number,
  overrides: Record<string, unknown>,
  tpsPerUnit: number,
  keyLength = 40,
): Sizing {
  const stats = { count, maxItemBytes: itemJsonBytes(image("k".repeat(keyLength))) };
  return sizeRun({
    pending: stats,
    input: inputWith(overrides),
    tpsPerUnit,
    tpsSource: "input",
    contextBytes,
  });
}

/** The invariants every sizing must keep. */
function expectConsistent(s: Sizing, pending: number, lambdaTimeoutSeconds = 900) {
  expect(s.workers * s.perWorkerTps).toBeCloseTo(s.provisionedTps, 9);
  expect(s.provisionedTps).toBe(s.units * s.tpsPerUnit);
  expect(s.workers).toBeGreaterThanOrEqual(1);
  expect(s.workers).toBeLessThanOrEqual(Math.ceil(pending / s.batchSize));
  expect(s.batchSize / s.perWorkerTps).toBeLessThanOrEqual(
    lambdaTimeoutSeconds * SIZING_RULES.batchTimeShare,
  );
  expect(s.concurrency).toBe(concurrencyFor(s.perWorkerTps, s.expectedLatencyMs));
  expect(s.concurrency).toBeGreaterThanOrEqual(1);
}

describe("sizeRun", () => {
  it("10 images: one unit, one worker, two batches of at least the shortest batch's length", () => {
    const s = size(10, {}, 5);
    expect(s).toMatchObject({
      units: 1,
      provisionedTps: 5,
      tpsSource: "input",
      expectedProcessingSeconds: 2,
      windowReachable: true,
      workers: 1,
      perWorkerTps: 5,
      // 1.5 s at 5 TPS: 7 images at most, so 2 batches of 5.
      batchSize: 5,
      concurrency: 3,
      startupSeconds: 600,
    });
    expect(s.windowNote).toBeUndefined();
    expect(s.maxInferenceUnits).toBeUndefined();
    expectConsistent(s, 10);
  });

  it("6,000 images in a 1-minute window at 25 TPS/unit: 4 units, 10 workers x 10 TPS, 25 rounds of even batches", () => {
    const s = size(6_000, { targetWindowMinutes: 1 }, 25);
    expect(s).toMatchObject({
      units: 4,
      provisionedTps: 100,
      expectedProcessingSeconds: 60,
      windowReachable: true,
      workers: 10,
      perWorkerTps: 10,
      // 4 % of 60 s is 2.4 s at 10 TPS: 24 images, 250 batches (the tail's share, sizing-tail.test.ts).
      batchSize: 24,
      concurrency: 5,
    });
    expectConsistent(s, 6_000);
  });

  it("never sizes below minUnits", () => {
    const s = size(6_000, { minUnits: 3 }, 25);
    expect(s.units).toBe(3);
    expect(s.provisionedTps).toBe(75);
    expectConsistent(s, 6_000);
  });

  it("1,000,000 images are held to the quota and say how long the run will take", () => {
    const s = size(1_000_000, { targetWindowMinutes: 60 }, 5);
    expect(s.units).toBe(5);
    expect(s.provisionedTps).toBe(25);
    expect(s.windowReachable).toBe(false);
    expect(s.windowNote).toBe(
      "1,000,000 images at 5 TPS/unit need 56 units for a 1-hour window; the quota allows 5: it will take about 11.1 hours",
    );
    expect(s.expectedProcessingSeconds).toBe(40_000);
    expect(s.workers).toBe(3);
    // Batches come in whole rounds of the workers: no single-worker tail.
    const batches = Math.ceil(1_000_000 / s.batchSize);
    expect(batches % s.workers === 0 || batches % s.workers === s.workers - 1).toBe(true);
    expectConsistent(s, 1_000_000);
  });

  it("words the unreachable window as the design describes", () => {
    const s = size(6_000_000, { targetWindowMinutes: 240 }, 5);
    expect(s.windowNote).toBe(
      "6,000,000 images at 5 TPS/unit need 84 units for a 4-hour window; the quota allows 5: it will take about 66.7 hours",
    );
  });

  it("with auto-scaling starts at the planned units and passes maxInferenceUnits", () => {
    const s = size(6_000, { targetWindowMinutes: 1, minUnits: 2, maxInferenceUnits: 5 }, 25);
    expect(s.units).toBe(4);
    expect(s.maxInferenceUnits).toBe(5);
    const capped = size(1_000_000, { targetWindowMinutes: 60, maxInferenceUnits: 3 }, 5);
    expect(capped.units).toBe(3);
    expect(capped.windowNote).toContain("maxInferenceUnits allows 3");
  });

  it("with auto-scaling sizes workers and in-flight calls for maxInferenceUnits x TPS per unit", () => {
    const s = size(1_500, { minUnits: 1, maxInferenceUnits: 4 }, 5);
    expect(s.units).toBe(1);
    expect(s.provisionedTps).toBe(5);
    expect(s.ceilingTps).toBe(20);
    expect(s.workers).toBe(2);
    expect(s.workers * (s.perWorkerCeilingTps ?? 0)).toBeCloseTo(20, 9);
    expect(s.workers * s.perWorkerTps).toBeCloseTo(5, 9);
    expect(s.concurrency).toBe(concurrencyFor(s.perWorkerCeilingTps ?? 0, s.expectedLatencyMs));
    const fixed = size(1_500, { minUnits: 1 }, 5);
    expect(fixed.ceilingTps).toBeUndefined();
    expect(fixed.perWorkerCeilingTps).toBeUndefined();
    expect(fixed.workers).toBe(1);
  });

  it("keeps every batch's JSON under 256 KiB with long unicode keys", () => {
    const longKey = `photos/${"é".repeat(400)}/${"x".repeat(200)}.jpg`;
    const pending = Array.from({ length: 20_000 }, (_, i) => image(`${longKey}-${i}`));
    const stats = pendingStatsOf(pending);
    const s = sizeRun({
      pending: stats,
      input: inputWith(),
      tpsPerUnit: 25,
      tpsSource: "input",
      contextBytes,
    });
    expect(s.batchSize).toBeLessThan(200);
    for (let start = 0; start < pending.length; start += s.batchSize) {
      const event = { BatchInput: context, Items: pending.slice(start, start + s.batchSize) };
      expect(jsonBytesUpperBound(event)).toBeLessThanOrEqual(SIZING_RULES.maxBatchBytes);
      expect(Buffer.byteLength(JSON.stringify(event), "utf8")).toBeLessThanOrEqual(
        SIZING_RULES.maxBatchBytes,
      );
    }
    expectConsistent(s, pending.length);
  });

  it("keeps a batch inside half the Lambda timeout at the worker's rate", () => {
    const s = size(60_000, { targetWindowMinutes: 10, lambdaTimeoutSeconds: 60 }, 25);
    expect(s.perWorkerTps).toBe(10);
    expect(s.batchSize).toBeLessThanOrEqual(300);
    expectConsistent(s, 60_000, 60);
  });

  it("spreads over more workers than maxWorkers would allow only up to maxWorkers", () => {
    const s = size(1_000_000, { minUnits: 5, maxUnits: 5, maxWorkers: 4 }, 100);
    expect(s.workers).toBe(4);
    expect(s.perWorkerTps).toBe(125);
    expectConsistent(s, 1_000_000);
  });

  it("uses no more workers than there are images", () => {
    const s = size(3, { minUnits: 5 }, 50);
    expect(s.workers).toBe(3);
    expect(s.batchSize).toBe(1);
    expectConsistent(s, 3);
  });

  it("scales in-flight images with latency plus the S3 work each image holds a slot for", () => {
    // 10 TPS x (0.1 s + 0.15 s) x 2 = 5; 10 x (1 s + 0.15 s) x 2 = 23.
    expect(concurrencyFor(10, 100)).toBe(5);
    expect(concurrencyFor(10, 1_000)).toBe(23);
    expect(concurrencyFor(0.5, 10)).toBe(1);
  });

  it("sizes an empty backlog as one idle worker", () => {
    const s = size(0, {}, 5);
    expect(s).toMatchObject({
      units: 1,
      workers: 1,
      batchSize: 1,
      expectedProcessingSeconds: 0,
      windowReachable: true,
    });
  });
});

describe("byte measures and durations", () => {
  it("counts non-ASCII characters at their escaped width", () => {
    expect(jsonBytesUpperBound("ab")).toBe(4);
    expect(jsonBytesUpperBound("é")).toBe(8);
    expect(jsonBytesUpperBound("😀")).toBe(14);
    expect(itemJsonBytes(image("a.jpg"))).toBe(JSON.stringify(image("a.jpg")).length + 1);
  });

  it("describes durations in the largest sensible unit", () => {
    expect(describeDuration(45)).toBe("45 seconds");
    expect(describeDuration(750)).toBe("12.5 minutes");
    expect(describeDuration(240_000)).toBe("66.7 hours");
  });
});
