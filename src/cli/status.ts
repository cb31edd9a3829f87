/**
 * `status`: the model version's status and units, how long this job's run
 * has kept it running and what that cost so far, and the workflow's running
 * executions.
 */

import { isLeaseActive, type LeaseRecord, readLease } from "../lease.ts";
import { describeModel, type ModelDescription } from "../model/describe.ts";
import {
  latestUnitFigures,
  metricsPeriodFromEnv,
  readUnitMetrics,
  type UnitMetric,
} from "../model-metrics.ts";
import { formatDuration } from "../report/format.ts";
import { normalizePrefix } from "../result-keys.ts";
import { UsageError } from "./args.ts";
import {
  type CliCommand,
  type CliContext,
  type CommandOutcome,
  settingOf,
  stateMachineArnOf,
  stateMachineArnOption,
} from "./context.ts";
import { runningExecutions } from "./start.ts";

export const status: CliCommand = {
  name: "status",
  summary: "model status and units, running time and cost so far, running executions",
  options(command) {
    command.addOption(stateMachineArnOption());
  },
  run: statusCommand,
};

/** The model version ARN from `--project-version-arn` or `PROJECT_VERSION_ARN`. */
export function requireProjectVersionArn(ctx: CliContext): string {
  const arn = settingOf(ctx, "projectVersionArn", "PROJECT_VERSION_ARN");
  if (!arn) {
    throw new UsageError("no model: pass --project-version-arn or set PROJECT_VERSION_ARN");
  }
  return arn;
}

/** Where the workflow keeps its lease, from flags or environment; undefined when no bucket is known. */
export function leaseLocationOf(ctx: CliContext) {
  const resultsBucket =
    settingOf(ctx, "resultsBucket", "RESULTS_BUCKET") ??
    settingOf(ctx, "imagesBucket", "IMAGES_BUCKET");
  if (!resultsBucket) return undefined;
  return {
    resultsBucket,
    resultsPrefix: normalizePrefix(
      settingOf(ctx, "resultsPrefix", "RESULTS_PREFIX") ?? "rekognition-results/",
    ),
  };
}

export interface StatusReport {
  projectVersionArn: string;
  model: ModelDescription;
  /** The run that started the model, when a workflow run holds it (from the lease). */
  run?: {
    executionId: string;
    startedAt: string;
    runningSeconds: number;
    units: number;
    maxInferenceUnits?: number;
    costSoFar: number;
    pricePerUnitHour: number;
  };
  runningExecutions?: { executionArn: string; name?: string; startDate?: string }[];
  /** The latest unit metrics from CloudWatch (GetMetricData over the last 15 minutes). */
  unitMetrics:
    | {
        status: "read";
        periodSeconds: number;
        figures: Partial<Record<UnitMetric, { value: number; at: string }>>;
      }
    | { status: "unavailable"; reason: string };
}

/** How far back `status` looks for the latest datapoints (CloudWatch lags a few minutes). */
const STATUS_METRICS_LOOKBACK_MS = 15 * 60_000;

async function currentUnitMetrics(
  ctx: CliContext,
  projectVersionArn: string,
): Promise<StatusReport["unitMetrics"]> {
  try {
    const periodSeconds = metricsPeriodFromEnv(ctx.env);
    const now = ctx.clock.now();
    const reading = await readUnitMetrics({
      cloudwatch: ctx.clients.cloudwatch,
      projectVersionArn,
      fromMs: now - STATUS_METRICS_LOOKBACK_MS,
      toMs: now,
      periodSeconds,
    });
    return { status: "read", periodSeconds, figures: latestUnitFigures(reading) };
  } catch (error) {
    const name = (error as { name?: string } | null)?.name ?? "Error";
    return { status: "unavailable", reason: `${name}: ${(error as Error).message}` };
  }
}

export async function statusCommand(ctx: CliContext): Promise<CommandOutcome> {
  const projectVersionArn = requireProjectVersionArn(ctx);
  const model = await describeModel({ rekognition: ctx.clients.modelControl, projectVersionArn });
  const report: StatusReport = {
    projectVersionArn,
    model,
    unitMetrics: await currentUnitMetrics(ctx, projectVersionArn),
  };
  const location = leaseLocationOf(ctx);
  const lease = location
    ? await readLease({ s3: ctx.clients.s3, ...location, logger: ctx.logger })
    : undefined;
  const billed = model.status === "RUNNING" || model.status === "STARTING";
  if (lease && isLeaseActive(lease) && lease.projectVersionArn === projectVersionArn && billed) {
    report.run = runOf(lease, ctx.clock.now(), pricePerUnitHourOf(ctx));
  }
  const stateMachineArn = stateMachineArnOf(ctx);
  if (stateMachineArn) report.runningExecutions = await runningExecutions(ctx, stateMachineArn);
  return { exitCode: 0, data: report, text: renderStatus(report) };
}

function pricePerUnitHourOf(ctx: CliContext): number {
  const price = Number(settingOf(ctx, "pricePerUnitHour", "PRICE_PER_UNIT_HOUR") ?? 4);
  if (!Number.isFinite(price) || price < 0) {
    throw new UsageError(`--price-per-unit-hour must be a non-negative number, got ${price}`);
  }
  return price;
}

function runOf(lease: LeaseRecord, nowMs: number, pricePerUnitHour: number): StatusReport["run"] {
  const runningSeconds = Math.max(0, (nowMs - Date.parse(lease.startedAt)) / 1000);
  return {
    executionId: lease.executionId,
    startedAt: lease.startedAt,
    runningSeconds: Math.round(runningSeconds),
    units: lease.units,
    ...(lease.maxInferenceUnits ? { maxInferenceUnits: lease.maxInferenceUnits } : {}),
    // Started units are billed from the start; auto-scaled extra units are not known here.
    costSoFar: Math.round(((lease.units * runningSeconds) / 3600) * pricePerUnitHour * 100) / 100,
    pricePerUnitHour,
  };
}

function metricsText(metrics: StatusReport["unitMetrics"]): string {
  if (metrics.status === "unavailable") return `CloudWatch not readable (${metrics.reason})`;
  const f = metrics.figures;
  const show = (id: UnitMetric) => (f[id] ? String(f[id].value) : "-");
  const at = f.inService?.at ?? f.desired?.at;
  if (!at)
    return "no CloudWatch data in the last 15 minutes (the model is not running, or CloudWatch lags)";
  return `in service ${show("inService")}, desired ${show("desired")}, min ${show("min")}, max ${show("max")} (CloudWatch, ${at})`;
}

function renderStatus(report: StatusReport): string {
  const { model } = report;
  const units =
    model.minInferenceUnits !== undefined
      ? `${model.minInferenceUnits} min / ${model.maxInferenceUnits ?? model.minInferenceUnits} max`
      : "none";
  const lines = [
    `Model       ${report.projectVersionArn}`,
    `Status      ${model.status}${model.statusMessage ? ` (${model.statusMessage})` : ""}`,
    `Units       ${units}`,
    `Metrics     ${metricsText(report.unitMetrics)}`,
  ];
  if (report.run) {
    lines.push(
      `Running     ${formatDuration(report.run.runningSeconds, { coarse: true })}, started by ${report.run.executionId}`,
      `Cost so far USD ${report.run.costSoFar.toFixed(2)} (${report.run.units} unit(s) x USD ${report.run.pricePerUnitHour}/hour)`,
    );
  } else if (model.status === "RUNNING" || model.status === "STARTING") {
    lines.push("Running     not started by this job (no active lease): running time unknown here");
  }
  if (report.runningExecutions) {
    lines.push(
      report.runningExecutions.length === 0
        ? "Executions  none running"
        : report.runningExecutions
            .map(
              (e, i) =>
                `${i === 0 ? "Executions " : "           "} ${e.executionArn} (since ${e.startDate})`,
            )
            .join("\n"),
    );
  }
  return lines.join("\n");
}
