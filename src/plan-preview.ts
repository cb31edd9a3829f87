import type { S3Client } from "@aws-sdk/client-s3";
import { type SingleUnitRisk, singleUnitRisk } from "./availability.ts";
import type { BacklogCounts } from "./backlog.ts";
import {
  batchContextWithoutRates,
  contextBytesOf,
  newRunId,
  resolveTpsPerUnit,
  sizeAndPrice,
  tallyBacklog,
} from "./plan.ts";
import type { RunInput } from "./run-input.ts";
import type { Logger } from "./runtime.ts";
import type { StrategyComparison } from "./scaling-strategy.ts";
import type { CostEstimate, Sizing } from "./shapes.ts";
import type { PendingStats } from "./sizing.ts";

/** What a run would do now, as `previewPlan` finds it. */
export interface PlanPreview {
  counts: BacklogCounts;
  /** True when the count was given (`assumedImages`), not found by listing S3. */
  assumedCount: boolean;
  sizing: Sizing;
  cost: CostEstimate;
  /** Fixed units against auto-scaling for this backlog, and the choice. */
  strategy: StrategyComparison;
  /** Present when the plan uses one unit: what a unit failure would cost, and two units instead. */
  singleUnitRisk?: SingleUnitRisk;
}

/** An image reference's JSON size when `assumedImages` stands in for a listing. */
const TYPICAL_ITEM_BYTES = 200;

/**
 * The Plan step's own planning without its writes: lists and classifies the
 * backlog (or assumes `assumedImages` pending images), sizes and prices the
 * run and refuses it outside `PLAN_LIMITS`, exactly as a run would now. Writes
 * nothing, starts nothing.
 */
export async function previewPlan(opts: {
  s3: S3Client;
  input: RunInput;
  logger: Logger;
  assumedImages?: number;
  /** The TPS per unit when the caller resolved it already (an offline plan); else resolved here. */
  tps?: { tpsPerUnit: number; tpsSource: Sizing["tpsSource"] };
}): Promise<PlanPreview> {
  const { s3, input, logger, assumedImages } = opts;
  let counts: BacklogCounts;
  let pending: PendingStats;
  if (assumedImages !== undefined) {
    pending = { count: assumedImages, maxItemBytes: TYPICAL_ITEM_BYTES };
    counts = { listed: assumedImages, pending: assumedImages, skipped: 0, alreadyDone: 0 };
  } else {
    const backlog = await tallyBacklog({ s3, input, logger });
    pending = backlog.stats;
    counts = backlog.tally.counts;
  }
  const tps = opts.tps ?? (await resolveTpsPerUnit({ s3, input, logger }));
  // A run id of the length the Plan step's own has.
  const contextBytes = contextBytesOf(batchContextWithoutRates(input, newRunId(0)));
  const { sizing, cost, strategy } = sizeAndPrice({ input, pending, ...tps, contextBytes });
  const risk = singleUnitRisk({
    sizing,
    pending: pending.count,
    pricePerUnitHour: cost.pricePerUnitHour,
  });
  return {
    counts,
    assumedCount: assumedImages !== undefined,
    sizing,
    cost,
    strategy,
    ...(risk ? { singleUnitRisk: risk } : {}),
  };
}
