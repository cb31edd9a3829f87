/**
 * The CLI's small argument layer: one table of flags per command, the run
 * input fields as `--kebab-case` flags (one per field of `RUN_INPUT_ENV`, so
 * the flags, the environment and the execution input name the same things),
 * and the usage error that exits with code 2.
 */
import { parseArgs } from "node:util";
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

type OptionSpec = { type: "string" | "boolean"; short?: string; multiple?: boolean };
export type OptionTable = Record<string, OptionSpec>;

/** Flags every command accepts. */
export const COMMON_OPTIONS: OptionTable = {
  json: { type: "boolean" },
  local: { type: "boolean" },
  data: { type: "string" },
  help: { type: "boolean", short: "h" },
};

const RUN_INPUT_OPTIONS: OptionTable = Object.fromEntries(
  Object.keys(RUN_INPUT_FLAGS).map((flag) => [flag, { type: "string" }]),
);

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  /** Run input fields given as flags, values as typed (strings). */
  overrides: Partial<Record<RunInputField, string>>;
}

/** Parses `argv` strictly against the common flags, the run input flags and `extra`. */
export function parseCommandArgs(argv: string[], extra: OptionTable = {}): ParsedArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: { ...COMMON_OPTIONS, ...RUN_INPUT_OPTIONS, ...extra },
      strict: true,
      allowPositionals: false,
    }).values as Record<string, string | boolean | undefined>;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const overrides: Partial<Record<RunInputField, string>> = {};
  for (const [flag, field] of Object.entries(RUN_INPUT_FLAGS)) {
    const value = values[flag];
    if (typeof value === "string") overrides[field] = value;
  }
  return { values, overrides };
}

/**
 * Checks each run input flag on its own (the deployment's environment, which
 * the CLI cannot see, fills in the rest when the workflow runs). Throws a
 * `UsageError` naming every bad flag.
 */
export function assertValidOverrides(overrides: Partial<Record<RunInputField, string>>): void {
  const problems: string[] = [];
  for (const [field, value] of Object.entries(overrides) as [RunInputField, string][]) {
    const problem = fieldProblem(field, value);
    if (problem !== undefined) problems.push(`--${kebab(field)} ${problem}`);
  }
  if (problems.length > 0) throw new UsageError(problems.join("\n"));
}

/** A positive number flag, or `fallback` when it is not given. */
export function numberFlag(
  values: ParsedArgs["values"],
  name: string,
  fallback: number,
  { integer = false } = {},
): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (
    typeof raw !== "string" ||
    !Number.isFinite(value) ||
    value <= 0 ||
    (integer && !Number.isInteger(value))
  ) {
    throw new UsageError(
      `--${name} must be a positive ${integer ? "integer" : "number"}, got ${String(raw)}`,
    );
  }
  return value;
}

/** The help text's list of run input flags. */
export function runInputFlagsHelp(): string {
  return Object.entries(RUN_INPUT_FLAGS)
    .map(([flag, field]) => `${`  --${flag} <value>`.padEnd(40)}${RUN_INPUT_ENV[field]}`)
    .join("\n");
}
