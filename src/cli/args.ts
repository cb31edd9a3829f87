/**
 * The CLI's options, on commander: the flags every command accepts, the run
 * input fields as `--kebab-case` flags (one per field of `RUN_INPUT_ENV`, so
 * the flags, the environment and the execution input name the same things),
 * value parsers that name the bad flag and value, and the usage error that
 * exits with code 2. Kept free of any command so that other front ends (the
 * harness's) can reuse the run input flags.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { fieldProblem, RUN_INPUT_ENV } from "../run-input.ts";

/** Exit codes a script can rely on. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** Wrong flags, values or missing settings: exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

export type RunInputField = keyof typeof RUN_INPUT_ENV;

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** `--images-bucket` -> `imagesBucket`, for every run input field. */
export const RUN_INPUT_FLAGS: Record<string, RunInputField> = Object.fromEntries(
  (Object.keys(RUN_INPUT_ENV) as RunInputField[]).map((field) => [kebab(field), field]),
);

export const COMMON_OPTIONS_GROUP = "Common options:";
export const RUN_INPUT_OPTIONS_GROUP =
  "Run input options (each overrides its environment variable):";

/** A positive number (`integer` for whole numbers), as a commander value parser. */
export function positiveNumber({ integer = false } = {}): (raw: string) => number {
  return (raw) => {
    const value = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(value) || value <= 0) {
      throw new InvalidArgumentError(`It must be a positive ${integer ? "integer" : "number"}.`);
    }
    if (integer && !Number.isInteger(value)) {
      throw new InvalidArgumentError("It must be a positive integer.");
    }
    return value;
  };
}

/** `--json`, `--local` and `--data`: what every command accepts. */
export function addCommonOptions(command: Command): Command {
  return command
    .addOption(
      new Option("--json", "machine-readable output on stdout").helpGroup(COMMON_OPTIONS_GROUP),
    )
    .addOption(
      new Option(
        "--local",
        "run against a local stack started in this process instead of AWS (development install)",
      ).helpGroup(COMMON_OPTIONS_GROUP),
    )
    .addOption(
      new Option(
        "--data <dir>",
        "the local data folder for --local (default .local-data)",
      ).helpGroup(COMMON_OPTIONS_GROUP),
    );
}

/** The options `addRunInputOptions` made, whose values are run input overrides. */
const runInputOptions = new WeakSet<Option>();

/**
 * One `--kebab-case <value>` flag per run input field. Each value is checked
 * on its own as it is parsed (the deployment's environment, which the CLI
 * cannot see, fills in the rest when the workflow runs) and kept as typed.
 */
export function addRunInputOptions(command: Command): Command {
  for (const [flag, field] of Object.entries(RUN_INPUT_FLAGS)) {
    // A command's own option of the same name means something else there (results --min-confidence).
    if (command.options.some((option) => option.long === `--${flag}`)) continue;
    const option = new Option(`--${flag} <value>`, `(env ${RUN_INPUT_ENV[field]})`)
      .argParser((raw: string) => {
        const problem = fieldProblem(field, raw);
        if (problem) throw new InvalidArgumentError(`It ${problem}.`);
        return raw;
      })
      .helpGroup(RUN_INPUT_OPTIONS_GROUP);
    runInputOptions.add(option);
    command.addOption(option);
  }
  return command;
}

export type FlagValue = string | string[] | number | boolean | undefined;

export interface ParsedArgs {
  /** Flag values by their long name (`state-machine-arn`); `--no-x` flags as `no-x: true`. */
  values: Record<string, FlagValue>;
  /** Run input fields given as flags, values as typed (strings). */
  overrides: Partial<Record<RunInputField, string>>;
}

/** A parsed commander command's options, by flag name, and its run input overrides. */
export function parsedArgsOf(command: Command): ParsedArgs {
  const opts = command.opts() as Record<string, FlagValue>;
  const values: Record<string, FlagValue> = {};
  for (const option of command.options) {
    const name = option.long?.replace(/^--/, "") ?? option.attributeName();
    const value = opts[option.attributeName()];
    if (option.negate) {
      values[name] = value === false ? true : undefined;
    } else if (value !== undefined) {
      values[name] = value;
    }
  }
  const overrides: Partial<Record<RunInputField, string>> = {};
  for (const option of command.options) {
    const field = RUN_INPUT_FLAGS[option.long?.replace(/^--/, "") ?? ""];
    const value = opts[option.attributeName()];
    if (field && runInputOptions.has(option) && typeof value === "string") overrides[field] = value;
  }
  return { values, overrides };
}

/**
 * Parses `argv` strictly against the common flags, the run input flags and
 * what `configure` adds; a bad flag or value is a `UsageError`.
 */
export function parseCommandArgs(
  argv: string[],
  configure: (command: Command) => void = () => {},
): ParsedArgs {
  const command = addRunInputOptions(addCommonOptions(new Command("args")))
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} });
  configure(command);
  try {
    command.parse(argv, { from: "user" });
  } catch (error) {
    throw error instanceof CommanderError ? new UsageError(usageMessage(error)) : error;
  }
  return parsedArgsOf(command);
}

/** A commander error's message without its `error: ` prefix. */
export function usageMessage(error: CommanderError): string {
  return error.message.replace(/^error: /, "");
}

/**
 * Checks each run input flag on its own. Throws a `UsageError` naming every
 * bad flag.
 */
export function assertValidOverrides(overrides: Partial<Record<RunInputField, string>>): void {
  const problems: string[] = [];
  for (const [field, value] of Object.entries(overrides) as [RunInputField, string][]) {
    const problem = fieldProblem(field, value);
    if (problem) problems.push(`--${kebab(field)} ${problem}`);
  }
  if (problems.length > 0) throw new UsageError(problems.join("\n"));
}

/** A repeatable string option's parser: each value is added to the list. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** A number flag (commander has checked it), or `fallback` when it is not given. */
export function numberFlag(values: ParsedArgs["values"], name: string, fallback: number): number {
  const value = values[name];
  if (value === undefined) return fallback;
  if (typeof value !== "number") throw new UsageError(`--${name} must be a number, got ${value}`);
  return value;
}

/** A string flag, or undefined when it is not given or empty. */
export function stringFlag(values: ParsedArgs["values"], name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}
