import {
  COST_RULES,
  type CostBasis,
  costBasisOf,
  fixedUnitsBill,
  roundedBill,
  tailSeconds,
  workersAt,
} from "./cost.ts";
import { formatDuration } from "./report/format.ts";

/**
 * The ways to provision a run that AWS's guide describes and this runner
 * plans between: a fixed number of inference units for the whole run, or
 * auto-scaling (MinInferenceUnits..MaxInferenceUnits), where the service adds
 * units while demand exceeds what is in service. (Manual re-scaling, stopping
 * and starting again with more units, costs 10-20 minutes without service and
 * is not planned here.)
 */
export type ScalingStrategy = "fixed" | "auto-scaling";

export interface StrategyOption {
  strategy: ScalingStrategy;
  /** Units at the start (fixed: for the whole run). */
  units: number;
  /** Auto-scaling only: the most units the service may add up to. */
  maxInferenceUnits?: number;
  /** From the start request until STOPPED, as the cost table counts it. */
  durationSeconds: number;
  inferenceHours: number;
  cost: number;
  /** Processing (after start-up) fits the target window. */
  meetsWindow: boolean;
}

export interface StrategyComparison {
  options: StrategyOption[];
  chosen: StrategyOption;
  /** Why the chosen option, in one sentence. */
  reason: string;
  /**
   * What the auto-scaling estimate assumes: units are added one at a time,
   * each in service about one model start-up after the last, billed from then.
   */
  assumptions: string;
}

/** Options whose cost is within this share of the cheapest count as the same price. */
export const SAME_PRICE_SHARE = 0.01;

/** What the options are priced on: the backlog, the window and the cost model's basis. */
export interface Backlog extends CostBasis {
  pending: number;
  /** How long auto-scaling takes to bring the added units into service. */
  scaleUpSeconds: number;
  windowSeconds: number;
}

/** A fixed unit count, priced by the cost table's own model (`fixedUnitsBill`). */
export function fixedOption(units: number, backlog: Backlog): StrategyOption {
  const bill = fixedUnitsBill(units, backlog.pending, backlog);
  return {
    strategy: "fixed",
    units,
    ...roundedBill({ ...bill, pricePerUnitHour: backlog.pricePerUnitHour }),
    meetsWindow: bill.processingSeconds <= backlog.windowSeconds + 0.5,
  };
}

/**
 * Auto-scaling from `min` to `max` units: start-up and ramp-up at `min`,
 * then one unit more every `scaleUpSeconds` (the controllers keep demand
 * above what is in service) until `max`, which does the rest; the tail and
 * the stop at the units reached, as the cost table counts them for fixed
 * units. Each unit is billed once it serves. A backlog done before a unit is
 * added never grows the model, and costs what `min` fixed units cost.
 */
export function autoScalingOption(min: number, max: number, backlog: Backlog): StrategyOption {
  const { tpsPerUnit, startupSeconds, scaleUpSeconds, pricePerUnitHour } = backlog;
  let left = backlog.pending;
  let processingSeconds = 0;
  let unitSeconds = min * (startupSeconds + COST_RULES.rampUpSeconds);
  let units = min;
  for (;;) {
    const rate = units * tpsPerUnit;
    // The last step (at max, or the backlog ends first) runs to the end.
    const seconds = units >= max ? left / rate : Math.min(scaleUpSeconds, left / rate);
    left -= seconds * rate;
    if (left < 1e-9) left = 0;
    processingSeconds += seconds;
    unitSeconds += units * seconds;
    if (left === 0) break;
    units += 1;
  }
  const end =
    tailSeconds(processingSeconds, workersAt(units, backlog)) + (backlog.stopSeconds ?? 0);
  unitSeconds += units * end;
  return {
    strategy: "auto-scaling",
    units: min,
    maxInferenceUnits: max,
    ...roundedBill({
      durationSeconds: startupSeconds + COST_RULES.rampUpSeconds + processingSeconds + end,
      unitSeconds,
      pricePerUnitHour,
    }),
    meetsWindow: processingSeconds <= backlog.windowSeconds + 0.5,
  };
}

/** The planned units, and when more are allowed, the most fixed units and auto-scaling between. */
function strategyOptions(backlog: Backlog, units: number, maxUnits: number): StrategyOption[] {
  const options: StrategyOption[] = [fixedOption(units, backlog)];
  if (maxUnits > units) {
    options.push(fixedOption(maxUnits, backlog));
    options.push(autoScalingOption(units, maxUnits, backlog));
  }
  return options;
}

/**
 * Compares fixed units (the planned count, and the most allowed, for
 * comparison) with auto-scaling from the planned count up to
 * `maxInferenceUnits` (or, when that is not set, up to the quota, to show what
 * it would give), and picks between the planned units and auto-scaling: the
 * cheaper that meets the window; at the same price (within SAME_PRICE_SHARE),
 * the faster; a tie stays fixed. Auto-scaling is only chosen when the input
 * asks for it (`autoScalingAsked`).
 */
export function compareStrategies(opts: {
  backlog: Backlog;
  /** The fixed units the plan sizes for the window (also auto-scaling's minimum). */
  units: number;
  /** MaxInferenceUnits when asked for, else the unit quota. */
  maxUnits: number;
  autoScalingAsked: boolean;
  /** A choice already made (on an earlier sizing) that these figures only reprice. */
  keep?: ScalingStrategy;
}): StrategyComparison {
  const { backlog, units, maxUnits } = opts;
  const options = strategyOptions(backlog, units, maxUnits);
  const assumptions = `auto-scaling estimate: units are added one at a time, each about ${formatDuration(backlog.scaleUpSeconds, { coarse: true })} (one model start-up) after the last, and are billed once they serve`;
  const fixed = options[0] as StrategyOption;
  const auto = options.find((o) => o.strategy === "auto-scaling");
  if (!opts.autoScalingAsked || !auto) {
    const reason = !auto
      ? `${units} fixed unit(s): auto-scaling could add no unit (the most allowed is ${maxUnits})`
      : `${units} fixed unit(s): auto-scaling is off (set maxInferenceUnits to use it); up to ${maxUnits} units it would take about ${formatDuration(auto.durationSeconds, { coarse: true })} instead of ${formatDuration(fixed.durationSeconds, { coarse: true })}, at USD ${auto.cost.toFixed(2)} instead of ${fixed.cost.toFixed(2)}`;
    return { options, chosen: fixed, reason, assumptions };
  }
  // The choice is between the planned units and auto-scaling from them;
  // fixed max units is shown for comparison (`minUnits` gives it).
  const pair = [fixed, auto];
  const candidates = pair.some((o) => o.meetsWindow) ? pair.filter((o) => o.meetsWindow) : pair;
  const cheapest = Math.min(...candidates.map((o) => o.cost));
  const samePrice = candidates.filter((o) => o.cost <= cheapest * (1 + SAME_PRICE_SHARE) + 0.005);
  // Stable: on equal time fixed (the first) stays.
  const chosen =
    (opts.keep && pair.find((o) => o.strategy === opts.keep)) ??
    samePrice.reduce((best, o) => (o.durationSeconds < best.durationSeconds ? o : best));
  return { options, chosen, reason: reasonFor(chosen, fixed, auto), assumptions };
}

function reasonFor(chosen: StrategyOption, fixed: StrategyOption, auto: StrategyOption): string {
  const windowNote = chosen.meetsWindow
    ? ""
    : "; no strategy meets the window, this one comes closest at its price";
  if (chosen.strategy === "auto-scaling") {
    return (
      `auto-scaling ${chosen.units}..${chosen.maxInferenceUnits} units: about ${formatDuration(chosen.durationSeconds, { coarse: true })} ` +
      `instead of ${formatDuration(fixed.durationSeconds, { coarse: true })} with ${fixed.units} fixed unit(s), at USD ${chosen.cost.toFixed(2)} ` +
      `against ${fixed.cost.toFixed(2)}: the added units are paid only once they serve${windowNote}`
    );
  }
  const why =
    !auto.meetsWindow && fixed.meetsWindow
      ? "auto-scaling would miss the window"
      : auto.durationSeconds >= fixed.durationSeconds
        ? "auto-scaling would not grow the model before the work is done"
        : `auto-scaling would cost USD ${auto.cost.toFixed(2)} against ${fixed.cost.toFixed(2)}`;
  return `${fixed.units} fixed unit(s): ${why}${windowNote}`;
}

/** The comparison as monospaced text, the chosen row marked with `>`. */
export function renderStrategies(comparison: StrategyComparison, currency = "USD"): string {
  const name = (o: StrategyOption) =>
    o.strategy === "fixed"
      ? `fixed ${o.units} unit(s)`
      : `auto-scaling ${o.units}..${o.maxInferenceUnits}`;
  const rows = comparison.options.map((o) => [
    name(o),
    formatDuration(o.durationSeconds, { coarse: true }),
    o.inferenceHours.toFixed(3),
    o.cost.toFixed(2),
    o.meetsWindow ? "yes" : "no",
  ]);
  const header = ["strategy", "duration", "inference hours", `cost (${currency})`, "window"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[], mark: string) =>
    `${mark} ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ")}`.trimEnd();
  return [
    line(header, " "),
    ...comparison.options.map((o, i) => line(rows[i] ?? [], o === comparison.chosen ? ">" : " ")),
    `  chosen: ${comparison.reason}`,
    `  ${comparison.assumptions}`,
  ].join("\n");
}

/**
 * Sizes the run for the strategy the comparison picks. `size` sizes for an
 * input; with auto-scaling asked for but fixed units chosen, the run is sized
 * again as fixed units (the model is then started without MaxInferenceUnits).
 */
export function planScaling<
  S extends {
    units: number;
    startupSeconds: number;
    stopSeconds?: number;
    perWorkerTps?: number;
  },
>(opts: {
  input: {
    maxInferenceUnits?: number;
    maxUnits: number;
    minUnits: number;
    pricePerUnitHour: number;
    targetWindowMinutes: number;
  };
  pending: number;
  tpsPerUnit: number;
  size: (input: { maxInferenceUnits?: number; minUnits: number }) => S;
}): { sizing: S; strategy: StrategyComparison } {
  const { input } = opts;
  // Priced on the sizing's own basis (its stop, its workers), as the cost table prices it.
  const compare = (sized: S, keep?: ScalingStrategy) =>
    compareStrategies({
      backlog: {
        ...costBasisOf({ ...sized, tpsPerUnit: opts.tpsPerUnit }, input.pricePerUnitHour),
        pending: opts.pending,
        scaleUpSeconds: sized.startupSeconds,
        windowSeconds: input.targetWindowMinutes * 60,
      },
      units: sized.units,
      maxUnits: input.maxInferenceUnits ?? input.maxUnits,
      autoScalingAsked: input.maxInferenceUnits !== undefined,
      ...(keep ? { keep } : {}),
    });
  const sized = opts.size({ maxInferenceUnits: input.maxInferenceUnits, minUnits: input.minUnits });
  const strategy = compare(sized);
  if (input.maxInferenceUnits === undefined || strategy.chosen.strategy === "auto-scaling") {
    return { sizing: sized, strategy };
  }
  // Sized again as fixed units (other workers, so another tail): the figures
  // are those of this sizing, the choice stays.
  const fixed = opts.size({ maxInferenceUnits: undefined, minUnits: strategy.chosen.units });
  return { sizing: fixed, strategy: compare(fixed, "fixed") };
}
