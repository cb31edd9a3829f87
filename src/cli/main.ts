/**
 * The operator's command line: `rekognition-weekly-batch <command> [options]`.
 * Settings are layered: defaults, then the environment (the same variables
 * as the deployment), then flags. Exit codes: 0 ok, 1 failure (run failed,
 * not found, refused), 2 usage error.
 */
import { CommanderError } from "commander";
import { awsErrorName, isCredentialsRejected, isExpiredCredentials } from "../aws-errors.ts";
import { InvalidRunInputError } from "../errors.ts";
import { EXIT, UsageError, usageMessage } from "./args.ts";
import { COMMANDS } from "./commands.ts";
import { type CliIo, createContext, processIo } from "./context.ts";
import {
  DevelopmentInstallNeeded,
  developmentInstallNeeded,
  type LocalConnection,
  type LocalHarness,
} from "./local-harness.ts";
import { buildProgram, CLI_NAME, type Invocation } from "./program.ts";

export { processIo } from "./context.ts";
export type { LocalConnection, LocalHarness } from "./local-harness.ts";
export { CLI_NAME } from "./program.ts";

export interface CliOptions {
  /** The rehearsal harness, for `--local` and `local`; absent in a production install. */
  localHarness?: LocalHarness;
}

/** Runs one command line; resolves with the exit code. Never throws. */
export async function runCli(
  argv: string[],
  io: CliIo = processIo(),
  options: CliOptions = {},
): Promise<number> {
  // Known before parsing, so that a usage error is JSON too.
  let json = argv.includes("--json");
  let local: LocalConnection | undefined;
  let invocation: Invocation | undefined;
  try {
    if (argv.length === 0) {
      io.stdout.write(buildProgram(io, () => {}).helpInformation());
      return EXIT.usage;
    }
    try {
      await buildProgram(io, (parsed) => {
        invocation = parsed;
      }).parseAsync(argv, { from: "user" });
    } catch (error) {
      if (!(error instanceof CommanderError)) throw error;
      // --help and `help` end the parse with exit code 0.
      if (error.exitCode === 0) return EXIT.ok;
      throw new UsageError(usageMessage(error));
    }
    if (!invocation) return EXIT.ok;
    if (invocation.kind === "local") return await runLocal(invocation.argv, io, options);
    const { command, args } = invocation;
    json = args.values.json === true;
    if (args.values.data !== undefined && !args.values.local) {
      throw new UsageError("--data is the local data folder: it goes with --local");
    }
    if (args.values.local) {
      if (!options.localHarness) throw developmentInstallNeeded("--local");
      process.env.LOG_LEVEL ??= "silent";
      const dataDirectory = args.values.data;
      local = await options.localHarness.connect(
        typeof dataDirectory === "string" ? { dataDirectory } : {},
      );
    }
    const outcome = await command.run(createContext(io, args, local));
    // A streamed outcome has written its output already, row by row.
    if (outcome.streamed) return outcome.exitCode;
    if (json) io.stdout.write(`${JSON.stringify(outcome.data, null, 2)}\n`);
    else (outcome.exitCode === 0 ? io.stdout : io.stderr).write(`${outcome.text}\n`);
    return outcome.exitCode;
  } catch (error) {
    const { exitCode, name: errorName, message } = describeFailure(error);
    if (json) io.stdout.write(`${JSON.stringify({ error: errorName, message }, null, 2)}\n`);
    io.stderr.write(`${message}\n`);
    if (exitCode === EXIT.usage && !(error instanceof DevelopmentInstallNeeded))
      io.stderr.write(`${helpHint(argv)}\n`);
    return exitCode;
  } finally {
    await local?.close();
  }
}

/** `local`: `npm run local` as it is; it has no JSON output, and says so rather than ignore --json. */
async function runLocal(argv: string[], io: CliIo, options: CliOptions): Promise<number> {
  if (argv.includes("--json")) {
    throw new UsageError(
      `local prints a human-readable run and has no --json; for the same job in JSON, run \`${CLI_NAME} start --local --follow --json\``,
    );
  }
  if (!options.localHarness) throw developmentInstallNeeded("local");
  return options.localHarness.runLocalJob(argv, io.env);
}

function helpHint(argv: string[]): string {
  const name = argv[0];
  return name === "local" || COMMANDS.some((command) => command.name === name)
    ? `Run ${CLI_NAME} ${name} --help for the options.`
    : `Run ${CLI_NAME} --help for the commands.`;
}

/** An error as the operator should read it, with its exit code. */
export function describeFailure(error: unknown): {
  exitCode: number;
  name: string;
  message: string;
} {
  const name = awsErrorName(error) || "Error";
  const detail = error instanceof Error ? error.message : String(error);
  if (error instanceof UsageError) return { exitCode: EXIT.usage, name, message: detail };
  if (error instanceof InvalidRunInputError) return { exitCode: EXIT.usage, name, message: detail };
  if (isExpiredCredentials(error)) {
    return { exitCode: EXIT.failure, name, message: `the AWS credentials have expired: ${detail}` };
  }
  if (isCredentialsRejected(error)) {
    return { exitCode: EXIT.failure, name, message: `AWS rejected the credentials: ${detail}` };
  }
  const messages: Record<string, string> = {
    StateMachineDoesNotExist: `state machine not found: ${detail}. Check --state-machine-arn / STATE_MACHINE_ARN and the region.`,
    ExecutionDoesNotExist: `execution not found: ${detail}`,
    InvalidArn: `not a valid ARN: ${detail}`,
    CredentialsProviderError: `no AWS credentials: ${detail}. Configure the standard AWS SDK chain (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO, ...) or use --local.`,
  };
  return {
    exitCode: EXIT.failure,
    name,
    message: messages[name] ?? `${name === "Error" ? "" : `${name}: `}${detail}`,
  };
}
