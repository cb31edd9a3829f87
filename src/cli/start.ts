/**
 * `start [--follow]`: a manual execution of the deployed state machine with
 * input overrides, refused while another one runs; `--follow` shows its
 * progress until it ends and prints the run's summary.
 */
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  DescribeMapRunCommand,
  ListExecutionsCommand,
  ListMapRunsCommand,
  type MapRunItemCounts,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import { describeModel, type ModelDescription } from "../model/describe.ts";
import { endOfRunLines } from "../report/end-of-run.ts";
import type { RunReportResult, RunSummary } from "../report/summary.ts";
import { getObjectJson } from "../s3-json.ts";
import { numberFlag, positiveNumber, stringFlag, UsageError } from "./args.ts";
import {
  type CliCommand,
  type CliContext,
  type CommandOutcome,
  settingOf,
  stateMachineArnOf,
  stateMachineArnOption,
} from "./context.ts";

export const start: CliCommand = {
  name: "start",
  summary: "start an execution of the deployed workflow (refused while one runs)",
  details: `Run input flags become the execution input; the rest comes from the deployment.
With --follow, the exit code is 0 only when the execution SUCCEEDED.`,
  options(command) {
    command
      .option("--follow", "show progress (items, model, units) until it ends, then the summary")
      .option("--name <name>", "the execution's name (default: generated)")
      .addOption(stateMachineArnOption())
      .option(
        "--poll-seconds <s>",
        "how often --follow polls (default 5; 0.2 with --local)",
        positiveNumber(),
      );
  },
  run: startCommand,
};

/** The state machine ARN, or a usage error saying where to set it. */
export function requireStateMachineArn(ctx: CliContext): string {
  const arn = stateMachineArnOf(ctx);
  if (!arn) {
    throw new UsageError(
      "no state machine: pass --state-machine-arn or set STATE_MACHINE_ARN (the deployed stack's output), or use --local",
    );
  }
  return arn;
}

/** The workflow's RUNNING executions (every page). */
export async function runningExecutions(ctx: CliContext, stateMachineArn: string) {
  const running: { executionArn: string; name?: string; startDate?: string }[] = [];
  let nextToken: string | undefined;
  do {
    const page = await ctx.clients.sfn.send(
      new ListExecutionsCommand({ stateMachineArn, statusFilter: "RUNNING", nextToken }),
    );
    for (const e of page.executions ?? []) {
      running.push({
        executionArn: e.executionArn ?? "",
        ...(e.name ? { name: e.name } : {}),
        ...(e.startDate ? { startDate: e.startDate.toISOString() } : {}),
      });
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return running;
}

export interface FollowSnapshot {
  status: string;
  items?: MapRunItemCounts;
  model?: ModelDescription;
}

export async function startCommand(ctx: CliContext): Promise<CommandOutcome> {
  const stateMachineArn = requireStateMachineArn(ctx);
  const { overrides, values } = ctx.args;
  const pollMs = numberFlag(values, "poll-seconds", ctx.local ? 0.2 : 5) * 1000;

  const name = stringFlag(values, "name");
  const running = await runningExecutions(ctx, stateMachineArn);
  if (running[0]) {
    return {
      exitCode: 1,
      data: { started: false, reason: "another execution is running", running },
      text: `Not started: another execution is running (${running[0].executionArn}). Wait for it, or use \`stop\`.`,
    };
  }
  const started = await ctx.clients.sfn.send(
    new StartExecutionCommand({
      stateMachineArn,
      input: JSON.stringify(overrides),
      ...(name ? { name } : {}),
    }),
  );
  const executionArn = started.executionArn ?? "";
  const follow = values.follow === true;
  // A local execution lives in this process: leaving now would end it.
  if (!follow && !ctx.local) {
    return {
      exitCode: 0,
      data: { started: true, executionArn, startDate: started.startDate?.toISOString() },
      text: `Started ${executionArn}`,
    };
  }
  if (!ctx.json) ctx.io.stderr.write(`Started ${executionArn}\n`);
  const ended = await followExecution(ctx, executionArn, pollMs, follow);
  const summary = await readRunSummary(ctx, ended);
  const succeeded = ended.status === "SUCCEEDED";
  return {
    exitCode: succeeded ? 0 : 1,
    data: {
      started: true,
      executionArn,
      status: ended.status,
      ...(ended.error ? { error: ended.error, cause: ended.cause } : {}),
      ...(summary ? { summary } : {}),
    },
    text: renderEnd(ended, summary),
  };
}

/** Polls the execution until it ends; with `show`, a progress line per change on stderr. */
async function followExecution(
  ctx: CliContext,
  executionArn: string,
  pollMs: number,
  show: boolean,
): Promise<DescribeExecutionCommandOutput> {
  const { sfn, modelControl: rekognition } = ctx.clients;
  const projectVersionArn = settingOf(ctx, "projectVersionArn", "PROJECT_VERSION_ARN");
  const startedAt = ctx.clock.now();
  let mapRunArn: string | undefined;
  let lastLine = "";
  for (;;) {
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (show && !ctx.json) {
      const snapshot: FollowSnapshot = { status: execution.status ?? "UNKNOWN" };
      mapRunArn ??= (await sfn.send(new ListMapRunsCommand({ executionArn }))).mapRuns?.[0]
        ?.mapRunArn;
      if (mapRunArn) {
        snapshot.items = (await sfn.send(new DescribeMapRunCommand({ mapRunArn }))).itemCounts;
      }
      if (projectVersionArn) {
        snapshot.model = await describeModel({ rekognition, projectVersionArn }).catch(
          () => undefined,
        );
      }
      const line = progressLine(snapshot, (ctx.clock.now() - startedAt) / 1000);
      if (line !== lastLine) ctx.io.stderr.write(`${line}\n`);
      lastLine = line;
    }
    if (execution.status !== "RUNNING" && execution.status !== "PENDING_REDRIVE") return execution;
    await ctx.clock.sleep(pollMs);
  }
}

const BAR_WIDTH = 24;

/** `[##########--------------]  40/96 images, 1 failed | model RUNNING, 2 unit(s) | 12 s` */
export function progressLine(snapshot: FollowSnapshot, elapsedSeconds: number): string {
  const parts: string[] = [];
  const items = snapshot.items;
  if (items?.total) {
    const done = (items.succeeded ?? 0) + (items.failed ?? 0);
    const filled = Math.round((done / items.total) * BAR_WIDTH);
    parts.push(
      `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}] ${done}/${items.total} images${items.failed ? `, ${items.failed} failed` : ""}`,
    );
  } else {
    parts.push(`execution ${snapshot.status}`);
  }
  if (snapshot.model) {
    const { status, minInferenceUnits: min, maxInferenceUnits: max } = snapshot.model;
    parts.push(
      `model ${status}${min ? `, ${min}${max && max !== min ? `-${max}` : ""} unit(s)` : ""}`,
    );
  }
  parts.push(`${Math.round(elapsedSeconds)} s`);
  return parts.join(" | ");
}

/** The run's summary.json, when the execution got as far as its report. */
async function readRunSummary(
  ctx: CliContext,
  execution: DescribeExecutionCommandOutput,
): Promise<RunSummary | undefined> {
  let report: RunReportResult | undefined;
  try {
    report = (JSON.parse(execution.output ?? "{}") as { report?: RunReportResult }).report;
  } catch {
    return undefined;
  }
  if (!report) return undefined;
  const s3 = ctx.clients.s3;
  return (await getObjectJson({ s3, bucket: report.bucket, key: report.summaryKey })) as RunSummary;
}

function renderEnd(execution: DescribeExecutionCommandOutput, summary?: RunSummary): string {
  return endOfRunLines(execution, summary).join("\n");
}
