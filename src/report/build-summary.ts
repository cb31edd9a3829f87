/**
 * Builds the run's summary from what the workflow recorded: counts,
 * reconciliation, throughput, units, billing, phases and plan vs. actual.
 * Each section has its own module; this one puts them together.
 */
import { type SingleUnitRisk, singleUnitRisk } from "../availability.ts";
import { resultsFolder } from "../result-keys.ts";
import type { BatchOutput, Plan, SkippedObject, SkipReason } from "../shapes.ts";
import { billingOf } from "./billing.ts";
import { measureCapacity } from "./capacity.ts";
import type { FailedBatch } from "./map-results.ts";
import { epochMs, sum } from "./numbers.ts";
import { outcomeOf } from "./outcome.ts";
import { phasesOf } from "./phases.ts";
import { reconcile, type Totals } from "./reconcile.ts";
import { type EndedSession, rescaleSummary } from "./rescale.ts";
import type { Billing, CompareRow, Phase, RunSummary, RunSummaryInput } from "./run-summary.ts";
import { startToDone, strategyRows } from "./strategy.ts";
import { tailOf } from "./tail.ts";
import {
  mergeTimelines,
  observeThroughput,
  sortUnitsTimeline,
  type ThroughputObservation,
  type UnitsPoint,
  unitsAt,
} from "./throughput.ts";
import { measuredUsage, unitsTimelineFromMetrics } from "./unit-metrics.ts";

/** The summary names at most this many failed images (all batches' samples together). */
export const FAILURE_LIST_LIMIT = 1000;

/** The summary keeps the first skipped objects; the full list stays in `skipped.jsonl`. */
export const SKIPPED_LIST_LIMIT = 1000;

/**
 * Builds the run's report from what the workflow recorded. Pure: every input
 * is passed in, and the clock is read once for `generatedAt` (and as the end
 * of billing if no stop was recorded).
 */
export function buildRunSummary(input: RunSummaryInput): RunSummary {
  const { plan, batches, skipped, model, check, stop } = input;
  const failedBatches = [...(input.failedBatches ?? [])];
  const now = input.clock.now();
  const nowIso = new Date(now).toISOString();
  const warnings: string[] = [];

  const totals = totalsOf(input);
  const counts = countsOf(input, totals, failedBatches.length);
  const { checks, discrepancies, reconciled } = reconcile(input, totals);

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

  const rescale = rescaleSummary(input.rounds, input.restartStop, plan.cost.pricePerUnitHour);
  const billing = withEndedSession(
    billingWithMeasured(input, units, unitsTimeline, warnings, now),
    rescale?.endedSession,
  );
  const labels = labelsOf(batches, warnings);
  const runningSeenAt = check?.status === "RUNNING" ? check.checkedAt : undefined;
  const phases = phasesOf(input, runningSeenAt, nowIso);
  const { outcome, note } = outcomeOf(input, counts, discrepancies);
  const capacity = measureCapacity(merged, unitsAtSecond, limitAt);
  const calls = sum(batches, (b) => b.calls);
  const throttled = sum(batches, (b) => b.throttled);
  const tail = tailOf(batches);

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
    ...(input.resultParts
      ? { resultParts: { bucket: plan.context.resultsBucket, ...input.resultParts } }
      : {}),
    ...(input.mapRunArn ? { mapRunArn: input.mapRunArn } : {}),
    counts,
    reconciled,
    checks,
    discrepancies,
    warnings,
    failures: failuresOf(batches, failedBatches, totals.failed, plan),
    skipped: skippedOf(plan, skipped),
    labels,
    throughput: {
      plannedTpsPerUnit: tpsPerUnit,
      provisionedTps: units * tpsPerUnit,
      calls,
      accepted: calls - throttled,
      throttled,
      retried: sum(batches, (b) => b.retried),
      throttledRatio: calls > 0 ? throttled / calls : 0,
      observed,
      ...(tail ? { tail } : {}),
      timeline: merged.map((p) => ({ ...p, limit: limitAt(p.t) })),
    },
    units: unitsOf(input, units, unitsTimeline),
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
    plan: {
      plannedAt: plan.plannedAt,
      sizing: plan.sizing,
      cost: plan.cost,
      ...(plan.strategy ? { strategy: plan.strategy } : {}),
    },
    ...singleUnitRiskOf(plan),
    planVsActual: [
      ...planVsActual(plan, model ? units : null, phases, observed, billing),
      ...(plan.strategy
        ? strategyRows(plan.strategy, {
            peakUnits: model ? Math.max(units, ...unitsTimeline.map((p) => p.units)) : null,
            startToDoneSeconds: startToDone(phases),
          })
        : []),
    ],
    ...(rescale ? { rescale } : {}),
  };
}

/** A restart ended a model session before the one that finished the run: both are billed. */
function withEndedSession(billing: Billing, ended: EndedSession | undefined): Billing {
  if (!ended || !billing.owned) return billing;
  return {
    ...billing,
    ...(billing.from ? { from: ended.from } : {}),
    inferenceHours: billing.inferenceHours + ended.inferenceHours,
    cost: billing.cost + ended.cost,
    note: `${billing.note} Includes the session the restart ended: ${ended.units} unit(s) from ${ended.from} to ${ended.to} (${ended.inferenceHours.toFixed(4)} inference hours).`,
  };
}

/** The outcomes from the ledger when it was counted, else from the batches' own counts. */
function totalsOf(input: RunSummaryInput): Totals {
  const { ledger, batches, plan } = input;
  if (ledger) {
    return {
      succeeded: ledger.succeeded,
      failed: ledger.failed,
      unreadable: ledger.unreadable,
      notAnalysed: ledger.notAnalysed,
    };
  }
  const succeeded = sum(batches, (b) => b.succeeded);
  const failed = sum(batches, (b) => b.failed);
  const unreadable = sum(batches, (b) => b.unreadable ?? 0);
  const notAnalysed = Math.max(0, plan.counts.pending - succeeded - failed - unreadable);
  return { succeeded, failed, unreadable, notAnalysed };
}

function countsOf(
  input: RunSummaryInput,
  totals: Totals,
  failedBatches: number,
): RunSummary["counts"] {
  const { plan, batches } = input;
  return {
    listed: plan.counts.listed,
    pending: plan.counts.pending,
    skipped: plan.counts.skipped,
    alreadyDone: plan.counts.alreadyDone,
    succeeded: totals.succeeded,
    failed: totals.failed,
    unreadable: totals.unreadable,
    unaccounted: totals.notAnalysed,
    replaced: plan.pendingByReason?.replaced ?? 0,
    unreadableResults: plan.pendingByReason?.unreadableResult ?? 0,
    countsSource: input.ledger ? "ledger" : "batches",
    resumed: sum(batches, (b) => b.resumed),
    batches: batches.length,
    failedBatches,
  };
}

/** The estimate beside the measured figure, with the warnings either gives rise to. */
function billingWithMeasured(
  input: RunSummaryInput,
  units: number,
  unitsTimeline: readonly UnitsPoint[],
  warnings: string[],
  now: number,
): Billing {
  const { model, stop } = input;
  const stopRequestedAtMs = epochMs(stop?.stopRequestedAt);
  const billing: Billing = {
    ...billingOf(input, units, unitsTimeline, warnings, now),
    measured: measuredUsage({
      outcome: input.unitMetrics,
      owned: model?.owned === true,
      ...(stopRequestedAtMs !== undefined ? { stopRequestedAtMs } : {}),
      pricePerUnitHour: input.plan.cost.pricePerUnitHour,
    }),
  };
  if (model?.owned && billing.measured.status === "unavailable") {
    warnings.push(billing.measured.note);
  }
  if (model?.owned && stop && !stop.stopped) {
    warnings.push(`The run started the model but did not stop it: ${stop.reason}.`);
  }
  return billing;
}

/** Images per label over all batches, most frequent first. */
function labelsOf(batches: readonly BatchOutput[], warnings: string[]): RunSummary["labels"] {
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
  return [...labels]
    .map(([label, images]) => ({ label, images }))
    .sort((a, b) => b.images - a.images || a.label.localeCompare(b.label));
}

function skippedOf(plan: Plan, skipped: readonly SkippedObject[]): RunSummary["skipped"] {
  const byReason = new Map<SkipReason, number>();
  for (const object of skipped) byReason.set(object.reason, (byReason.get(object.reason) ?? 0) + 1);
  return {
    total: skipped.length,
    byReason: [...byReason]
      .map(([reason, count]) => ({ reason, count }))
      .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason)),
    list: skipped.slice(0, SKIPPED_LIST_LIMIT),
    listTruncated: skipped.length > SKIPPED_LIST_LIMIT,
    listKey: plan.skippedList.key,
  };
}

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

function unitsOf(
  input: RunSummaryInput,
  units: number,
  unitsTimeline: UnitsPoint[],
): RunSummary["units"] {
  const max = input.plan.sizing.maxInferenceUnits;
  return {
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
    autoScaling: max !== undefined,
    minInferenceUnits: units,
    ...(max !== undefined ? { maxInferenceUnits: max } : {}),
    timeline: unitsTimeline,
  };
}

function singleUnitRiskOf(plan: Plan): { singleUnitRisk?: SingleUnitRisk } {
  const risk = singleUnitRisk({
    sizing: plan.sizing,
    pending: plan.counts.pending,
    pricePerUnitHour: plan.cost.pricePerUnitHour,
  });
  return risk ? { singleUnitRisk: risk } : {};
}

/** `actualUnits`: the units the model ran with, `null` when no model ran. */
function planVsActual(
  plan: Plan,
  actualUnits: number | null,
  phases: readonly Phase[],
  observed: ThroughputObservation,
  billing: Billing,
): CompareRow[] {
  const phaseSeconds = (name: Phase["name"]) =>
    phases.find((p) => p.name === name)?.seconds ?? null;
  const { sizing, cost } = plan;
  return [
    { name: "Inference units", planned: sizing.units, actual: actualUnits, unit: "" },
    {
      name: "Start-up",
      planned: sizing.startupSeconds,
      actual: phaseSeconds("start"),
      unit: "s",
    },
    {
      name: "Processing",
      planned: sizing.expectedProcessingSeconds,
      actual: phaseSeconds("processing"),
      unit: "s",
    },
    {
      name: "TPS per unit",
      planned: sizing.tpsPerUnit,
      actual: observed.activeSeconds > 0 ? observed.tpsPerUnit : null,
      unit: "calls/s",
    },
    {
      name: "Inference hours (estimate from request times)",
      planned: cost.chosen.inferenceHours,
      actual: billing.inferenceHours,
      unit: "h",
    },
    {
      name: "Inference hours (measured, CloudWatch)",
      planned: cost.chosen.inferenceHours,
      actual: billing.measured.inferenceHours ?? null,
      unit: "h",
    },
    { name: "Cost (estimate)", planned: cost.chosen.cost, actual: billing.cost, unit: "USD" },
    {
      name: "Cost (measured)",
      planned: cost.chosen.cost,
      actual: billing.measured.cost ?? null,
      unit: "USD",
    },
  ];
}
