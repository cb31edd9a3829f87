/**
 * The data that crosses module, Lambda and state boundaries. Everything here
 * is plain JSON (it travels through Step Functions state, S3 objects and the
 * Distributed Map), so dates are ISO strings and there are no classes.
 */

import type { StrategyComparison } from "./scaling-strategy.ts";

/** One image object as listed, and one line of the JSONL manifest. */
export interface ImageRef {
  key: string;
  size: number;
  etag: string;
  /** ISO 8601, from ListObjectsV2. */
  lastModified: string;
}

export type SkipReason = "unsupported-extension" | "folder-marker" | "empty-object" | "too-large";

export interface SkippedObject {
  key: string;
  size: number;
  reason: SkipReason;
  /** Human-readable detail, e.g. "16.2 MB is over the 15 MB S3Object limit". */
  detail: string;
}

/** What the job passes to every batch (ItemBatcher `BatchInput`). */
export interface BatchContext {
  runId: string;
  projectVersionArn: string;
  imagesBucket: string;
  resultsBucket: string;
  /** Ends with "/" or is empty. */
  resultsPrefix: string;
  imageMode: "S3Object" | "Bytes";
  minConfidence?: number;
  maxResults?: number;
  /** Calls per second this worker may make at the start (the plan's share). */
  perWorkerTps: number;
  /**
   * Set when the model auto-scales: the most calls per second this worker may
   * climb to (its share of MaxInferenceUnits x TPS per unit).
   */
  ceilingTps?: number;
  /** In-flight calls this worker allows (rate x expected latency, with headroom). */
  concurrency: number;
}

/** Input of one process-batch invocation, as the Distributed Map's ItemBatcher builds it. */
export interface BatchEvent {
  BatchInput: BatchContext;
  Items: ImageRef[];
}

/** One label as Rekognition returns it. */
export interface DetectedLabel {
  Name: string;
  Confidence: number;
  Geometry?: { BoundingBox?: { Width?: number; Height?: number; Left?: number; Top?: number } };
}

/** What a ledger entry says about its image. */
export type ResultStatus = "succeeded" | "failed" | "unreadable";

/** The `schemaVersion` of records this code writes (records without one are version 1). */
export const RESULT_SCHEMA_VERSION = 2;

/**
 * The per-image ledger entry, stored at `resultKeyFor(resultsPrefix, imageKey)`.
 * It is for one version of the image: `image.etag` is the ETag that was
 * analysed (the listed one, or in Bytes mode the one GetObject returned).
 *
 * - `succeeded`: labels found (possibly none).
 * - `failed`: the image itself is bad (format, dimensions, size). Final until
 *   the image changes (a new ETag), so a poison image is not retried every week.
 * - `unreadable` (schema 2): the image could not be read (access, KMS, gone).
 *   Not final: the next run tries it again.
 */
export interface ImageResultRecord {
  /** Absent in version-1 records, which are read as they are. */
  schemaVersion?: number;
  status: ResultStatus;
  image: { bucket: string; key: string; etag: string; size: number; lastModified: string };
  projectVersionArn: string;
  labels: DetectedLabel[];
  error?: { name: string; message: string };
  analyzedAt: string;
  runId: string;
  /** Calls it took, throttled ones included. */
  attempts: number;
}

export interface ImageFailure {
  key: string;
  error: string;
  message: string;
}

/** Calls per wall-clock second, for the throughput chart. `t` is epoch seconds. */
export interface TimelinePoint {
  t: number;
  accepted: number;
  throttled: number;
}

/**
 * What one process-batch invocation returns (collected by the Map's
 * ResultWriter). It is a state output, so it is bounded (see
 * `boundBatchOutput`): the counts are exact, the lists are samples, and the
 * ledger under the results prefix holds every image's record.
 */
export interface BatchOutput {
  runId: string;
  items: number;
  succeeded: number;
  failed: number;
  /** Images that could not be read (recorded `unreadable`; pending again next run). Absent from older outputs. */
  unreadable?: number;
  /** Items this run had already finished in an earlier attempt of the batch (counted in succeeded/failed too). */
  resumed: number;
  /** A sample of the failed images (messages cut); `failed` is the count. */
  failures: ImageFailure[];
  /** Failed images left out of `failures` (each has its record, with the full message, in the ledger). */
  failuresOmitted: number;
  /** Label name -> number of images with that label (the most frequent labels, when there are very many). */
  labels: Record<string, number>;
  /** Distinct label names left out of `labels` to keep the output small (0 normally). */
  labelsOmitted: number;
  calls: number;
  throttled: number;
  retried: number;
  startedAt: string;
  endedAt: string;
  /** Calls per second; merged into wider steps only if it would pass `MAX_TIMELINE_POINTS`. */
  timeline: TimelinePoint[];
}

/**
 * Why an image is pending: no result yet; a result for another version of the
 * image (it was replaced); a result object that cannot be read as a record
 * (not JSON, another shape, empty, too large); or a record saying the image
 * could not be read last time.
 */
export interface PendingByReason {
  new: number;
  replaced: number;
  unreadableResult: number;
  unreadableImage: number;
}

/** One row of the cost trade-off table. */
export interface CostOption {
  units: number;
  /** Auto-scaling: the most units (`units` is the minimum); absent for fixed units. */
  maxInferenceUnits?: number;
  /** From the start request until STOPPED: start-up, ramp-up, processing, tail, stop. */
  durationSeconds: number;
  inferenceHours: number;
  cost: number;
}

/** How the run is sized; derived only from the pending count and the input. */
export interface Sizing {
  units: number;
  /** Set when auto-scaling is asked for: passed as MaxInferenceUnits. */
  maxInferenceUnits?: number;
  tpsPerUnit: number;
  tpsSource: "input" | "learned" | "default";
  provisionedTps: number;
  /**
   * Set when auto-scaling: MaxInferenceUnits x TPS per unit, what workers and
   * in-flight calls are sized for (the controllers climb to it).
   */
  ceilingTps?: number;
  targetWindowMinutes: number;
  expectedProcessingSeconds: number;
  /** False when the unit quota makes the target window unreachable. */
  windowReachable: boolean;
  /** Why the window cannot be met and what it will take instead (when not reachable). */
  windowNote?: string;
  workers: number;
  perWorkerTps: number;
  /** Set when auto-scaling: the most calls per second one worker may climb to. */
  perWorkerCeilingTps?: number;
  batchSize: number;
  /** In-flight calls per worker. */
  concurrency: number;
  expectedLatencyMs: number;
  startupSeconds: number;
  /** From StopProjectVersion until STOPPED (billed). Absent from older plans. */
  stopSeconds?: number;
}

export interface CostEstimate {
  pricePerUnitHour: number;
  chosen: CostOption;
  /** Neighbouring unit counts, the chosen one included, ascending by units. */
  options: CostOption[];
}

/**
 * The Plan step's output: the state that flows through the workflow. Kept
 * small (Step Functions caps state at 256 KiB): lists live in S3.
 */
export interface Plan {
  runId: string;
  /** The execution's ARN or a local id; recorded in the lease. */
  executionId: string;
  plannedAt: string;
  context: BatchContext;
  imagesPrefix: string;
  counts: { listed: number; pending: number; skipped: number; alreadyDone: number };
  /** Why each pending image is pending; the four add up to `counts.pending`. */
  pendingByReason?: PendingByReason;
  skippedByReason: Partial<Record<SkipReason, number>>;
  /** Where the manifest and skipped list were written. */
  manifest: { bucket: string; key: string };
  skippedList: { bucket: string; key: string };
  /** Where the Distributed Map writes its results. */
  mapResults: { bucket: string; prefix: string };
  sizing: Sizing;
  cost: CostEstimate;
  /** Fixed units against auto-scaling for this backlog, and which was chosen (absent in older plans). */
  strategy?: StrategyComparison;
  toleratedFailurePercentage: number;
  /** `true` when there is nothing to analyse: the model is not started. */
  nothingToDo: boolean;
  /** Set when the run may restart its model with more units mid-run (`rescale: "restart"`). */
  rescale?: RescalePlan;
}

/** One S3 JSONL list of images the Distributed Map reads, and how many lines it has. */
export interface ImageList {
  manifest: { bucket: string; key: string };
  images: number;
}

/**
 * What a `rescale: "restart"` run needs to size its later rounds again: the
 * run input's limits and the manifest split into rounds (the first measures
 * the rate, the decision to restart comes after it).
 */
export interface RescalePlan {
  mode: "restart";
  /** The inference-unit quota: a restart never asks for more. */
  maxUnits: number;
  maxWorkers: number;
  lambdaTimeoutSeconds: number;
  /** Largest JSON size of one pending image, and of the batch context (sizing by bytes). */
  maxItemBytes: number;
  contextBytes: number;
  rounds: ImageList[];
}

/** One pass of the Distributed Map over a part of the manifest, with its own sizing. */
export interface Round extends ImageList {
  /** 1-based; `of` rounds in all. */
  index: number;
  of: number;
  units: number;
  workers: number;
  batchSize: number;
  tpsPerUnit: number;
  context: BatchContext;
}

/** A round the Map has run: where its results are and what it did. */
export interface FinishedRound {
  index: number;
  images: number;
  units: number;
  /** Images the round's batches reported done. */
  processed: number;
  /** ISO: when processing began (RUNNING seen) and when the round's Map ended. */
  startedAt?: string;
  endedAt: string;
  mapResults: { Bucket: string; Key: string };
}

/** The lease that says which execution started (and so may stop) the model. */
export interface ModelLease {
  projectVersionArn: string;
  executionId: string;
  runId: string;
  startedAt: string;
  units: number;
  maxInferenceUnits?: number;
  /**
   * The planned end. The reaper applies it (or the run's later heartbeat)
   * only when Step Functions cannot tell it the execution's status; a RUNNING
   * execution keeps its model past it.
   */
  expiresAt: string;
}
