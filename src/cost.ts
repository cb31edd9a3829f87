import { formatDuration } from "./report/format.ts";
import type { RunInput } from "./run-input.ts";
import type { StrategyOption } from "./scaling-strategy.ts";
import type { CostEstimate, CostOption, Sizing } from "./shapes.ts";
import { SIZING_RULES } from "./sizing.ts";

/** How many unit counts either side of the chosen one the trade-off table shows. */
export const COST_NEIGHBOURS = 2;

/**
 * What a run spends besides start-up and processing at the provisioned rate,
 * all of it billed (measured with the bench, see docs/performance.md):
 */
export const COST_RULES = {
  /**
   * From the model RUNNING to the first calls at the planned rate: the next
   * readiness check, the map starting its children, the batches' first reads.
   */
  rampUpSeconds: 1,
} as const;

/**
 * What every price of a run rests on, taken from its sizing: the plan's cost
 * table, the strategy comparison and the single-unit note all price with it,
 * so they quote one figure for one option.
 */
export interface CostBasis {
  tpsPerUnit: number;
  startupSeconds: number;
  /** From StopProjectVersion until STOPPED, billed. Absent in older sizings: 0. */
  stopSeconds?: number;
  /**
   * The planned calls per second of one worker: at a given unit count there
   * are as many workers as it takes, and with more than one there is a tail.
   * Absent: one worker, no tail.
   */
  perWorkerTps?: number;
  pricePerUnitHour: number;
}

/** The basis of a sized run at a price. */
export function costBasisOf(
  sizing: Pick<Sizing, "tpsPerUnit" | "startupSeconds"> &
    Partial<Pick<Sizing, "stopSeconds" | "perWorkerTps">>,
  pricePerUnitHour: number,
): CostBasis {
  return {
    tpsPerUnit: sizing.tpsPerUnit,
    startupSeconds: sizing.startupSeconds,
    ...(sizing.stopSeconds === undefined ? {} : { stopSeconds: sizing.stopSeconds }),
    ...(sizing.perWorkerTps === undefined ? {} : { perWorkerTps: sizing.perWorkerTps }),
    pricePerUnitHour,
  };
}

/** Workers at `units`: as many as the planned per-worker rate makes (one without it). */
export function workersAt(units: number, basis: Pick<CostBasis, "tpsPerUnit" | "perWorkerTps">) {
  if (basis.perWorkerTps === undefined || basis.perWorkerTps <= 0) return 1;
  return Math.max(1, Math.ceil((units * basis.tpsPerUnit) / basis.perWorkerTps - 1e-9));
}

/**
 * The billed seconds the tail adds to `processingSeconds` with `workers`.
 * The tail (from the first worker without work to the last image) lasts at
 * most one batch, and the plan's batches last `SIZING_RULES.tailShare` of
 * the processing (at least `minBatchSeconds`, at most a worker's whole
 * share). The workers run out of work spread over that batch, so on average
 * half of it passes with the idle workers' shares, (workers - 1) / workers of
 * the capacity, unused. One worker has no tail.
 */
export function tailSeconds(processingSeconds: number, workers: number): number {
  const n = Math.max(1, workers);
  const batchSeconds = Math.min(
    processingSeconds / n,
    Math.max(SIZING_RULES.minBatchSeconds, processingSeconds * SIZING_RULES.tailShare),
  );
  return ((batchSeconds / 2) * (n - 1)) / n;
}

/**
 * The seconds and unit-seconds `units` fixed units are billed for `pending`
 * images: start-up, the ramp-up, processing at the provisioned rate, the
 * idle shares of the tail and the stop, all at `units`.
 */
export function fixedUnitsBill(units: number, pending: number, basis: CostBasis) {
  const processingSeconds = pending / (units * basis.tpsPerUnit);
  const durationSeconds =
    basis.startupSeconds +
    COST_RULES.rampUpSeconds +
    processingSeconds +
    tailSeconds(processingSeconds, workersAt(units, basis)) +
    (basis.stopSeconds ?? 0);
  return { processingSeconds, durationSeconds, unitSeconds: units * durationSeconds };
}

/**
 * Rounds a bill: whole seconds, 0.0001 h and USD 0.0001, as precise as the
 * meter's bill in the report, so a small run's estimate and bill compare
 * (tables show cents).
 */
export function roundedBill(opts: {
  durationSeconds: number;
  unitSeconds: number;
  pricePerUnitHour: number;
}): Omit<CostOption, "units"> {
  const inferenceHours = opts.unitSeconds / 3600;
  return {
    durationSeconds: Math.round(opts.durationSeconds),
    inferenceHours: Math.round(inferenceHours * 10_000) / 10_000,
    cost: Math.round(inferenceHours * opts.pricePerUnitHour * 10_000) / 10_000,
  };
}

/**
 * What one fixed unit count costs for `pending` images (`fixedUnitsBill`,
 * rounded). Nothing pending costs nothing (the model is not started).
 */
export function costOption(units: number, pending: number, basis: CostBasis): CostOption {
  if (pending === 0) return { units, durationSeconds: 0, inferenceHours: 0, cost: 0 };
  const bill = fixedUnitsBill(units, pending, basis);
  return { units, ...roundedBill({ ...bill, pricePerUnitHour: basis.pricePerUnitHour }) };
}

/**
 * The cost of the planned unit count and of its neighbours (a few below and
 * above, plus the smallest and largest allowed), ascending by units, so a
 * user sees the trade-off: more units finish sooner, but each pays start-up.
 * `chosen` is the planned fixed units, or, when the strategy comparison chose
 * auto-scaling, its figure (the same cost model), so the plan, its strategy
 * line and the report quote one estimate.
 */
export function estimateCost(opts: {
  sizing: Pick<Sizing, "units" | "tpsPerUnit" | "startupSeconds"> &
    Partial<Pick<Sizing, "stopSeconds" | "perWorkerTps">>;
  pending: number;
  input: Pick<RunInput, "minUnits" | "maxUnits" | "maxInferenceUnits" | "pricePerUnitHour">;
  /** The strategy comparison's choice, when there was one. */
  strategy?: { chosen: StrategyOption };
}): CostEstimate {
  const { sizing, input } = opts;
  const lowest = input.minUnits;
  const highest = input.maxInferenceUnits ?? input.maxUnits;
  const unitCounts = new Set([lowest, highest]);
  for (let u = sizing.units - COST_NEIGHBOURS; u <= sizing.units + COST_NEIGHBOURS; u++) {
    if (u >= lowest && u <= highest) unitCounts.add(u);
  }
  unitCounts.add(sizing.units);
  const basis = costBasisOf(sizing, input.pricePerUnitHour);
  const option = (units: number) => costOption(units, opts.pending, basis);
  const auto = opts.strategy?.chosen;
  return {
    pricePerUnitHour: input.pricePerUnitHour,
    chosen:
      auto?.strategy === "auto-scaling" && auto.maxInferenceUnits !== undefined
        ? {
            units: auto.units,
            maxInferenceUnits: auto.maxInferenceUnits,
            durationSeconds: auto.durationSeconds,
            inferenceHours: auto.inferenceHours,
            cost: auto.cost,
          }
        : option(sizing.units),
    options: [...unitCounts].sort((a, b) => a - b).map(option),
  };
}

/**
 * The trade-off table as monospaced text, the chosen row marked with `>`:
 *
 *     units  duration     inference hours  cost (USD)
 *         1  1 h 10 min             1.167        4.67
 *   >     2  40 min                 1.333        5.33
 */
export function renderCostTable(cost: CostEstimate, currency = "USD"): string {
  const header = ["units", "duration", "inference hours", `cost (${currency})`];
  const rows = cost.options.map((o) => [
    String(o.units),
    formatDuration(o.durationSeconds, { coarse: true }),
    o.inferenceHours.toFixed(3),
    o.cost.toFixed(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[], mark: string) =>
    `${mark} ${cells
      .map((c, i) => (i === 1 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join("  ")}`.trimEnd();
  const autoScaling = cost.chosen.maxInferenceUnits !== undefined;
  const body = cost.options.map((o, i) =>
    line(rows[i] ?? [], !autoScaling && o.units === cost.chosen.units ? ">" : " "),
  );
  if (autoScaling) {
    const c = cost.chosen;
    body.push(
      `> auto-scaling ${c.units}..${c.maxInferenceUnits}: ${formatDuration(c.durationSeconds, { coarse: true })}, ${c.inferenceHours.toFixed(3)} inference hours, ${c.cost.toFixed(2)}`,
    );
  }
  return [
    line(header, " "),
    ...body,
    `  at ${cost.pricePerUnitHour.toFixed(2)} ${currency} per inference-unit hour; > = planned`,
  ].join("\n");
}
