/**
 * `stop`: the emergency stop. Stops the model (whoever started it) and the
 * workflow's running executions, after a confirmation unless `--yes`.
 */
import { StopExecutionCommand } from "@aws-sdk/client-sfn";
import { describeModel } from "../model/describe.ts";
import { stopModelIfOwned } from "../model/stop.ts";
import { UsageError } from "./args.ts";
import {
  type CliCommand,
  type CliContext,
  type CommandOutcome,
  stateMachineArnOf,
  stateMachineArnOption,
} from "./context.ts";
import { runningExecutions } from "./start.ts";
import { leaseLocationOf, requireProjectVersionArn } from "./status.ts";

export const stop: CliCommand = {
  name: "stop",
  summary: "emergency stop: StopProjectVersion and stop the running execution",
  options(command) {
    command
      .option("-y, --yes", "do not ask for confirmation (required without a terminal)")
      .addOption(stateMachineArnOption());
  },
  run: stopCommand,
};

export async function stopCommand(ctx: CliContext): Promise<CommandOutcome> {
  const projectVersionArn = requireProjectVersionArn(ctx);
  const location = leaseLocationOf(ctx);
  if (!location) {
    throw new UsageError(
      "no results bucket (where the job's lease is): pass --results-bucket or set RESULTS_BUCKET (or IMAGES_BUCKET)",
    );
  }
  const stateMachineArn = stateMachineArnOf(ctx);
  // Checked before asking, so a wrong ARN fails before anyone confirms anything.
  const model = await describeModel({ rekognition: ctx.clients.modelControl, projectVersionArn });
  const executions = stateMachineArn ? await runningExecutions(ctx, stateMachineArn) : [];

  if (ctx.args.values.yes !== true) {
    if (!ctx.io.confirm) {
      throw new UsageError("stop asks for confirmation: pass --yes when not run from a terminal");
    }
    const what = [
      `stop model ${projectVersionArn} (now ${model.status})`,
      ...executions.map((e) => `stop execution ${e.executionArn}`),
    ].join(" and ");
    if (!(await ctx.io.confirm(`This will ${what}. Continue?`))) {
      return {
        exitCode: 1,
        data: { stopped: false, reason: "not confirmed" },
        text: "Nothing stopped.",
      };
    }
  }

  const stoppedExecutions: string[] = [];
  for (const execution of executions) {
    await ctx.clients.sfn.send(
      new StopExecutionCommand({
        executionArn: execution.executionArn,
        error: "OperatorStop",
        cause: "emergency stop from the command line",
      }),
    );
    stoppedExecutions.push(execution.executionArn);
  }
  const result = await stopModelIfOwned({
    rekognition: ctx.clients.modelControl,
    s3: ctx.clients.s3,
    ...location,
    projectVersionArn,
    executionId: "operator (command line)",
    clock: ctx.clock,
    logger: ctx.logger,
    reason: "emergency stop from the command line",
    force: true,
  });
  const lines = [
    `Model       ${result.stopped ? "stop requested" : "not stopped"}: ${result.reason} (now ${result.status})`,
    stoppedExecutions.length > 0
      ? `Executions  stopped ${stoppedExecutions.join(", ")}`
      : `Executions  ${stateMachineArn ? "none running" : "not checked (no --state-machine-arn / STATE_MACHINE_ARN)"}`,
  ];
  return {
    exitCode: 0,
    data: { model: result, stoppedExecutions },
    text: lines.join("\n"),
  };
}
