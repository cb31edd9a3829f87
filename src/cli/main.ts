/**
 * The operator's command line: `rekognition-weekly-batch <command> [options]`.
 * Settings are layered: defaults, then the environment (the same variables
 * as the deployment), then flags. Exit codes: 0 ok, 1 failure (run failed,
 * not found, refused), 2 usage error.
 */
import { awsErrorName } from "../aws-errors.ts";
import { RunnerError } from "../errors.ts";
import { EXIT, type OptionTable, parseCommandArgs, runInputFlagsHelp, UsageError } from "./args.ts";
import { CALIBRATE_OPTIONS, calibrateCommand } from "./calibrate.ts";
import {
  type CliContext,
  type CliIo,
  type CommandOutcome,
  createContext,
  processIo,
} from "./context.ts";
import { DOCTOR_OPTIONS, doctorCommand } from "./doctor.ts";
import { runLocalCli } from "./local.ts";
import type { LocalConnection } from "./local-connection.ts";
import { PLAN_OPTIONS, planCommand } from "./plan.ts";
import { RESULTS_OPTIONS, RESULTS_USAGE, resultsCommand } from "./results.ts";
import { START_OPTIONS, startCommand } from "./start.ts";
import { STATUS_OPTIONS, statusCommand } from "./status.ts";
import { STOP_OPTIONS, stopCommand } from "./stop.ts";

export const CLI_NAME = "rekognition-weekly-batch";

interface Command {
  summary: string;
  usage: string;
  options: OptionTable;
  run(ctx: CliContext): Promise<CommandOutcome>;
}

const COMMANDS: Record<string, Command> = {
  doctor: {
    summary: "preflight, read-only: credentials, model, buckets, IAM, state machine, quotas",
    usage: `doctor [--stage prod] [--stack-name <name>] [--state-machine-arn <arn>]
  Checks with read-only calls what a first run needs, one line per check (✓ passed, ✗ failed
  with a fix, - skipped with the reason); exit code 1 when any check fails.
  --stage <stage>              the osls stage deployed (default prod)
  --stack-name <name>          the CloudFormation stack (default rekognition-weekly-batch-<stage>)
  --state-machine-arn <arn>    the state machine, instead of the stack's output
  The parameters are read from the deployed Plan function's environment; run input flags
  override them, to try settings before deploying them. With --local, the checks the
  local stack cannot answer (STS, CloudFormation, IAM, Lambda, Service Quotas) are skipped.`,
    options: DOCTOR_OPTIONS,
    run: doctorCommand,
  },
  plan: {
    summary: "list the images and print units, duration and cost for the window",
    usage: `plan [--images <n>]
  --images <n>                 size for <n> images instead of listing the images prefix`,
    options: PLAN_OPTIONS,
    run: planCommand,
  },
  start: {
    summary: "start an execution of the deployed workflow (refused while one runs)",
    usage: `start [--follow] [--name <name>] [--state-machine-arn <arn>] [--poll-seconds <s>]
  --follow                     show progress (items, model, units) until it ends, then the summary;
                               the exit code is 0 only when the execution SUCCEEDED
  --name <name>                the execution's name (default: generated)
  Run input flags (below) become the execution input; the rest comes from the deployment.`,
    options: START_OPTIONS,
    run: startCommand,
  },
  status: {
    summary: "model status and units, running time and cost so far, running executions",
    usage: "status [--state-machine-arn <arn>]",
    options: STATUS_OPTIONS,
    run: statusCommand,
  },
  stop: {
    summary: "emergency stop: StopProjectVersion and stop the running execution",
    usage: `stop [--yes] [--state-machine-arn <arn>]
  --yes, -y                    do not ask for confirmation (required without a terminal)`,
    options: STOP_OPTIONS,
    run: stopCommand,
  },
  results: {
    summary:
      "the latest run's results (or --run, --since), filtered, as a table, CSV or JSON Lines",
    usage: RESULTS_USAGE,
    options: RESULTS_OPTIONS,
    run: resultsCommand,
  },
  calibrate: {
    summary:
      "step-load a RUNNING model to measure the TPS one unit sustains; store it for planning",
    usage: `calibrate [--start-tps 1] [--step-tps 1] [--step-seconds 10] [--max-tps 50]
          [--max-calls 5000] [--max-images 50] [--throttle-percent 2] [--units <n>] [--no-store]
  Calls DetectCustomLabels (S3 references to images under the images prefix) at a fixed rate
  per step, raising it by --step-tps per unit, until more than --throttle-percent of a step's
  calls are throttled. Every call is billed like any inference; the model must be RUNNING.`,
    options: CALIBRATE_OPTIONS,
    run: calibrateCommand,
  },
};

const HELP = `Operate the weekly Rekognition Custom Labels batch job.

Usage: ${CLI_NAME} <command> [options]

Commands
${Object.entries(COMMANDS)
  .map(([name, command]) => `  ${name.padEnd(11)}${command.summary}`)
  .join("\n")}
  local      the whole job locally, as \`npm run local\` (see \`${CLI_NAME} local --help\`)

Common options
  --json                       machine-readable output on stdout
  --local                      use a local stack started in this process (embedded S3, Custom Labels
                               emulator, local Step Functions API) on the data folder, instead of AWS;
                               its model is not running when the command starts, an execution runs
                               inside the command (start waits for it), and calibrate starts the
                               model for the probe and stops it afterwards
  --data <dir>                 the local data folder (default .local-data)
  -h, --help                   help (\`${CLI_NAME} <command> --help\` for a command)

Run input options (each overrides its environment variable)
${runInputFlagsHelp()}

AWS: credentials and region come from the standard SDK chain (AWS_PROFILE, AWS_REGION, ...);
endpoints from AWS_ENDPOINT_URL_S3 / _REKOGNITION / _SFN. The state machine comes from
--state-machine-arn or STATE_MACHINE_ARN.

Exit codes: 0 ok, 1 failure (run failed, not found, refused), 2 usage error.`;

/** Runs one command line; resolves with the exit code. Never throws. */
export async function runCli(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    io.stdout.write(`${HELP}\n`);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === "local") return runLocalCli(rest, io.env);
  const command = COMMANDS[name];
  if (!command) {
    io.stderr.write(`unknown command "${name}"; run ${CLI_NAME} --help for the commands\n`);
    return EXIT.usage;
  }
  let json = rest.includes("--json");
  let local: LocalConnection | undefined;
  try {
    const args = parseCommandArgs(rest, command.options);
    json = args.values.json === true;
    if (args.values.help) {
      io.stdout.write(
        `Usage: ${CLI_NAME} ${command.usage}\n\nRun ${CLI_NAME} --help for the common and run input options.\n`,
      );
      return EXIT.ok;
    }
    if (args.values.local) {
      process.env.LOG_LEVEL ??= "silent";
      // Loaded only for --local: the emulator and embedded S3 are not needed against AWS.
      const { connectLocal } = await import("./local-connection.ts");
      local = await connectLocal(
        typeof args.values.data === "string" ? { dataDirectory: args.values.data } : {},
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
    if (exitCode === EXIT.usage)
      io.stderr.write(`Run ${CLI_NAME} ${name} --help for the options.\n`);
    return exitCode;
  } finally {
    await local?.close();
  }
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
  if (error instanceof RunnerError && name === "InvalidRunInput") {
    return { exitCode: EXIT.usage, name, message: detail };
  }
  const messages: Record<string, string> = {
    StateMachineDoesNotExist: `state machine not found: ${detail}. Check --state-machine-arn / STATE_MACHINE_ARN and the region.`,
    ExecutionDoesNotExist: `execution not found: ${detail}`,
    InvalidArn: `not a valid ARN: ${detail}`,
    CredentialsProviderError: `no AWS credentials: ${detail}. Configure the standard AWS SDK chain (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO, ...) or use --local.`,
    UnrecognizedClientException: `AWS rejected the credentials: ${detail}`,
    InvalidSignatureException: `AWS rejected the credentials: ${detail}`,
    ExpiredTokenException: `the AWS credentials have expired: ${detail}`,
  };
  return {
    exitCode: EXIT.failure,
    name,
    message: messages[name] ?? `${name === "Error" ? "" : `${name}: `}${detail}`,
  };
}
