/**
 * The numeric and enum flags of `npm run local`, checked before anything
 * starts: a bad value (`--lose-zone abc`, `-1`, `NaN`, `""`) is refused with a
 * message naming the flag, never ignored or read as 0.
 */

/** A command-line mistake: printed with a hint and exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

interface NumberRule {
  /** What the message says the flag takes. */
  describe: string;
  integer?: boolean;
  /** Inclusive lower bound, unless `exclusiveMin`. */
  min: number;
  exclusiveMin?: boolean;
  max: number;
}

/** setTimeout's limit: a longer delay fires at once (with a warning) instead. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const count = (max: number): NumberRule => ({
  describe: `a whole number from 0 to ${max}`,
  integer: true,
  min: 0,
  max,
});
const units: NumberRule = {
  describe: "a whole number from 1 to 1000",
  integer: true,
  min: 1,
  max: 1000,
};
const rate: NumberRule = {
  describe: "a number above 0 (up to 1000000)",
  min: 0,
  exclusiveMin: true,
  max: 1_000_000,
};
const milliseconds: NumberRule = {
  describe: `milliseconds from 0 to ${MAX_TIMER_MS}`,
  min: 0,
  max: MAX_TIMER_MS,
};
const seconds: NumberRule = {
  describe: `seconds from 0 to ${Math.floor(MAX_TIMER_MS / 1000)}`,
  min: 0,
  max: Math.floor(MAX_TIMER_MS / 1000),
};

export const LOCAL_NUMERIC_FLAGS = {
  images: count(1_000_000),
  "add-images": count(1_000_000),
  "tps-per-unit": rate,
  "plan-tps": rate,
  window: { ...rate, describe: "minutes above 0 (up to 1000000)" },
  "min-units": units,
  "max-units": units,
  "max-inference-units": units,
  "start-delay": milliseconds,
  latency: milliseconds,
  "lose-unit": seconds,
  "lose-zone": seconds,
  "throttle-storm": seconds,
  abort: seconds,
} as const satisfies Record<string, NumberRule>;

export type LocalNumericFlag = keyof typeof LOCAL_NUMERIC_FLAGS;

export const FEATURES = ["CLASSIFICATION", "OBJECT_DETECTION"] as const;
export type Feature = (typeof FEATURES)[number];

/** Plain decimal notation only: no "", "0x10", "Infinity", "1_000" or trailing junk. */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;

/** Parses one flag's value by its rule; throws a UsageError naming the flag. */
export function parseNumberFlag(flag: string, raw: string, rule: NumberRule): number {
  const value = DECIMAL.test(raw.trim()) ? Number(raw) : Number.NaN;
  const belowMin = rule.exclusiveMin ? value <= rule.min : value < rule.min;
  if (
    !Number.isFinite(value) ||
    belowMin ||
    value > rule.max ||
    (rule.integer && !Number.isInteger(value))
  ) {
    throw new UsageError(`--${flag} must be ${rule.describe}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

export interface LocalOptions {
  numbers: Partial<Record<LocalNumericFlag, number>>;
  feature: Feature;
}

/** Checks every numeric and enum flag of `npm run local` (values as `parseArgs` returns them). */
export function parseLocalOptions(values: Record<string, unknown>): LocalOptions {
  const numbers: Partial<Record<LocalNumericFlag, number>> = {};
  for (const [flag, rule] of Object.entries(LOCAL_NUMERIC_FLAGS) as [
    LocalNumericFlag,
    NumberRule,
  ][]) {
    const raw = values[flag];
    if (raw === undefined) continue;
    numbers[flag] = parseNumberFlag(flag, String(raw), rule);
  }
  const feature = values.feature ?? "CLASSIFICATION";
  if (!FEATURES.includes(feature as Feature)) {
    throw new UsageError(
      `--feature must be ${FEATURES.join(" or ")}, got ${JSON.stringify(feature)}`,
    );
  }
  const { "min-units": min, "max-units": max } = numbers;
  if (min !== undefined && max !== undefined && min > max) {
    throw new UsageError(`--min-units (${min}) must not exceed --max-units (${max})`);
  }
  return { numbers, feature: feature as Feature };
}
