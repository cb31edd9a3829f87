import { readableCause } from "../failure-cause.ts";
import { describeRescale } from "./rescale.ts";
import type { RunSummary } from "./run-summary.ts";

/**
 * The end-of-run summary a person reads in a terminal (the operator's
 * `start --wait` and the local runner's `npm run local`): one formatter, so
 * the two say the same things in the same words.
 */

/** How the execution ended, as DescribeExecution says. */
export interface ExecutionEnd {
  status?: string;
  error?: string;
  cause?: string;
}

/**
 * The execution's end and, when the run got as far as its report, what the
 * summary says. `afterCause`: lines the caller adds after the cause (what
 * only it knows).
 */
export function endOfRunLines(
  execution: ExecutionEnd,
  summary: RunSummary | undefined,
  afterCause: readonly string[] = [],
): string[] {
  const lines = [`Execution   ${execution.status}${execution.error ? `: ${execution.error}` : ""}`];
  if (execution.cause) lines.push(`Cause       ${readableCause(execution.cause)}`);
  lines.push(...afterCause);
  if (summary) lines.push(...summaryLines(summary, execution.status === "SUCCEEDED"));
  return lines;
}

function summaryLines(summary: RunSummary, succeeded: boolean): string[] {
  const c = summary.counts;
  const lines = [
    `Images      ${c.listed} listed = ${c.pending} pending + ${c.skipped} skipped + ${c.alreadyDone} already done${c.replaced || c.unreadableResults ? ` (pending: ${c.replaced} replaced, ${c.unreadableResults} unreadable results)` : ""}`,
    succeeded
      ? `Results     ${c.succeeded} succeeded, ${c.failed} failed${c.unreadable ? `, ${c.unreadable} unreadable (tried again next run)` : ""}${c.unaccounted ? `, ${c.unaccounted} UNACCOUNTED` : ""} (${summary.reconciled ? "counts reconcile" : "COUNTS DO NOT RECONCILE"})`
      : // A failed run leaves what it did not reach pending: the next run picks it up.
        `Results     ${c.succeeded} succeeded, ${c.failed} failed, ${c.unreadable} unreadable, ${c.unaccounted} not analysed (still pending: the next run takes them)`,
  ];
  if (summary.resultParts)
    lines.push(
      `Written     ${summary.resultParts.lines} result line(s) in ${summary.resultParts.parts} part(s) under s3://${summary.resultParts.bucket}/${summary.resultParts.prefix}`,
    );
  const labels = summary.labels
    .slice(0, 8)
    .map((l) => `${l.label} ${l.images}`)
    .join(", ");
  if (labels) lines.push(`Labels      ${labels}`);
  for (const failure of summary.failures.images.slice(0, 5)) {
    lines.push(`Failed      ${failure.key}: ${failure.error}`);
  }
  if (c.failed > Math.min(5, summary.failures.images.length)) {
    const { bucket, prefix } = summary.failures.ledger;
    lines.push(
      `            every failure is in the ledger, s3://${bucket}/${prefix} ("status": "failed")`,
    );
  }
  // Auto-scaling provisions a range: what the run started with up to the maximum.
  const { maxInferenceUnits } = summary.units;
  const provisioned =
    maxInferenceUnits === undefined
      ? `${summary.throughput.provisionedTps}`
      : `${summary.throughput.provisionedTps}-${maxInferenceUnits * summary.plan.sizing.tpsPerUnit}`;
  lines.push(
    `Throughput  ${summary.throughput.observed.meanTps.toFixed(1)} TPS observed of ${provisioned} provisioned, ${summary.throughput.throttled} throttled calls`,
    // As precise as the Billed line below, so the estimate and the bill compare.
    `Plan        ${summary.plan.sizing.units} unit(s), estimated ${summary.plan.cost.chosen.inferenceHours.toFixed(4)} inference hours = USD ${summary.plan.cost.chosen.cost.toFixed(4)}`,
  );
  if (summary.plan.strategy) lines.push(`Strategy    ${summary.plan.strategy.reason}`);
  lines.push(`Units       ${unitsLine(summary)}`);
  if (summary.rescale) {
    lines.push(...describeRescale(summary.rescale).map((line) => `Rescale     ${line}`));
  }
  return lines;
}

/**
 * The `Units` line of the end-of-run summary, from the model's metrics as
 * the report read them (GetMetricData): "1 -> 4 in service (auto-scaling,
 * max 4), desired peak 4", or "2 in service" for a fixed-units run.
 */
export function unitsLine(summary: RunSummary): string {
  const { units } = summary;
  if (units.source !== "cloudwatch" || units.timeline.length === 0) {
    return `${units.minInferenceUnits} (started with; ${units.metrics.note})`;
  }
  const inService = units.timeline.map((p) => p.units);
  const first = inService[0] as number;
  const peak = Math.max(...inService);
  const desired = units.timeline.flatMap((p) => (p.desired === undefined ? [] : [p.desired]));
  const range = peak === first ? `${peak}` : `${first} -> ${peak}`;
  if (!units.autoScaling) return `${range} in service`;
  const desiredPeak = desired.length > 0 ? `, desired peak ${Math.max(...desired)}` : "";
  return `${range} in service (auto-scaling, max ${units.maxInferenceUnits})${desiredPeak}`;
}
