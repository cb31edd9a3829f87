import { type SingleUnitRisk, singleUnitRisk } from "../availability.ts";
import { readableCause } from "../failure-cause.ts";
import { resultsFolder } from "../result-keys.ts";
import type { Clock } from "../runtime.ts";
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
import { type CapacityMeasurement, measureCapacity } from "./capacity.ts";
import type { LedgerCounts } from "./ledger-counts.ts";
import type { FailedBatch } from "./map-results.ts";
import {
  mergeTimelines,
  observeThroughput,
  sortUnitsTimeline,
  type ThroughputObservation,
  type UnitsPoint,
  unitSeconds,
  unitsAt,
} from "./throughput.ts";
import {
  type MeasuredUsage,
  measuredUsage,
  type UnitMetricsOutcome,
  unitsTimelineFromMetrics,
} from "./unit-metrics.ts";

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
  model?: ModelInfo;
  check?: CheckInfo;
  stop?: StopInfo;
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
  plan: { plannedAt: string; sizing: Sizing; cost: CostEstimate };
  /** Present when the plan used one unit: what a unit failure would have cost, and two instead. */
  singleUnitRisk?: SingleUnitRisk;
  planVsActual: CompareRow[];
}

/** The summary names at most this many failed images (all batches' samples together). */
export const FAILURE_LIST_LIMIT = 1000;

function failuresOf(
  batches: readonly BatchOutput[],
  failedBatches: FailedBatch[],
  failed: number,
  plan: Plan,
): RunSummary["failures"] {
  const images = batches.flatMap((b) => b.failures).slice(0, FAILURE_LIST_LIMIT);
  return {
    images,
    imagesTotal: failed,
    imagesTruncated: images.length < failed,
    ledger: {
      bucket: plan.context.resultsBucket,
      prefix: resultsFolder(plan.context.resultsPrefix),
    },
    batches: failedBatches,
  };
}

/** The summary keeps the first skipped objects; the full list stays in `skipped.jsonl`. */
export const SKIPPED_LIST_LIMIT = 1000;

const ms = (iso: string | undefined): number | undefined => {
  if (iso === undefined) return undefined;
  const value = Date.parse(iso);
  return Number.isNaN(value) ? undefined : value;
};

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

function sum<T>(items: readonly T[], value: (item: T) => number): number {
  return items.reduce((total, item) => total + value(item), 0);
}

function phase(
  name: Phase["name"],
  label: string,
  startedAt: string | undefined,
  endedAt: string | undefined,
  note?: string,
): Phase {
  const from = ms(startedAt);
  const to = ms(endedAt);
  const seconds = from !== undefined && to !== undefined ? Math.max(0, (to - from) / 1000) : null;
  return { name, label, startedAt, endedAt, seconds, ...(note ? { note } : {}) };
}

interface Totals {
  succeeded: number;
  failed: number;
  unreadable: number;
  notAnalysed: number;
}

function reconcile(input: RunSummaryInput, totals: Totals) {
  const { plan, batches, skipped } = input;
  const failedBatches = input.failedBatches ?? [];
  const c = plan.counts;
  const checks: ReconciliationCheck[] = [];
  const discrepancies: string[] = [];
  const check = (name: string, equation: string, left: number, right: number) => {
    const ok = left === right;
    checks.push({ name, equation, left, right, ok });
    return ok;
  };

  if (
    !check(
      "listed objects",
      `listed ${c.listed} = pending ${c.pending} + skipped ${c.skipped} + already done ${c.alreadyDone}`,
      c.listed,
      c.pending + c.skipped + c.alreadyDone,
    )
  ) {
    discrepancies.push(
      `The plan's counts do not add up: ${c.listed} listed but ${c.pending + c.skipped + c.alreadyDone} pending, skipped or already done.`,
    );
  }

  if (
    !check(
      "skipped list",
      `skipped ${c.skipped} = objects in the skipped list ${skipped.length}`,
      c.skipped,
      skipped.length,
    )
  ) {
    discrepancies.push(
      `The plan counted ${plural(c.skipped, "skipped object")} but the skipped list holds ${skipped.length}.`,
    );
  }

  const reasons = plan.pendingByReason;
  if (reasons) {
    const sumReasons =
      reasons.new + reasons.replaced + reasons.unreadableResult + reasons.unreadableImage;
    if (
      !check(
        "pending reasons",
        `pending ${c.pending} = new ${reasons.new} + replaced ${reasons.replaced} + unreadable results ${reasons.unreadableResult} + unreadable images ${reasons.unreadableImage}`,
        c.pending,
        sumReasons,
      )
    ) {
      discrepancies.push(
        `The plan's pending images do not add up by reason: ${c.pending} pending, ${sumReasons} with a reason.`,
      );
    }
  }

  const processed = totals.succeeded + totals.failed + totals.unreadable;
  const gap = c.pending - processed;
  const terms = `succeeded ${totals.succeeded} + failed ${totals.failed}${totals.unreadable > 0 || input.ledger ? ` + unreadable ${totals.unreadable}` : ""}`;
  // From the ledger, every manifest image has exactly one of four outcomes,
  // "not analysed" included; the run is complete only if that one is 0.
  let pendingOk: boolean;
  if (input.ledger) {
    const outcomes = processed + totals.notAnalysed;
    if (
      !check(
        "pending items",
        `pending ${c.pending} = ${terms} + not analysed ${totals.notAnalysed}`,
        c.pending,
        outcomes,
      )
    ) {
      discrepancies.push(
        `The run's manifest holds ${outcomes} images but the plan counted ${c.pending} pending.`,
      );
    }
    pendingOk = check("analysed", `not analysed ${totals.notAnalysed} = 0`, totals.notAnalysed, 0);
  } else {
    pendingOk = check("pending items", `pending ${c.pending} = ${terms}`, c.pending, processed);
  }
  if (!pendingOk && input.ledger) {
    const inFailed =
      failedBatches.length > 0
        ? ` (${plural(failedBatches.length, "batch")} did not succeed: ${[...new Set(failedBatches.map((b) => b.error))].join(", ")})`
        : "";
    discrepancies.push(
      `${plural(totals.notAnalysed, "pending image")} ${totals.notAnalysed === 1 ? "has" : "have"} no result for ${totals.notAnalysed === 1 ? "its" : "their"} version in the ledger${input.mapRan ? "" : "; the Distributed Map did not run (no ResultWriter output)"}${inFailed}. A new run picks them up (the results prefix is the ledger).`,
    );
  } else if (!pendingOk) {
    if (gap > 0) {
      const known = failedBatches.filter((b) => b.items !== undefined);
      const inFailed = sum(known, (b) => b.items ?? 0);
      const unknownSize = failedBatches.length - known.length;
      const parts: string[] = [];
      if (!input.mapRan) parts.push("the Distributed Map did not run (no ResultWriter output)");
      if (failedBatches.length > 0) {
        const kinds = [...new Set(failedBatches.map((b) => b.error))].join(", ");
        parts.push(
          `${plural(inFailed, "item")} ${inFailed === 1 ? "was" : "were"} in ${plural(known.length, "batch")} that did not succeed (${kinds})` +
            (unknownSize > 0 ? `, and ${plural(unknownSize, "failed batch")} of unknown size` : ""),
        );
      }
      const unexplained = gap - inFailed;
      if (input.mapRan && unexplained > 0 && unknownSize === 0) {
        parts.push(`${unexplained} cannot be traced to any batch`);
      }
      discrepancies.push(
        `${plural(gap, "pending image")} ${gap === 1 ? "has" : "have"} no outcome from this run: ${parts.join("; ") || "no batch reported them"}. A new run picks them up (the results prefix is the ledger).`,
      );
    } else {
      discrepancies.push(
        `The batches report ${processed} outcomes for ${c.pending} pending images: ${-gap} more than there were (an item counted twice).`,
      );
    }
  }

  const inconsistent = batches.filter(
    (b) => b.items !== b.succeeded + b.failed + (b.unreadable ?? 0),
  );
  if (
    !check(
      "batch totals",
      `batches with items = succeeded + failed + unreadable: ${batches.length - inconsistent.length} of ${batches.length}`,
      batches.length - inconsistent.length,
      batches.length,
    )
  ) {
    discrepancies.push(
      `${plural(inconsistent.length, "batch")} report items that are neither succeeded, failed nor unreadable.`,
    );
  }

  // Against the batches' own counts (a batch that failed part-way reports
  // neither). Counted from numbers: a batch names a sample and counts the
  // failures it leaves out.
  const recordedFailures = sum(batches, (b) => b.failures.length + b.failuresOmitted);
  const batchFailed = sum(batches, (b) => b.failed);
  if (
    !check(
      "failure records",
      `failed in batches ${batchFailed} = failures reported by the batches ${recordedFailures}`,
      batchFailed,
      recordedFailures,
    )
  ) {
    discrepancies.push(
      `${batchFailed} images failed but ${recordedFailures} failures were recorded with a reason.`,
    );
  }

  return { checks, discrepancies, reconciled: checks.every((ch) => ch.ok) };
}

function billingOf(
  input: RunSummaryInput,
  units: number,
  timeline: readonly UnitsPoint[],
  warnings: string[],
  now: number,
): Omit<Billing, "measured"> {
  const { plan, model, stop } = input;
  const price = plan.cost.pricePerUnitHour;
  const base = { estimate: true as const, units, pricePerUnitHour: price };
  if (!model) {
    return {
      ...base,
      units: 0,
      owned: false,
      billedSeconds: 0,
      inferenceHours: 0,
      cost: 0,
      note: "The model was not started by this run: no inference hours are billed to it.",
    };
  }
  if (!model.owned) {
    return {
      ...base,
      owned: false,
      billedSeconds: 0,
      inferenceHours: 0,
      cost: 0,
      note: "The model was already running when the run began. This run did not start or stop it, so its hours are not this run's.",
    };
  }
  const from = ms(model.startRequestedAt);
  if (from === undefined) {
    warnings.push(
      "The run started the model but its start time was not recorded: billing unknown.",
    );
    return {
      ...base,
      owned: true,
      billedSeconds: 0,
      inferenceHours: 0,
      cost: 0,
      note: "Start time unknown.",
    };
  }
  let to = ms(stop?.stopRequestedAt);
  if (to === undefined) {
    warnings.push(
      "The run started the model but no stop request is recorded: the model may still be running. Billing is counted up to the report.",
    );
    to = now;
  }
  const billedSeconds = Math.max(0, (to - from) / 1000);
  const max = plan.sizing.maxInferenceUnits;
  // The units billed are the ones asked for, not only those in service: a
  // unit being started or replaced still counts. So never fewer than the
  // units the model was started with, and more only when the timeline shows
  // auto-scaling asked for (desired) or ran (in service) more.
  const billedUnits = timeline.map((p) => ({
    t: p.t,
    units: Math.max(p.units, p.desired ?? 0, units),
  }));
  const hours = unitSeconds(billedUnits, from / 1000, to / 1000, units) / 3600;
  const upper =
    max !== undefined && timeline.length === 0 ? (billedSeconds * max) / 3600 : undefined;
  return {
    ...base,
    owned: true,
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    billedSeconds,
    inferenceHours: hours,
    ...(upper !== undefined ? { upperBoundInferenceHours: upper } : {}),
    cost: hours * price,
    note:
      "Estimate: units x time from the StartProjectVersion request to the StopProjectVersion request" +
      (timeline.length > 0
        ? " (units above the starting count taken from the model's CloudWatch metrics). "
        : ". ") +
      "AWS's meter decides the bill (its granularity and whether start-up time is billed are not confirmed)." +
      (upper !== undefined
        ? ` Auto-scaling could use up to ${max} units: at most ${upper.toFixed(3)} inference hours.`
        : ""),
  };
}

function outcomeOf(
  input: RunSummaryInput,
  counts: RunSummary["counts"],
  discrepancies: readonly string[],
): { outcome: RunOutcome; note: string } {
  if (input.failure) {
    return {
      outcome: "failed",
      note: `The workflow failed: ${input.failure.Error}${input.failure.Cause ? ` (${readableCause(input.failure.Cause)})` : ""}.`,
    };
  }
  if (discrepancies.length > 0) {
    return { outcome: "incomplete", note: discrepancies[0] as string };
  }
  if (input.plan.nothingToDo && counts.pending === 0) {
    return { outcome: "nothing-to-do", note: "No image was pending: the model was not started." };
  }
  if (counts.failed > 0 || counts.unreadable > 0) {
    const parts = [
      ...(counts.failed > 0
        ? [`${plural(counts.failed, "image")} failed with a recorded reason`]
        : []),
      ...(counts.unreadable > 0
        ? [`${plural(counts.unreadable, "image")} could not be read (the next run tries again)`]
        : []),
    ];
    return {
      outcome: "succeeded-with-failures",
      note: `Every pending image has an outcome; ${parts.join("; ")}.`,
    };
  }
  return { outcome: "succeeded", note: "Every pending image was analysed." };
}

function singleUnitRiskOf(plan: Plan): { singleUnitRisk?: SingleUnitRisk } {
  const risk = singleUnitRisk({
    sizing: plan.sizing,
    pending: plan.counts.pending,
    pricePerUnitHour: plan.cost.pricePerUnitHour,
  });
  return risk ? { singleUnitRisk: risk } : {};
}

/**
 * Builds the run's report from what the workflow recorded. Pure: every input
 * is passed in, and the clock is read once for `generatedAt` (and as the end
 * of billing if no stop was recorded).
 */
export function buildRunSummary(input: RunSummaryInput): RunSummary {
  const { plan, batches, skipped, model, check, stop } = input;
  const failedBatches = [...(input.failedBatches ?? [])];
  const now = input.clock.now();
  const warnings: string[] = [];

  const ledger = input.ledger;
  const succeeded = ledger ? ledger.succeeded : sum(batches, (b) => b.succeeded);
  const failed = ledger ? ledger.failed : sum(batches, (b) => b.failed);
  const unreadable = ledger ? ledger.unreadable : sum(batches, (b) => b.unreadable ?? 0);
  const notAnalysed = ledger
    ? ledger.notAnalysed
    : Math.max(0, plan.counts.pending - succeeded - failed - unreadable);
  const counts: RunSummary["counts"] = {
    listed: plan.counts.listed,
    pending: plan.counts.pending,
    skipped: plan.counts.skipped,
    alreadyDone: plan.counts.alreadyDone,
    succeeded,
    failed,
    unreadable,
    unaccounted: notAnalysed,
    replaced: plan.pendingByReason?.replaced ?? 0,
    unreadableResults: plan.pendingByReason?.unreadableResult ?? 0,
    countsSource: ledger ? "ledger" : "batches",
    resumed: sum(batches, (b) => b.resumed),
    batches: batches.length,
    failedBatches: failedBatches.length,
  };
  const { checks, discrepancies, reconciled } = reconcile(input, {
    succeeded,
    failed,
    unreadable,
    notAnalysed,
  });

  // Units: the timeline when given, else what the model ran with, constant.
  const units = model?.units ?? plan.sizing.units;
  const unitsTimeline = sortUnitsTimeline(
    input.unitMetrics?.status === "read" ? unitsTimelineFromMetrics(input.unitMetrics.reading) : [],
  );
  const tpsPerUnit = plan.sizing.tpsPerUnit;
  const unitsAtSecond = (t: number) => unitsAt(unitsTimeline, t, units);
  const limitAt = (t: number) => unitsAtSecond(t) * tpsPerUnit;

  const merged = mergeTimelines(batches.map((b) => b.timeline));
  const observed = observeThroughput(merged, limitAt, unitsAtSecond);
  const calls = sum(batches, (b) => b.calls);
  const throttled = sum(batches, (b) => b.throttled);

  const stopRequestedAtMs = ms(stop?.stopRequestedAt);
  const billing: Billing = {
    ...billingOf(input, units, unitsTimeline, warnings, now),
    measured: measuredUsage({
      outcome: input.unitMetrics,
      owned: model?.owned === true,
      ...(stopRequestedAtMs !== undefined ? { stopRequestedAtMs } : {}),
      pricePerUnitHour: plan.cost.pricePerUnitHour,
    }),
  };
  if (model?.owned && billing.measured.status === "unavailable") {
    warnings.push(billing.measured.note);
  }
  if (model?.owned && stop && !stop.stopped) {
    warnings.push(`The run started the model but did not stop it: ${stop.reason}.`);
  }

  const labelsOmitted = sum(batches, (b) => b.labelsOmitted);
  if (labelsOmitted > 0) {
    warnings.push(
      `The label counts are incomplete: batches had too many distinct labels to return them all (${labelsOmitted} left out, counted per batch). Each image's labels are in its ledger record.`,
    );
  }
  const labels = new Map<string, number>();
  for (const batch of batches) {
    for (const [label, images] of Object.entries(batch.labels)) {
      labels.set(label, (labels.get(label) ?? 0) + images);
    }
  }

  const byReason = new Map<SkipReason, number>();
  for (const object of skipped) byReason.set(object.reason, (byReason.get(object.reason) ?? 0) + 1);

  const processingStart = batches
    .map((b) => ms(b.startedAt))
    .filter((t) => t !== undefined)
    .sort((a, b) => a - b)[0];
  const processingEnd = batches
    .map((b) => ms(b.endedAt))
    .filter((t) => t !== undefined)
    .sort((a, b) => b - a)[0];
  const iso = (t: number | undefined) => (t === undefined ? undefined : new Date(t).toISOString());
  const nowIso = new Date(now).toISOString();
  const startRequestedAt = model?.owned ? model.startRequestedAt : undefined;
  const runningSeenAt = check?.status === "RUNNING" ? check.checkedAt : undefined;

  const phases: Phase[] = [
    phase(
      "plan",
      "Plan (list, size)",
      input.executionStartedAt,
      plan.plannedAt,
      input.executionStartedAt ? undefined : "execution start time not passed to the report",
    ),
    phase(
      "start",
      "Model start (request to RUNNING)",
      startRequestedAt,
      startRequestedAt ? runningSeenAt : undefined,
      model && !model.owned ? "model was already running" : model ? undefined : "model not started",
    ),
    phase(
      "processing",
      "Processing (first to last batch)",
      iso(processingStart),
      iso(processingEnd),
    ),
    phase(
      "stop",
      "Last image to stop request",
      iso(processingEnd),
      model?.owned ? stop?.stopRequestedAt : undefined,
      model?.owned ? undefined : "this run does not stop the model",
    ),
    phase(
      "report",
      "Report",
      stop?.stopRequestedAt ?? iso(processingEnd) ?? plan.plannedAt,
      nowIso,
    ),
  ];

  const phaseSeconds = (name: Phase["name"]) =>
    phases.find((p) => p.name === name)?.seconds ?? null;
  const { outcome, note } = outcomeOf(input, counts, discrepancies);
  const capacity = measureCapacity(merged, unitsAtSecond, limitAt);

  return {
    schemaVersion: 1,
    runId: plan.runId,
    executionId: plan.executionId,
    generatedAt: nowIso,
    outcome,
    outcomeNote: note,
    projectVersionArn: plan.context.projectVersionArn,
    images: { bucket: plan.context.imagesBucket, prefix: plan.imagesPrefix },
    results: { bucket: plan.context.resultsBucket, prefix: plan.context.resultsPrefix },
    ...(input.mapRunArn ? { mapRunArn: input.mapRunArn } : {}),
    counts,
    reconciled,
    checks,
    discrepancies,
    warnings,
    failures: failuresOf(batches, failedBatches, failed, plan),
    skipped: {
      total: skipped.length,
      byReason: [...byReason]
        .map(([reason, count]) => ({ reason, count }))
        .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason)),
      list: skipped.slice(0, SKIPPED_LIST_LIMIT),
      listTruncated: skipped.length > SKIPPED_LIST_LIMIT,
      listKey: plan.skippedList.key,
    },
    labels: [...labels]
      .map(([label, images]) => ({ label, images }))
      .sort((a, b) => b.images - a.images || a.label.localeCompare(b.label)),
    throughput: {
      plannedTpsPerUnit: tpsPerUnit,
      provisionedTps: units * tpsPerUnit,
      calls,
      accepted: calls - throttled,
      throttled,
      retried: sum(batches, (b) => b.retried),
      throttledRatio: calls > 0 ? throttled / calls : 0,
      observed,
      timeline: merged.map((p) => ({ ...p, limit: limitAt(p.t) })),
    },
    units: {
      source: unitsTimeline.length > 0 ? "cloudwatch" : "constant",
      metrics:
        input.unitMetrics === undefined
          ? { status: "not-read", note: "The model's CloudWatch metrics were not read." }
          : input.unitMetrics.status === "read"
            ? {
                status: "read",
                note: `From CloudWatch GetMetricData (AWS/Rekognition, Average per ${input.unitMetrics.reading.periodSeconds} s).`,
              }
            : { status: "unavailable", note: `Not read: ${input.unitMetrics.reason}.` },
      autoScaling: plan.sizing.maxInferenceUnits !== undefined,
      minInferenceUnits: units,
      ...(plan.sizing.maxInferenceUnits !== undefined
        ? { maxInferenceUnits: plan.sizing.maxInferenceUnits }
        : {}),
      timeline: unitsTimeline,
    },
    billing,
    ...(capacity ? { capacity } : {}),
    phases,
    ...(model
      ? {
          model: {
            ...model,
            ...(stop ? { stopped: stop.stopped, stopReason: stop.reason } : {}),
            ...(runningSeenAt ? { runningSeenAt } : {}),
          },
        }
      : {}),
    ...(input.failure ? { failure: input.failure } : {}),
    plan: { plannedAt: plan.plannedAt, sizing: plan.sizing, cost: plan.cost },
    ...singleUnitRiskOf(plan),
    planVsActual: [
      {
        name: "Inference units",
        planned: plan.sizing.units,
        actual: model ? units : null,
        unit: "",
      },
      {
        name: "Start-up",
        planned: plan.sizing.startupSeconds,
        actual: phaseSeconds("start"),
        unit: "s",
      },
      {
        name: "Processing",
        planned: plan.sizing.expectedProcessingSeconds,
        actual: phaseSeconds("processing"),
        unit: "s",
      },
      {
        name: "TPS per unit",
        planned: tpsPerUnit,
        actual: observed.activeSeconds > 0 ? observed.tpsPerUnit : null,
        unit: "calls/s",
      },
      {
        name: "Inference hours (estimate from request times)",
        planned: plan.cost.chosen.inferenceHours,
        actual: billing.inferenceHours,
        unit: "h",
      },
      {
        name: "Inference hours (measured, CloudWatch)",
        planned: plan.cost.chosen.inferenceHours,
        actual: billing.measured.inferenceHours ?? null,
        unit: "h",
      },
      {
        name: "Cost (estimate)",
        planned: plan.cost.chosen.cost,
        actual: billing.cost,
        unit: "USD",
      },
      {
        name: "Cost (measured)",
        planned: plan.cost.chosen.cost,
        actual: billing.measured.cost ?? null,
        unit: "USD",
      },
    ],
  };
}
