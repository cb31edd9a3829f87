/**
 * Reconciling a run: every count the plan made must be matched by an outcome
 * from the batches (or the ledger). Each equation becomes a check; each
 * broken one a discrepancy that says, in words, what is missing and why.
 */
import type { PartCounts } from "../read-result-parts.ts";
import type { BatchOutput, Plan, SkippedObject } from "../shapes.ts";
import { plural } from "./format.ts";
import type { FailedBatch } from "./map-results.ts";
import { sum } from "./numbers.ts";
import type { ReconciliationCheck, RunSummaryInput } from "./run-summary.ts";

/** The run's outcomes, from the ledger or the batches. */
export interface Totals {
  succeeded: number;
  failed: number;
  unreadable: number;
  notAnalysed: number;
}

export interface Reconciliation {
  checks: ReconciliationCheck[];
  discrepancies: string[];
  reconciled: boolean;
}

/** Collects the checks and the discrepancies found. */
class Findings {
  readonly checks: ReconciliationCheck[] = [];
  readonly discrepancies: string[] = [];

  check(name: string, equation: string, left: number, right: number): boolean {
    const ok = left === right;
    this.checks.push({ name, equation, left, right, ok });
    return ok;
  }
}

export function reconcile(input: RunSummaryInput, totals: Totals): Reconciliation {
  const found = new Findings();
  checkPlanCounts(found, input.plan, input.skipped);
  checkPendingOutcomes(found, input, totals);
  if (input.resultParts) checkResultParts(found, input.resultParts, totals);
  checkBatchTotals(found, input.batches);
  return {
    checks: found.checks,
    discrepancies: found.discrepancies,
    reconciled: found.checks.every((ch) => ch.ok),
  };
}

/** The plan's own counts: listed, skipped and pending by reason. */
function checkPlanCounts(found: Findings, plan: Plan, skipped: readonly SkippedObject[]): void {
  const c = plan.counts;
  if (
    !found.check(
      "listed objects",
      `listed ${c.listed} = pending ${c.pending} + skipped ${c.skipped} + already done ${c.alreadyDone}`,
      c.listed,
      c.pending + c.skipped + c.alreadyDone,
    )
  ) {
    found.discrepancies.push(
      `The plan's counts do not add up: ${c.listed} listed but ${c.pending + c.skipped + c.alreadyDone} pending, skipped or already done.`,
    );
  }

  if (
    !found.check(
      "skipped list",
      `skipped ${c.skipped} = objects in the skipped list ${skipped.length}`,
      c.skipped,
      skipped.length,
    )
  ) {
    found.discrepancies.push(
      `The plan counted ${plural(c.skipped, "skipped object")} but the skipped list holds ${skipped.length}.`,
    );
  }

  const reasons = plan.pendingByReason;
  if (reasons) {
    const sumReasons =
      reasons.new + reasons.replaced + reasons.unreadableResult + reasons.unreadableImage;
    if (
      !found.check(
        "pending reasons",
        `pending ${c.pending} = new ${reasons.new} + replaced ${reasons.replaced} + unreadable results ${reasons.unreadableResult} + unreadable images ${reasons.unreadableImage}`,
        c.pending,
        sumReasons,
      )
    ) {
      found.discrepancies.push(
        `The plan's pending images do not add up by reason: ${c.pending} pending, ${sumReasons} with a reason.`,
      );
    }
  }
}

/** Every pending image has an outcome. */
function checkPendingOutcomes(found: Findings, input: RunSummaryInput, totals: Totals): void {
  const c = input.plan.counts;
  const failedBatches = input.failedBatches ?? [];
  const processed = totals.succeeded + totals.failed + totals.unreadable;
  const terms = `succeeded ${totals.succeeded} + failed ${totals.failed}${totals.unreadable > 0 || input.ledger ? ` + unreadable ${totals.unreadable}` : ""}`;
  // From the ledger, every manifest image has exactly one of four outcomes,
  // "not analysed" included; the run is complete only if that one is 0.
  let pendingOk: boolean;
  if (input.ledger) {
    const outcomes = processed + totals.notAnalysed;
    if (
      !found.check(
        "pending items",
        `pending ${c.pending} = ${terms} + not analysed ${totals.notAnalysed}`,
        c.pending,
        outcomes,
      )
    ) {
      found.discrepancies.push(
        `The run's manifest holds ${outcomes} images but the plan counted ${c.pending} pending.`,
      );
    }
    pendingOk = found.check(
      "analysed",
      `not analysed ${totals.notAnalysed} = 0`,
      totals.notAnalysed,
      0,
    );
  } else {
    pendingOk = found.check(
      "pending items",
      `pending ${c.pending} = ${terms}`,
      c.pending,
      processed,
    );
  }
  if (pendingOk) return;
  if (input.ledger) {
    found.discrepancies.push(notAnalysedInLedger(totals.notAnalysed, input.mapRan, failedBatches));
    return;
  }
  const gap = c.pending - processed;
  found.discrepancies.push(
    gap > 0
      ? missingFromBatches(gap, input.mapRan, failedBatches)
      : `The batches report ${processed} outcomes for ${c.pending} pending images: ${-gap} more than there were (an item counted twice).`,
  );
}

function notAnalysedInLedger(
  notAnalysed: number,
  mapRan: boolean,
  failedBatches: readonly FailedBatch[],
): string {
  const inFailed =
    failedBatches.length > 0
      ? ` (${plural(failedBatches.length, "batch")} did not succeed: ${[...new Set(failedBatches.map((b) => b.error))].join(", ")})`
      : "";
  return `${plural(notAnalysed, "pending image")} ${notAnalysed === 1 ? "has" : "have"} no result for ${notAnalysed === 1 ? "its" : "their"} version in the ledger${mapRan ? "" : "; the Distributed Map did not run (no ResultWriter output)"}${inFailed}. A new run picks them up (the results prefix is the ledger).`;
}

/** Without a ledger: where the `gap` pending images without an outcome went, as far as the batches tell. */
function missingFromBatches(
  gap: number,
  mapRan: boolean,
  failedBatches: readonly FailedBatch[],
): string {
  const known = failedBatches.filter((b) => b.items !== undefined);
  const inFailed = sum(known, (b) => b.items ?? 0);
  const unknownSize = failedBatches.length - known.length;
  const parts: string[] = [];
  if (!mapRan) parts.push("the Distributed Map did not run (no ResultWriter output)");
  if (failedBatches.length > 0) {
    const kinds = [...new Set(failedBatches.map((b) => b.error))].join(", ");
    parts.push(
      `${plural(inFailed, "item")} ${inFailed === 1 ? "was" : "were"} in ${plural(known.length, "batch")} that did not succeed (${kinds})` +
        (unknownSize > 0 ? `, and ${plural(unknownSize, "failed batch")} of unknown size` : ""),
    );
  }
  const unexplained = gap - inFailed;
  if (mapRan && unexplained > 0 && unknownSize === 0) {
    parts.push(`${unexplained} cannot be traced to any batch`);
  }
  return `${plural(gap, "pending image")} ${gap === 1 ? "has" : "have"} no outcome from this run: ${parts.join("; ") || "no batch reported them"}. A new run picks them up (the results prefix is the ledger).`;
}

/** Each batch's own counts add up, and each failure it counts has a recorded reason. */
/** The parts hold one line per image the run finished: as many, and of the same statuses, as counted. */
function checkResultParts(found: Findings, parts: PartCounts, totals: Totals): void {
  const expected = totals.succeeded + totals.failed + totals.unreadable;
  const statuses = ["succeeded", "failed", "unreadable"] as const;
  const off = statuses.filter((status) => parts.byStatus[status] !== totals[status]);
  const ok = found.check(
    "result parts",
    `lines in the result parts ${parts.lines} = succeeded ${totals.succeeded} + failed ${totals.failed} + unreadable ${totals.unreadable}`,
    parts.lines,
    expected,
  );
  // Equal totals can still hide a line of the wrong status.
  const statusesOk =
    !ok ||
    found.check(
      "result part statuses",
      `statuses whose lines in the parts match their count: ${statuses.length - off.length} of ${statuses.length}`,
      statuses.length - off.length,
      statuses.length,
    );
  if (!ok || !statusesOk) {
    found.discrepancies.push(
      `The result parts (${parts.prefix}) hold ${plural(parts.lines, "line")} for ${plural(expected, "finished image")}: ${statuses.map((s) => `${s} ${parts.byStatus[s]} in the parts, ${totals[s]} counted`).join("; ")}.`,
    );
  }
}

function checkBatchTotals(found: Findings, batches: readonly BatchOutput[]): void {
  const inconsistent = batches.filter(
    (b) => b.items !== b.succeeded + b.failed + (b.unreadable ?? 0),
  );
  if (
    !found.check(
      "batch totals",
      `batches with items = succeeded + failed + unreadable: ${batches.length - inconsistent.length} of ${batches.length}`,
      batches.length - inconsistent.length,
      batches.length,
    )
  ) {
    found.discrepancies.push(
      `${plural(inconsistent.length, "batch")} report items that are neither succeeded, failed nor unreadable.`,
    );
  }

  // Against the batches' own counts (a batch that failed part-way reports
  // neither). Counted from numbers: a batch names a sample and counts the
  // failures it leaves out.
  const recordedFailures = sum(batches, (b) => b.failures.length + b.failuresOmitted);
  const batchFailed = sum(batches, (b) => b.failed);
  if (
    !found.check(
      "failure records",
      `failed in batches ${batchFailed} = failures reported by the batches ${recordedFailures}`,
      batchFailed,
      recordedFailures,
    )
  ) {
    found.discrepancies.push(
      `${batchFailed} images failed but ${recordedFailures} failures were recorded with a reason.`,
    );
  }
}
