import { formatDuration } from "./report/format.ts";
import type { RunInput } from "./run-input.ts";
import type { CostEstimate, CostOption, Sizing } from "./shapes.ts";

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
  /**
   * The tail: from the first worker without work to the last image, at most
   * this share of the processing time (the bench holds runs to it); while it
   * lasts, the idle workers' shares of the capacity are counted as unused.
   */
  tailShare: 0.05,
} as const;

/**
 * What one unit count costs for `pending` images: every unit is billed for
 * start-up, the ramp-up, processing, the idle shares of the tail and the
 * stop. Nothing pending costs nothing (the model is not started).
 */
export function costOption(opts: {
  units: number;
  pending: number;
  tpsPerUnit: number;
  startupSeconds: number;
  /** From StopProjectVersion until STOPPED. Default 0. */
  stopSeconds?: number;
  /** Workers sharing the rate: with one, there is no tail. Default 1. */
  workers?: number;
  /** Default 0; the plan's estimate passes `COST_RULES.rampUpSeconds`. */
  rampUpSeconds?: number;
  pricePerUnitHour: number;
}): CostOption {
  if (opts.pending === 0)
    return { units: opts.units, durationSeconds: 0, inferenceHours: 0, cost: 0 };
  const processingSeconds = opts.pending / (opts.units * opts.tpsPerUnit);
  const workers = Math.max(1, opts.workers ?? 1);
  const tailSeconds = (processingSeconds * COST_RULES.tailShare * (workers - 1)) / workers;
  const durationSeconds =
    opts.startupSeconds +
    (opts.rampUpSeconds ?? 0) +
    processingSeconds +
    tailSeconds +
    (opts.stopSeconds ?? 0);
  const inferenceHours = (opts.units * durationSeconds) / 3600;
  return {
    units: opts.units,
    durationSeconds: Math.round(durationSeconds),
    inferenceHours: Math.round(inferenceHours * 1000) / 1000,
    cost: Math.round(inferenceHours * opts.pricePerUnitHour * 100) / 100,
  };
}

/**
 * The cost of the planned unit count and of its neighbours (a few below and
 * above, plus the smallest and largest allowed), ascending by units, so a
 * user sees the trade-off: more units finish sooner, but each pays start-up.
 */
export function estimateCost(opts: {
  sizing: Pick<Sizing, "units" | "tpsPerUnit" | "startupSeconds"> &
    Partial<Pick<Sizing, "stopSeconds" | "perWorkerTps">>;
  pending: number;
  input: Pick<RunInput, "minUnits" | "maxUnits" | "maxInferenceUnits" | "pricePerUnitHour">;
}): CostEstimate {
  const { sizing, input } = opts;
  const lowest = input.minUnits;
  const highest = input.maxInferenceUnits ?? input.maxUnits;
  const unitCounts = new Set([lowest, highest]);
  for (let u = sizing.units - COST_NEIGHBOURS; u <= sizing.units + COST_NEIGHBOURS; u++) {
    if (u >= lowest && u <= highest) unitCounts.add(u);
  }
  unitCounts.add(sizing.units);
  const option = (units: number) =>
    costOption({
      units,
      pending: opts.pending,
      tpsPerUnit: sizing.tpsPerUnit,
      startupSeconds: sizing.startupSeconds,
      rampUpSeconds: COST_RULES.rampUpSeconds,
      ...(sizing.stopSeconds === undefined ? {} : { stopSeconds: sizing.stopSeconds }),
      // As many workers as the planned per-worker rate makes at this unit count.
      ...(sizing.perWorkerTps === undefined
        ? {}
        : { workers: Math.ceil((units * sizing.tpsPerUnit) / sizing.perWorkerTps - 1e-9) }),
      pricePerUnitHour: input.pricePerUnitHour,
    });
  return {
    pricePerUnitHour: input.pricePerUnitHour,
    chosen: option(sizing.units),
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
  const body = cost.options.map((o, i) =>
    line(rows[i] ?? [], o.units === cost.chosen.units ? ">" : " "),
  );
  return [
    line(header, " "),
    ...body,
    `  at ${cost.pricePerUnitHour.toFixed(2)} ${currency} per inference-unit hour; > = planned`,
  ].join("\n");
}
