/**
 * `doctor`: the preflight before a first run, read-only. The checks live in
 * `src/doctor/`; this module only turns flags into their options.
 */
import { regionOf } from "../clients.ts";
import { defaultStackName } from "../doctor/deployment.ts";
import { renderDoctor } from "../doctor/render.ts";
import { runDoctor } from "../doctor/run-doctor.ts";
import { createOperatorClients } from "../operator-clients.ts";
import { stringFlag } from "./args.ts";
import {
  type CliCommand,
  type CliContext,
  type CommandOutcome,
  stateMachineArnOption,
} from "./context.ts";

export const doctor: CliCommand = {
  name: "doctor",
  summary: "preflight, read-only: credentials, model, buckets, IAM, state machine, quotas",
  details: `Checks with read-only calls what a first run needs, one line per check (✓ passed, ✗ failed
with a fix, - skipped with the reason); exit code 1 when any check fails.
The parameters are read from the deployed Plan function's environment; run input flags
override them, to try settings before deploying them. With --local, the checks the
local stack cannot answer (STS, CloudFormation, IAM, Lambda, Service Quotas) are skipped.`,
  options(command) {
    command
      .option("--stage <stage>", "the osls stage deployed", "prod")
      .option(
        "--stack-name <name>",
        "the CloudFormation stack (default rekognition-weekly-batch-<stage>)",
      )
      .addOption(stateMachineArnOption());
  },
  run: doctorCommand,
};

export async function doctorCommand(ctx: CliContext): Promise<CommandOutcome> {
  const { values } = ctx.args;
  const stage = stringFlag(values, "stage") ?? "prod";
  const stackName = stringFlag(values, "stack-name") ?? defaultStackName(stage);
  const flagArn = stringFlag(values, "state-machine-arn");
  const report = await runDoctor({
    aws: ctx.clients,
    ...(ctx.local ? {} : { account: createOperatorClients(ctx.env) }),
    region: regionOf(ctx.env),
    env: ctx.env,
    overrides: ctx.args.overrides,
    stackName,
    ...(flagArn ? { stateMachineArn: flagArn } : {}),
  });
  return { exitCode: report.ok ? 0 : 1, data: report, text: renderDoctor(report) };
}
