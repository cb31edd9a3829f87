/**
 * The command line's grammar, on commander: one subcommand per `CliCommand`
 * with the common and run input options, the `local` passthrough, and the
 * generated help. Parsing only records what to run; `main.ts` runs it.
 */
import { Command } from "commander";
import { addCommonOptions, addRunInputOptions, type ParsedArgs, parsedArgsOf } from "./args.ts";
import { COMMANDS } from "./commands.ts";
import type { CliCommand, CliIo } from "./context.ts";

export const CLI_NAME = "rekognition-weekly-batch";

/** What the command line asked for, once parsed. */
export type Invocation =
  | { kind: "command"; command: CliCommand; args: ParsedArgs }
  | { kind: "local"; argv: string[] };

const AFTER_HELP = `
Every command takes the common options (--json, --local, --data) and the run input options
(each overrides its environment variable): \`${CLI_NAME} <command> --help\` lists them.
\`local\` takes the options of \`npm run local\` instead (\`${CLI_NAME} local --help\`).

AWS: credentials and region come from the standard SDK chain (AWS_PROFILE, AWS_REGION, ...);
endpoints from AWS_ENDPOINT_URL_S3 / _REKOGNITION / _SFN. The state machine comes from
--state-machine-arn or STATE_MACHINE_ARN.

Exit codes: 0 ok, 1 failure (run failed, not found, refused), 2 usage error.`;

/**
 * The program; `onParsed` receives the invocation. Errors are thrown as
 * `CommanderError`s (exit override) and help goes to `io`.
 */
export function buildProgram(io: CliIo, onParsed: (invocation: Invocation) => void): Command {
  const program = new Command(CLI_NAME)
    .description("Operate the weekly Rekognition Custom Labels batch job.")
    .usage("<command> [options]")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // The caller prints errors, with the hint to the command's help.
      outputError: () => {},
    })
    .showSuggestionAfterError()
    .addHelpText("after", AFTER_HELP);

  for (const spec of COMMANDS) {
    const command = program.command(spec.name).summary(spec.summary).description(spec.summary);
    spec.options?.(command);
    addRunInputOptions(addCommonOptions(command));
    if (spec.details) command.addHelpText("after", `\n${spec.details}`);
    command.action((_options, self: Command) => {
      onParsed({ kind: "command", command: spec, args: parsedArgsOf(self) });
    });
  }

  program
    .command("local")
    .summary("the whole job locally, as `npm run local` (development install)")
    .description("The whole job locally, exactly as `npm run local` with the same options.")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument("[options...]", "the options of `npm run local`")
    .action((argv: string[]) => onParsed({ kind: "local", argv }));

  return program;
}
