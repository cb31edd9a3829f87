import type { BatchSpan } from "../../src/report/tail.ts";
import { parseRunInput } from "../../src/run-input.ts";
import type { Sizing } from "../../src/shapes.ts";
import { sizeRun } from "../../src/sizing.ts";

/**
 * The plan's batches run as a Distributed Map hands them out: each free
 * worker takes the next batch, in the manifest's order. Computed, not timed.
 */

const ARN = "arn:aws:rekognition:us-east-1:123456789012:project/p/version/v1/1700000000000";

/** The sizing the Plan gives `pending` images with the run input `overrides`. */
export function planSizing(
  pending: number,
  overrides: Record<string, unknown>,
  tpsPerUnit: number,
): Sizing {
  const input = parseRunInput(
    { imagesBucket: "images", imagesPrefix: "in/", projectVersionArn: ARN, ...overrides },
    {},
  );
  return sizeRun({
    pending: { count: pending, maxItemBytes: 200 },
    input,
    tpsPerUnit,
    tpsSource: "input",
    contextBytes: 600,
  });
}

/** Batch spans (seconds as ISO times from epoch 0) of `pending` images on workers running at `rates`. */
export function runMap(pending: number, batchSize: number, rates: readonly number[]): BatchSpan[] {
  const freeAt = rates.map(() => 0);
  const spans: BatchSpan[] = [];
  for (let first = 0; first < pending; first += batchSize) {
    const items = Math.min(batchSize, pending - first);
    const worker = freeAt.indexOf(Math.min(...freeAt));
    const start = freeAt[worker] as number;
    const end = start + items / (rates[worker] as number);
    freeAt[worker] = end;
    spans.push({
      startedAt: new Date(start * 1000).toISOString(),
      endedAt: new Date(end * 1000).toISOString(),
    });
  }
  return spans;
}

/** Each worker's share spread: the first 13 % above it, the last 7 % below. */
export const UNEVEN_SHARES = [1.13, 0.97, 0.97, 0.93] as const;
