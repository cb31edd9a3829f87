/**
 * What every command receives: its parsed flags, the environment it reads
 * settings from, the AWS clients, and where to write. With `--local` the
 * clients point at an in-process local stack and local Step Functions API.
 */
import { createInterface } from "node:readline/promises";
import { type Command, Option } from "commander";
import { type AwsClients, createAwsClients } from "../clients.ts";
import { type Clock, type Logger, silentLogger, systemClock } from "../runtime.ts";
import { type ParsedArgs, stringFlag } from "./args.ts";
import type { LocalConnection } from "./local-harness.ts";

/** The process's streams and environment, injectable for tests. */
export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Asks a yes/no question; undefined when there is nobody to ask (no terminal). */
  confirm?: (question: string) => Promise<boolean>;
}

export interface CliContext {
  io: CliIo;
  args: ParsedArgs;
  /** The settings' environment: the process's, plus the local stack's with `--local`. */
  env: NodeJS.ProcessEnv;
  clients: AwsClients;
  clock: Clock;
  logger: Logger;
  json: boolean;
  /** Present with `--local`. */
  local?: LocalConnection;
}

/** What a command hands back: its exit code, its JSON for `--json`, its text otherwise. */
export interface CommandOutcome {
  exitCode: number;
  data: unknown;
  text: string;
  /** True when the command wrote its output itself, as it went (nothing left to print). */
  streamed?: boolean;
}

/** The real process: stdout, stderr, process.env, and a terminal prompt when stdin is one. */
export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    ...(process.stdin.isTTY
      ? {
          confirm: async (question: string) => {
            const rl = createInterface({ input: process.stdin, output: process.stderr });
            try {
              return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
            } finally {
              rl.close();
            }
          },
        }
      : {}),
  };
}

export function createContext(io: CliIo, args: ParsedArgs, local?: LocalConnection): CliContext {
  const env = local ? process.env : io.env;
  return {
    io,
    args,
    env,
    clients: createAwsClients(env),
    clock: systemClock,
    logger: silentLogger,
    json: args.values.json === true,
    ...(local ? { local } : {}),
  };
}

/**
 * One command of the CLI: a module exports one of these and `commands.ts`
 * lists it. The common and run input options are added to every command.
 */
export interface CliCommand {
  name: string;
  /** One line, in the command list. */
  summary: string;
  /** Shown after the generated options in the command's help: what it does, in more words. */
  details?: string;
  /** Adds the command's own options. */
  options?(command: Command): void;
  run(ctx: CliContext): Promise<CommandOutcome>;
}

/** `--state-machine-arn`, for the commands that talk to the workflow. */
export function stateMachineArnOption(): Option {
  return new Option(
    "--state-machine-arn <arn>",
    "the state machine (default STATE_MACHINE_ARN, the deployed stack's output)",
  );
}

/** The state machine from `--state-machine-arn` or `STATE_MACHINE_ARN`, if any. */
export function stateMachineArnOf(ctx: CliContext): string | undefined {
  return (
    stringFlag(ctx.args.values, "state-machine-arn") ?? (ctx.env.STATE_MACHINE_ARN || undefined)
  );
}

/** A run input setting from its flag, else its environment variable. */
export function settingOf(ctx: CliContext, field: keyof ParsedArgs["overrides"], envName: string) {
  return ctx.args.overrides[field] ?? (ctx.env[envName] || undefined);
}
