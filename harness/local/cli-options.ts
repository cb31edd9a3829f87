/**
 * The options of `npm run local`, declared once for commander (which prints
 * the help and refuses unknown flags), and the numeric and enum values checked
 * before anything starts: a bad value (`--lose-zone abc`, `-1`, `NaN`, `""`)
 * is refused with a message naming the flag, never ignored or read as 0.
 */
import type { Command } from "commander";
import { RESCALE_MODES, type RescaleMode } from "../../src/run-input.ts";
import {
  harnessCommand,
  type NumberRule,
  parseNumberFlag,
  positiveNumber,
  UsageError,
  wholeNumber,
} from "../command.ts";

export { UsageError };

/** setTimeout's limit: a longer delay fires at once (with a warning) instead. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const units: NumberRule = {
  describe: "a whole number from 1 to 1000",
  integer: true,
  min: 1,
  max: 1000,
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
  images: wholeNumber(1_000_000),
  "add-images": wholeNumber(1_000_000),
  "tps-per-unit": positiveNumber,
  "plan-tps": positiveNumber,
  window: { ...positiveNumber, describe: "minutes above 0 (up to 1000000)" },
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

/** The fault switches that act on a run's processing: with nothing pending, none can take effect. */
export const FAULT_FLAGS = [
  "fail-start",
  "lose-unit",
  "lose-zone",
  "throttle-storm",
  "abort",
] as const;
export type FaultFlag = (typeof FAULT_FLAGS)[number];

/** `npm run local`'s options. Values stay strings: `parseLocalOptions` checks them all at once. */
export function localCommand(): Command {
  return harnessCommand(
    "local",
    "Run the weekly Rekognition Custom Labels job locally: the real state machine and Lambdas against an embedded S3 server and the Custom Labels emulator. No AWS account, no Docker, no network.",
  )
    .optionsGroup("Images:")
    .option("--images <n>", "sample images to seed when the images prefix is empty (default 200)")
    .option("--add-images <n>", "seed <n> more new images before this run (shows incremental runs)")
    .option("--images-prefix <p>", "where the images are (default incoming/)")
    .option("--results-prefix <p>", "where results and reports go (default rekognition-results/)")
    .option("--data <dir>", "data folder (default .local-data)")
    .option("--fresh", "delete the data folder first")
    .option("--no-iam", "do not enforce the packaged IAM policies (experiments only)")
    .optionsGroup("Model and sizing:")
    .option(
      "--tps-per-unit <n>",
      "what one inference unit serves in the emulator, and the deployment's TPS_PER_UNIT parameter (default 20)",
    )
    .option("--plan-tps <n>", "TPS per unit the plan assumes, if not the above")
    .option("--window <minutes>", "target processing window (default 60)")
    .option("--min-units <n>", "fewest inference units (default 1)")
    .option("--max-units <n>", "the unit quota (default 5)")
    .option("--max-inference-units <n>", "turn on auto-scaling up to <n> units")
    .option(
      "--rescale <mode>",
      "never (default) or restart: restart the model with more units when the first round's rate misses the window (docs/rescale.md)",
    )
    .option("--start-delay <ms>", "model start-up time (default 3000)")
    .option("--latency <ms>", "mean DetectCustomLabels latency (default 100)")
    .option("--feature <f>", "CLASSIFICATION (default) or OBJECT_DETECTION")
    .optionsGroup(
      "Fault injection (seconds after processing starts; a run with nothing pending is refused):",
    )
    .option("--fail-start", "the model fails to start (ends FAILED)")
    .option("--lose-unit <s>", "one inference unit fails (replaced after a few seconds)")
    .option("--lose-zone <s>", "a whole Availability Zone fails (restored 5 s later)")
    .option("--throttle-storm <s>", "capacity drops to 30 % for 5 s")
    .option("--abort <s>", "abort the execution (the safety stop must stop the model)")
    .optionsGroup("Output:")
    .option("--verbose", "the Lambdas' JSON logs on stderr")
    .addHelpText(
      "after",
      "\nExit code: 0 when the execution succeeded, 1 otherwise, 2 for bad options.",
    );
}

/** The parsed options' raw values keyed by flag name (`lose-zone`), as `parseLocalOptions` reads them. */
export function valuesByFlag(program: Command): Record<string, unknown> {
  return Object.fromEntries(
    program.options
      .filter((option) => !option.negate)
      .map((option) => [option.name(), program.getOptionValue(option.attributeName())]),
  );
}

export interface LocalOptions {
  numbers: Partial<Record<LocalNumericFlag, number>>;
  feature: Feature;
  /** The run input's `rescale`, when `--rescale` is given. */
  rescale?: RescaleMode;
}

/** Checks every numeric and enum flag of `npm run local` (raw values keyed by flag name). */
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
  const rescale = values.rescale;
  if (rescale !== undefined && !RESCALE_MODES.includes(rescale as RescaleMode)) {
    throw new UsageError(
      `--rescale must be ${RESCALE_MODES.join(" or ")}, got ${JSON.stringify(rescale)}`,
    );
  }
  return {
    numbers,
    feature: feature as Feature,
    ...(rescale !== undefined ? { rescale: rescale as RescaleMode } : {}),
  };
}
