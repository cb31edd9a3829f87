/**
 * The command lines of the harness (`npm run local`, `local:stack`,
 * `local:events`, `emulator`, `bench`, `soak`) on commander: help generated
 * from the options, and one way to fail. A command-line mistake (an unknown
 * flag, a missing or bad value) is exit code 2 with a message naming the flag,
 * before anything starts.
 */
import { Command, CommanderError, type OptionValues } from "commander";
import { EXIT, UsageError, usageMessage } from "../src/cli/args.ts";

// The product CLI's usage error and exit code: one kind of command-line mistake.
export { UsageError };

/**
 * A front end run as `npm run <script> -- [options]`. Commander prints the
 * help itself; its error messages are printed once, by `usageFailure`.
 */
export function harnessCommand(script: string, description: string): Command {
  return new Command(`npm run ${script}`)
    .description(description)
    .usage("-- [options]")
    .helpOption("-h, --help", "show this help")
    .configureOutput({ outputError: () => {} })
    .exitOverride();
}

/**
 * Parses the arguments; `undefined` when commander answered on its own
 * (`--help`). Throws a UsageError on any mistake, commander's or a value check's.
 */
export function parseCommand<T extends OptionValues>(
  program: Command,
  argv: readonly string[],
): T | undefined {
  try {
    program.parse([...argv], { from: "user" });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    if (error.exitCode === 0) return undefined;
    throw new UsageError(usageMessage(error));
  }
  return program.opts<T>();
}

/** Prints a UsageError with the hint and returns exit code 2; `undefined` for any other error. */
export function usageFailure(error: unknown): number | undefined {
  if (!(error instanceof UsageError)) return undefined;
  process.stderr.write(`${error.message}\nRun with --help for the options.\n`);
  return EXIT.usage;
}

/**
 * Runs a harness command's `main` on the process's arguments and turns how it
 * ended into the exit code: a usage error exits 2 naming the flag; an error
 * the command `expects` prints its message alone; anything else prints its
 * stack after the command's name. `exit`: end the process at once (for
 * commands whose servers would otherwise keep it alive).
 */
export function runCommandLine(
  main: (argv: string[]) => Promise<number>,
  opts: { name: string; exit?: boolean; expects?: (error: unknown) => boolean },
): void {
  const end = (code: number) => {
    if (opts.exit) process.exit(code);
    process.exitCode = code;
  };
  main(process.argv.slice(2)).then(end, (error: unknown) => {
    const usage = usageFailure(error);
    if (usage !== undefined) return end(usage);
    if (opts.expects?.(error)) {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    } else {
      const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
      process.stderr.write(`${opts.name} failed: ${detail}\n`);
    }
    end(1);
  });
}

/** What a numeric flag accepts. */
export interface NumberRule {
  /** What the message says the flag takes. */
  describe: string;
  integer?: boolean;
  /** Inclusive lower bound, unless `exclusiveMin`. */
  min: number;
  exclusiveMin?: boolean;
  max: number;
}

/** Plain decimal notation only: no "", "0x10", "Infinity", "1_000" or trailing junk. */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;

/** The number in plain decimal notation, or NaN ("", "0x10", "Infinity", "5s" are not numbers here). */
export function decimal(raw: string): number {
  return DECIMAL.test(raw.trim()) ? Number(raw) : Number.NaN;
}

/** Parses one flag's value by its rule; throws a UsageError naming the flag. */
export function parseNumberFlag(flag: string, raw: string, rule: NumberRule): number {
  const value = decimal(raw);
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

/** A commander argument parser for a numeric flag: its errors name the flag. */
export function numberArgument(flag: string, rule: NumberRule): (raw: string) => number {
  return (raw) => parseNumberFlag(flag, raw, rule);
}

/** A whole number from 0 to `max`. */
export const wholeNumber = (max: number): NumberRule => ({
  describe: `a whole number from 0 to ${max}`,
  integer: true,
  min: 0,
  max,
});

/** A rate or a size above 0. */
export const positiveNumber: NumberRule = {
  describe: "a number above 0 (up to 1000000)",
  min: 0,
  exclusiveMin: true,
  max: 1_000_000,
};
