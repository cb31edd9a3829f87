/**
 * `plan`: what a run would do now, without starting anything: the backlog
 * (listed, or `--images N`), the units for the window, and the cost table.
 */

import { type SingleUnitRisk, singleUnitRisk } from "../availability.ts";
import { type BacklogCounts, BacklogTally, scanBacklog } from "../backlog.ts";
import { estimateCost, formatDuration, renderCostTable } from "../cost.ts";
import { resolveTpsPerUnit } from "../plan.ts";
import { assertPlanWithinLimits } from "../plan-limits.ts";
import { parseRunInput } from "../run-input.ts";
import type { CostEstimate, Sizing } from "../shapes.ts";
import { addToPendingStats, type PendingStats, sizeRun } from "../sizing.ts";
import { numberFlag, type OptionTable } from "./args.ts";
import type { CliContext, CommandOutcome } from "./context.ts";

export const PLAN_OPTIONS: OptionTable = { images: { type: "string" } };

/**
 * Room for the batch context in sizing's batch-size rule. `plan` shows
 * units, duration and cost, which do not depend on it; the Plan step
 * measures the real context.
 */
const CONTEXT_BYTES_ALLOWANCE = 2048;
/** An image reference's JSON size when `--images N` stands in for a listing. */
const TYPICAL_ITEM_BYTES = 200;

export interface PlanReport {
  counts: BacklogCounts;
  /** True when the count came from `--images`, not from listing S3. */
  assumedCount: boolean;
  sizing: Sizing;
  cost: CostEstimate;
  /** Present when the plan uses one unit: what a unit failure would cost, and two units instead. */
  singleUnitRisk?: SingleUnitRisk;
}

export async function planCommand(ctx: CliContext): Promise<CommandOutcome> {
  const input = parseRunInput(ctx.args.overrides, ctx.env);
  const { s3 } = ctx.clients;
  const assumed = ctx.args.values.images;
  let counts: BacklogCounts;
  const pending: PendingStats = { count: 0, maxItemBytes: 0 };
  if (assumed !== undefined) {
    pending.count = numberFlag(ctx.args.values, "images", 0, { integer: true });
    pending.maxItemBytes = TYPICAL_ITEM_BYTES;
    counts = { listed: pending.count, pending: pending.count, skipped: 0, alreadyDone: 0 };
  } else {
    const tally = new BacklogTally();
    for await (const entry of scanBacklog({ s3, input, logger: ctx.logger })) {
      tally.add(entry);
      if (entry.kind === "pending") addToPendingStats(pending, entry.image);
    }
    counts = tally.counts;
  }
  const { tpsPerUnit, tpsSource } = await resolveTpsPerUnit({ s3, input, logger: ctx.logger });
  const sizing = sizeRun({
    pending,
    input,
    tpsPerUnit,
    tpsSource,
    contextBytes: CONTEXT_BYTES_ALLOWANCE,
  });
  const cost = estimateCost({ sizing, pending: pending.count, input });
  assertPlanWithinLimits({ sizing, cost, pending: pending.count, input });
  const risk = singleUnitRisk({
    sizing,
    pending: pending.count,
    pricePerUnitHour: cost.pricePerUnitHour,
  });
  const report: PlanReport = {
    counts,
    assumedCount: assumed !== undefined,
    sizing,
    cost,
    ...(risk ? { singleUnitRisk: risk } : {}),
  };
  return {
    exitCode: 0,
    data: report,
    text: renderPlan(report, input.imagesBucket, input.imagesPrefix),
  };
}

const TPS_SOURCES: Record<Sizing["tpsSource"], string> = {
  input: "given",
  learned: "learned from the last run or calibration",
  default: "the default; run `calibrate` to measure it",
};

function renderPlan(report: PlanReport, bucket: string, prefix: string): string {
  const { counts, sizing, cost } = report;
  const lines = [
    report.assumedCount
      ? `Images      ${counts.pending} (assumed with --images, S3 not listed)`
      : `Images      s3://${bucket}/${prefix}: ${counts.listed} listed = ${counts.pending} pending + ${counts.skipped} skipped + ${counts.alreadyDone} already done`,
    `TPS/unit    ${sizing.tpsPerUnit} (${TPS_SOURCES[sizing.tpsSource]})`,
    `Window      ${sizing.targetWindowMinutes} minutes`,
    "",
    renderCostTable(cost),
    "",
  ];
  if (counts.pending === 0) {
    lines.push("Nothing to do: a run now would not start the model.");
  } else {
    lines.push(
      `Recommended ${sizing.units} inference unit(s)${sizing.maxInferenceUnits ? ` (auto-scaling up to ${sizing.maxInferenceUnits})` : ""}: ` +
        `about ${formatDuration(cost.chosen.durationSeconds)} including start-up, USD ${cost.chosen.cost.toFixed(2)}`,
    );
  }
  if (sizing.windowNote) lines.push(`Note        ${sizing.windowNote}`);
  if (report.singleUnitRisk) lines.push(`Resilience  ${report.singleUnitRisk.note}`);
  return lines.join("\n");
}
