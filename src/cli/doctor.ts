/**
 * `doctor`: the preflight before a first run, read-only. The checks live in
 * `src/doctor/`; this module only turns flags into their options.
 */
import { regionOf } from "../clients.ts";
import { defaultStackName } from "../doctor/deployment.ts";
import { renderDoctor } from "../doctor/render.ts";
import { runDoctor } from "../doctor/run-doctor.ts";
import { createOperatorClients } from "../operator-clients.ts";
import type { OptionTable } from "./args.ts";
import type { CliContext, CommandOutcome } from "./context.ts";

export const DOCTOR_OPTIONS: OptionTable = {
  stage: { type: "string" },
  "stack-name": { type: "string" },
  "state-machine-arn": { type: "string" },
};

export async function doctorCommand(ctx: CliContext): Promise<CommandOutcome> {
  const { values } = ctx.args;
  const stage = typeof values.stage === "string" && values.stage !== "" ? values.stage : "prod";
  const stackName =
    typeof values["stack-name"] === "string" && values["stack-name"] !== ""
      ? values["stack-name"]
      : defaultStackName(stage);
  const flagArn = values["state-machine-arn"];
  const report = await runDoctor({
    aws: ctx.clients,
    ...(ctx.local ? {} : { account: createOperatorClients(ctx.env) }),
    region: regionOf(ctx.env),
    env: ctx.env,
    overrides: ctx.args.overrides,
    stackName,
    ...(typeof flagArn === "string" && flagArn !== "" ? { stateMachineArn: flagArn } : {}),
  });
  return { exitCode: report.ok ? 0 : 1, data: report, text: renderDoctor(report) };
}
