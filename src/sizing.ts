import type { RunInput } from "./run-input.ts";
import type { ImageRef, Sizing } from "./shapes.ts";

/** The rules sizing follows; exported so tests and docs use the same figures. */
export const SIZING_RULES = {
  /** Calls per second one worker (one Lambda) makes at most, where maxWorkers allows. */
  maxPerWorkerTps: 10,
  /** A batch is planned to take at most this share of the Lambda timeout (the rest: retries, throttling). */
  batchTimeShare: 0.5,
  /**
   * A batch is planned to take at most this share of the expected processing
   * time. The run's tail (from the first worker out of work to the last image)
   * lasts at most one batch: the Map hands each free worker the next batch, so
   * a worker running faster than its share takes more batches, and when none
   * is left the others are at most one batch from their end. The goal is a
   * tail of 5 %; a worker a fifth slower than its share stretches its last
   * batch by that much, hence 4 %.
   */
  tailShare: 0.04,
  /**
   * ... but at least this long at the worker's planned rate: each batch costs a
   * child execution's start, an invocation and its result part's write, during
   * which the worker sends no call.
   */
  minBatchSeconds: 1.5,
  /** Step Functions' cap on a state's input, which an ItemBatcher batch must stay under. */
  maxBatchBytes: 256 * 1024,
  /** Room for the batch envelope (`{"BatchInput":...,"Items":[...]}`) beyond the items and the context. */
  batchEnvelopeBytes: 1024,
  /**
   * What an image holds its slot for besides the call: the ledger read before
   * it and the result write after it (two S3 requests).
   */
  perImageS3Ms: 150,
  /**
   * In-flight images per worker = rate x (latency + perImageS3Ms) x this.
   * Generous on purpose: the rate controller, not the slot count, sets the
   * pace, and too few slots silently cap the rate below the plan.
   */
  concurrencyHeadroom: 2,
} as const;

/** What sizing needs to know about the pending list, gathered while it is written. */
export interface PendingStats {
  count: number;
  /** Largest JSON size of one item in a batch, in bytes. */
  maxItemBytes: number;
}

/**
 * The most bytes `value` can take as JSON: its JSON with every non-ASCII
 * character escaped as `\uXXXX`, the largest way a serializer can write it.
 */
export function jsonBytesUpperBound(value: unknown): number {
  const json = JSON.stringify(value) ?? "";
  let nonAscii = 0;
  for (let i = 0; i < json.length; i++) if (json.charCodeAt(i) > 0x7f) nonAscii++;
  return json.length + 5 * nonAscii;
}

/** The most bytes one image takes in a batch's `Items` array, separating comma included. */
export function itemJsonBytes(image: ImageRef): number {
  return jsonBytesUpperBound(image) + 1;
}

/** Collects `PendingStats` one image at a time. */
export function pendingStatsOf(images: Iterable<ImageRef>): PendingStats {
  const stats: PendingStats = { count: 0, maxItemBytes: 0 };
  for (const image of images) addToPendingStats(stats, image);
  return stats;
}

/** Adds one pending image to running stats. */
export function addToPendingStats(stats: PendingStats, image: ImageRef): void {
  stats.count += 1;
  stats.maxItemBytes = Math.max(stats.maxItemBytes, itemJsonBytes(image));
}

export type SizingInput = Pick<
  RunInput,
  | "targetWindowMinutes"
  | "minUnits"
  | "maxUnits"
  | "maxInferenceUnits"
  | "startupMinutes"
  | "stopMinutes"
  | "expectedLatencyMs"
  | "lambdaTimeoutSeconds"
  | "maxWorkers"
>;

const number = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

/** "45 seconds", "12.5 minutes", "66.7 hours". */
export function describeDuration(seconds: number): string {
  if (seconds < 90) return `${number.format(seconds)} seconds`;
  if (seconds < 90 * 60) return `${number.format(seconds / 60)} minutes`;
  return `${number.format(seconds / 3600)} hours`;
}

function describeWindow(minutes: number): string {
  return minutes % 60 === 0
    ? `${number.format(minutes / 60)}-hour window`
    : `${number.format(minutes)}-minute window`;
}

/** `ceil` that ignores floating-point dust (6000 / 1500.0000000001 is 4, not 5). */
function ceilSafe(x: number): number {
  return Math.ceil(x - 1e-9);
}

/**
 * Sizes a run: inference units for the target window within the quota,
 * workers x perWorkerTps = provisioned TPS exactly (with auto-scaling, workers
 * x perWorkerCeilingTps = MaxInferenceUnits x TPS per unit), balanced batches that
 * finish well inside the Lambda timeout and stay under 256 KiB, and the
 * in-flight calls each worker needs to keep its rate.
 *
 * `contextBytes` is the JSON size of the BatchContext every batch carries.
 * With nothing pending the run is sized as one idle worker (the model is not
 * started).
 */
export function sizeRun(opts: {
  pending: PendingStats;
  input: SizingInput;
  tpsPerUnit: number;
  tpsSource: Sizing["tpsSource"];
  contextBytes: number;
}): Sizing {
  const { pending, input, tpsPerUnit, tpsSource } = opts;
  const autoScaling = input.maxInferenceUnits !== undefined;
  const unitCap = input.maxInferenceUnits ?? input.maxUnits;
  const windowSeconds = input.targetWindowMinutes * 60;

  const neededUnits = Math.max(1, ceilSafe(pending.count / (tpsPerUnit * windowSeconds)));
  const units = Math.min(Math.max(neededUnits, input.minUnits), unitCap);
  const provisionedTps = units * tpsPerUnit;
  const expectedProcessingSeconds = pending.count / provisionedTps;
  const windowReachable = neededUnits <= unitCap;
  const capName = autoScaling ? "maxInferenceUnits" : "the quota";

  const base = {
    units,
    ...(autoScaling ? { maxInferenceUnits: input.maxInferenceUnits } : {}),
    tpsPerUnit,
    tpsSource,
    provisionedTps,
    targetWindowMinutes: input.targetWindowMinutes,
    expectedProcessingSeconds,
    windowReachable,
    ...(windowReachable
      ? {}
      : {
          windowNote:
            `${pending.count.toLocaleString("en-US")} images at ${number.format(tpsPerUnit)} TPS/unit ` +
            `need ${neededUnits} units for a ${describeWindow(input.targetWindowMinutes)}; ` +
            `${capName} allows ${unitCap}: it will take about ${describeDuration(expectedProcessingSeconds)}`,
        }),
    expectedLatencyMs: input.expectedLatencyMs,
    startupSeconds: input.startupMinutes * 60,
    stopSeconds: input.stopMinutes * 60,
  };

  // Auto-scaling: the service adds units only while demand exceeds what is in
  // service, so workers and in-flight calls are sized for MaxInferenceUnits and
  // the controllers may climb that far; they start at the planned units' rate.
  const ceilingTps = autoScaling ? unitCap * tpsPerUnit : provisionedTps;
  const scaling = ceilingTps > provisionedTps ? { ceilingTps } : {};

  if (pending.count === 0) {
    return {
      ...base,
      workers: 1,
      perWorkerTps: provisionedTps,
      batchSize: 1,
      concurrency: concurrencyFor(provisionedTps, input.expectedLatencyMs),
    };
  }

  let workers = Math.min(
    input.maxWorkers,
    pending.count,
    Math.max(1, ceilSafe(ceilingTps / SIZING_RULES.maxPerWorkerTps)),
  );
  const perWorkerTpsPlanned = provisionedTps / workers;

  // At the starting rate: a batch must fit the timeout even if the model never grows.
  const byTime = Math.floor(
    perWorkerTpsPlanned * input.lambdaTimeoutSeconds * SIZING_RULES.batchTimeShare,
  );
  const bytesForItems =
    SIZING_RULES.maxBatchBytes - opts.contextBytes - SIZING_RULES.batchEnvelopeBytes;
  const byBytes = Math.floor(bytesForItems / Math.max(1, pending.maxItemBytes));
  // Short batches near the end would do, but a Map's ItemBatcher takes one
  // MaxItemsPerBatch: every batch is short enough for the tail's share.
  const byTail = Math.floor(
    perWorkerTpsPlanned *
      Math.max(SIZING_RULES.minBatchSeconds, expectedProcessingSeconds * SIZING_RULES.tailShare),
  );
  const largestBatch = Math.max(1, Math.min(byTime, byBytes, byTail));

  // A whole number of rounds of batches, so every worker is busy until the
  // last round instead of one worker finishing a long batch alone.
  const batches = Math.ceil(Math.ceil(pending.count / largestBatch) / workers) * workers;
  const batchSize = Math.ceil(pending.count / batches);
  workers = Math.min(workers, Math.ceil(pending.count / batchSize));
  const perWorkerTps = provisionedTps / workers;
  const perWorkerCeilingTps = ceilingTps / workers;

  return {
    ...base,
    ...scaling,
    workers,
    perWorkerTps,
    ...(ceilingTps > provisionedTps ? { perWorkerCeilingTps } : {}),
    batchSize,
    concurrency: concurrencyFor(perWorkerCeilingTps, input.expectedLatencyMs),
  };
}

/** In-flight images that keep `tps` going at `latencyMs` per call plus the S3 work, with headroom. */
export function concurrencyFor(tps: number, latencyMs: number): number {
  const slotSeconds = (latencyMs + SIZING_RULES.perImageS3Ms) / 1000;
  return Math.max(1, Math.ceil(tps * slotSeconds * SIZING_RULES.concurrencyHeadroom));
}
