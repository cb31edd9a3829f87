/**
 * The shape of a run's summary (`summary.json`) and of what it is built from.
 * Built by `buildRunSummary` (build-summary.ts); read by the HTML report, the
 * run event and the alerts.
 */

import type { SingleUnitRisk } from "../availability.ts";
import type { PartCounts } from "../read-result-parts.ts";
import type { RoundsState } from "../rounds.ts";
import type { Clock } from "../runtime.ts";
import type { StrategyComparison } from "../scaling-strategy.ts";
import type {
  BatchOutput,
  CostEstimate,
  ImageFailure,
  Plan,
  Sizing,
  SkippedObject,
  SkipReason,
  TimelinePoint,
} from "../shapes.ts";
import type { CapacityMeasurement } from "./capacity.ts";
import type { LedgerCounts } from "./ledger-counts.ts";
import type { FailedBatch } from "./map-results.ts";
import type { RescaleSummary } from "./rescale.ts";
import type { RunTail } from "./tail.ts";
import type { ThroughputObservation, UnitsPoint } from "./throughput.ts";
import type { MeasuredUsage, UnitMetricsOutcome } from "./unit-metrics.ts";

/** The model step's output, as it sits in the workflow state. */
export interface ModelInfo {
  /** What the run did, e.g. "started", "reused", "waited-then-started". */
  action: string;
  /** True when this run started the model (and so stops it and pays for it). */
  owned: boolean;
  status: string;
  /** ISO time StartProjectVersion was called (when this run started the model). */
  startRequestedAt?: string;
  units: number;
}

/** The wait loop's last describe: when RUNNING was seen. */
export interface CheckInfo {
  status: string;
  checkedAt: string;
}

/** The stop step's output. */
export interface StopInfo {
  stopped: boolean;
  reason: string;
  stopRequestedAt?: string;
}

/** A caught error the workflow routed to the report (absent on the success path). */
export interface RunFailure {
  Error: string;
  Cause?: string;
}

export interface RunSummaryInput {
  plan: Plan;
  batches: readonly BatchOutput[];
  failedBatches?: readonly FailedBatch[];
  /** `false` when the Map never wrote results (it did not run). */
  mapRan: boolean;
  mapRunArn?: string;
  skipped: readonly SkippedObject[];
  /**
   * Each manifest image's outcome as the ledger holds it. When given, the
   * counts come from here, not from the batches' outputs (a batch that failed
   * part-way returned nothing but wrote what it finished).
   */
  ledger?: LedgerCounts;
  /** What the run's result parts hold, when they could be read. */
  resultParts?: PartCounts;
  model?: ModelInfo;
  check?: CheckInfo;
  stop?: StopInfo;
  /** The Map's rounds and the restart decision (`rescale: "restart"` runs). */
  rounds?: RoundsState;
  /** The stop of a restart with more units. */
  restartStop?: StopInfo;
  failure?: RunFailure;
  /**
   * The model's unit metrics read from CloudWatch (GetMetricData), on AWS and
   * locally alike; without them the units are taken as constant.
   */
  unitMetrics?: UnitMetricsOutcome;
  /** ISO start of the execution, when the workflow passes it; the plan phase is unknown without it. */
  executionStartedAt?: string;
  clock: Clock;
}

export type RunOutcome =
  | "succeeded"
  | "succeeded-with-failures"
  | "incomplete"
  | "failed"
  | "nothing-to-do";

export interface ReconciliationCheck {
  name: string;
  /** The equation as text, with the numbers filled in. */
  equation: string;
  left: number;
  right: number;
  ok: boolean;
}

export interface Phase {
  name: "plan" | "start" | "processing" | "stop" | "report";
  label: string;
  startedAt?: string;
  endedAt?: string;
  /** `null` when the run did not go through the phase or its times are unknown. */
  seconds: number | null;
  note?: string;
}

export interface ChartPoint extends TimelinePoint {
  /** The run's limit at that second: units in service x planned TPS per unit. */
  limit: number;
}

export interface Billing {
  /** Always true: computed from request times, not from AWS's meter. */
  estimate: true;
  owned: boolean;
  units: number;
  from?: string;
  to?: string;
  billedSeconds: number;
  inferenceHours: number;
  /** When auto-scaling without a units timeline: the hours had every unit been at the maximum. */
  upperBoundInferenceHours?: number;
  pricePerUnitHour: number;
  cost: number;
  note: string;
  /** The hours measured from InServiceInferenceUnits, beside this estimate. */
  measured: MeasuredUsage;
}

export interface CompareRow {
  name: string;
  planned: number | null;
  actual: number | null;
  unit: string;
}

/** The machine-readable report of one run, written as `summary.json`. */
export interface RunSummary {
  schemaVersion: 1;
  runId: string;
  executionId: string;
  generatedAt: string;
  outcome: RunOutcome;
  /** One sentence saying why the outcome is what it is. */
  outcomeNote: string;
  projectVersionArn: string;
  images: { bucket: string; prefix: string };
  results: { bucket: string; prefix: string };
  /** The run's result parts (one line per image finished), as read by the report; absent when unreadable. */
  resultParts?: PartCounts & { bucket: string };
  mapRunArn?: string;
  counts: {
    listed: number;
    pending: number;
    skipped: number;
    alreadyDone: number;
    succeeded: number;
    /** The image is bad (format, dimensions, size): final until it changes. */
    failed: number;
    /** The image could not be read: pending again next run. */
    unreadable: number;
    /** Pending items with no ledger entry for their version from this run (not analysed). */
    unaccounted: number;
    /** Pending because their result was for an older version of the image (it was replaced). */
    replaced: number;
    /** Pending because their result object was not a readable record (it is overwritten). */
    unreadableResults: number;
    /** Where succeeded/failed/unreadable come from: the ledger, or the batches' outputs. */
    countsSource: "ledger" | "batches";
    /** Items finished by an earlier attempt of their batch (already in succeeded/failed). */
    resumed: number;
    batches: number;
    failedBatches: number;
  };
  reconciled: boolean;
  checks: ReconciliationCheck[];
  /** What does not add up, in words (empty when reconciled). */
  discrepancies: string[];
  /** Things a person should look at that are not count mismatches. */
  warnings: string[];
  failures: {
    /**
     * A sample of the failed images: each batch's output names only a few
     * (it is a Step Functions state, capped at 256 KiB). `counts.failed` is the count.
     */
    images: ImageFailure[];
    /** Every image that failed in this run, named or not. */
    imagesTotal: number;
    /** True when `images` does not name every failed image. */
    imagesTruncated: boolean;
    /** Where every failure is recorded with its full message: one ledger record per image, `"status": "failed"`. */
    ledger: { bucket: string; prefix: string };
    batches: FailedBatch[];
  };
  skipped: {
    total: number;
    byReason: { reason: SkipReason; count: number }[];
    list: SkippedObject[];
    /** True when `list` holds only the first `SKIPPED_LIST_LIMIT`; the full list is `listKey`. */
    listTruncated: boolean;
    listKey: string;
  };
  labels: { label: string; images: number }[];
  throughput: {
    plannedTpsPerUnit: number;
    provisionedTps: number;
    calls: number;
    accepted: number;
    throttled: number;
    retried: number;
    /** Throttled calls / all calls (0..1). */
    throttledRatio: number;
    observed: ThroughputObservation;
    /** From the first worker without work to the last batch's end (see `tail.ts`). */
    tail?: RunTail;
    timeline: ChartPoint[];
  };
  units: {
    /** "cloudwatch": the timeline is the model's metrics; "constant": the starting units. */
    source: "cloudwatch" | "constant";
    /** Whether the model's metrics were read, and if not why. */
    metrics: { status: "read" | "unavailable" | "not-read"; note: string };
    autoScaling: boolean;
    minInferenceUnits: number;
    maxInferenceUnits?: number;
    timeline: UnitsPoint[];
  };
  billing: Billing;
  /** What this run says about capacity (see `capacity.ts`), if anything. */
  capacity?: CapacityMeasurement;
  phases: Phase[];
  model?: ModelInfo & { stopped?: boolean; stopReason?: string; runningSeenAt?: string };
  failure?: RunFailure;
  plan: { plannedAt: string; sizing: Sizing; cost: CostEstimate; strategy?: StrategyComparison };
  /** Present when the plan used one unit: what a unit failure would have cost, and two instead. */
  singleUnitRisk?: SingleUnitRisk;
  planVsActual: CompareRow[];
  /** Present when the run was split into rounds to decide on a restart with more units. */
  rescale?: RescaleSummary;
}
