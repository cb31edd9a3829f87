/**
 * One function per state of the workflow: what each Lambda does between
 * parsing its event and returning. The Lambdas in `functions/` only bind
 * these to the shared wrapper; the local runner invokes those same Lambdas.
 * The Plan step and MergePlan are in `plan-step.ts`.
 */
import { alertTopicFromEnv, type RunNotification, runNotification } from "./alerts.ts";
import { InvalidRunInputError } from "./errors.ts";
import { writeHeartbeat } from "./heartbeat.ts";
import type { HandlerTools } from "./lambda-handler.ts";
import { publishBatchMetrics, publishReportMetrics } from "./metrics.ts";
import { checkModel, type ModelCheck } from "./model/describe.ts";
import { type EnsureModelRunningResult, ensureModelRunning } from "./model/start.ts";
import { type StopModelResult, stopModelIfOwned } from "./model/stop.ts";
import { metricsPeriodFromEnv } from "./model-metrics.ts";
import { processBatch } from "./process-batch.ts";
import { type ReapResult, reapStaleLease, type SafetyStopResult, safetyStop } from "./reaper.ts";
import {
  type ReportState,
  type RunReportResult,
  type RunSummary,
  writeRunReport,
} from "./report/summary.ts";
import { normalizePrefix } from "./result-keys.ts";
import { type EvaluateRoundState, evaluateRound, type RoundsState } from "./rounds.ts";
import { type RunEvent, runEvent } from "./run-event.ts";
import type { BatchContext, BatchOutput, ImageRef, Plan, Round } from "./shapes.ts";
import { truncateText } from "./state-limits.ts";

/** The Wait state's Seconds in `statemachines/weekly-batch.asl.yml` (a test keeps them equal). */
export const MODEL_WAIT_SECONDS = 30;

/** Longest we wait for RUNNING: three times the expected start-up, and at least 20 minutes. */
export function maxStartSeconds(plan: Plan): number {
  return Math.max(3 * plan.sizing.startupSeconds, 20 * 60);
}

/**
 * Longest run the plan allows, for the lease's expiry (which the reaper
 * applies only when it cannot learn the execution's status; batches' heartbeats
 * push it on): the start-up allowance plus twice the expected processing
 * time plus an hour of slack.
 */
export function maxRunMs(plan: Plan): number {
  return (maxStartSeconds(plan) + 2 * plan.sizing.expectedProcessingSeconds + 3600) * 1000;
}

/**
 * Where the lease lives: the deployment's results location (environment), not
 * the execution's, so that the safety stop and the reaper, which see no
 * execution input, always find it.
 */
export function leaseHome(env: NodeJS.ProcessEnv = process.env): {
  resultsBucket: string;
  resultsPrefix: string;
} {
  const resultsBucket = env.RESULTS_BUCKET || env.IMAGES_BUCKET;
  if (!resultsBucket) {
    throw new InvalidRunInputError(
      "env var RESULTS_BUCKET (or IMAGES_BUCKET) must name the results bucket, got nothing",
    );
  }
  return {
    resultsBucket,
    resultsPrefix: normalizePrefix(env.RESULTS_PREFIX ?? "rekognition-results/"),
  };
}

export {
  assertNoConcurrentExecution,
  mergePlanStep,
  type PlanEvent,
  type PlannedState,
  plannedState,
  planStep,
} from "./plan-step.ts";

export async function ensureModelRunningStep(
  /** `round`: the round about to run; after a restart it asks for more units than the plan. */
  event: { plan: Plan; round?: Pick<Round, "units"> },
  { clients, clock, logger, context, signal }: HandlerTools,
): Promise<EnsureModelRunningResult> {
  const { plan } = event;
  const remaining = context.getRemainingTimeInMillis?.();
  return ensureModelRunning({
    rekognition: clients.modelControl,
    s3: clients.s3,
    ...leaseHome(),
    projectVersionArn: plan.context.projectVersionArn,
    units: event.round?.units ?? plan.sizing.units,
    ...(plan.sizing.maxInferenceUnits !== undefined
      ? { maxInferenceUnits: plan.sizing.maxInferenceUnits }
      : {}),
    executionId: plan.executionId,
    runId: plan.runId,
    maxRunMs: maxRunMs(plan),
    clock,
    logger,
    signal,
    // A STOPPING model is waited out inside this Lambda, within its own time.
    ...(remaining !== undefined ? { stoppingTimeoutMs: Math.max(0, remaining - 60_000) } : {}),
  });
}

export interface CheckModelResult extends ModelCheck {
  attempt: number;
  timedOut: boolean;
  /** Always a string, for the Fail state's Cause. */
  message: string;
}

export async function checkModelStep(
  /** `awaiting: "STOPPED"`: the wait of a restart, ready once the model has stopped. */
  event: { plan: Plan; attempt?: number; awaiting?: "RUNNING" | "STOPPED" },
  { clients, clock }: HandlerTools,
): Promise<CheckModelResult> {
  const { plan } = event;
  const attempt = (event.attempt ?? 0) + 1;
  const maxAttempts = Math.ceil(maxStartSeconds(plan) / MODEL_WAIT_SECONDS);
  const described = await checkModel({
    rekognition: clients.modelControl,
    projectVersionArn: plan.context.projectVersionArn,
    clock,
  });
  const check =
    event.awaiting === "STOPPED"
      ? { ...described, ready: described.status === "STOPPED" }
      : described;
  const timedOut = !check.ready && !check.failed && attempt >= maxAttempts;
  const message = check.failed
    ? `model ${plan.context.projectVersionArn} is ${check.status}: ${check.statusMessage ?? "no status message"}`
    : timedOut
      ? `model ${plan.context.projectVersionArn} still ${check.status} after ${attempt} checks (${maxStartSeconds(plan)} s allowed)`
      : `model is ${check.status}`;
  return { ...check, attempt, timedOut, message };
}

/** The Distributed Map's ItemBatcher sends `{ BatchInput: { context }, Items }`. */
export interface ProcessBatchEvent {
  BatchInput: { context: BatchContext };
  Items: ImageRef[];
}

export async function processBatchStep(
  event: ProcessBatchEvent,
  { clients, clock, logger, signal, context }: HandlerTools,
): Promise<BatchOutput> {
  const remaining = context.getRemainingTimeInMillis?.();
  await recordHeartbeat(event?.BatchInput?.context?.runId, { clients, clock, logger });
  const output = await processBatch({
    event: { BatchInput: event?.BatchInput?.context, Items: event?.Items },
    rekognition: clients.rekognition,
    s3: clients.s3,
    clock,
    logger,
    signal,
    // Backoff never sleeps into the abort grace period.
    ...(remaining !== undefined ? { deadline: clock.now() + Math.max(0, remaining - 30_000) } : {}),
  });
  publishBatchMetrics(output, event.BatchInput.context, logger);
  return output;
}

/**
 * Best effort: a batch that cannot record its heartbeat still runs (the
 * reaper asks Step Functions first; the heartbeat only matters when it cannot).
 */
async function recordHeartbeat(
  runId: string | undefined,
  { clients, clock, logger }: Pick<HandlerTools, "clients" | "clock" | "logger">,
): Promise<void> {
  if (typeof runId !== "string" || runId === "") return;
  try {
    await writeHeartbeat({ s3: clients.s3, ...leaseHome(), runId, now: clock.now() });
  } catch (error) {
    logger.warn("could not record the run's heartbeat", {
      runId,
      error: error instanceof Error ? error.message : String(error),
    });
  }
}

export async function stopModelStep(
  /** `keepLease`: a restart's stop; the same execution starts the model again under that lease. */
  event: { plan: Plan; executionId: string; reason?: string; keepLease?: boolean },
  { clients, clock, logger }: HandlerTools,
): Promise<StopModelResult> {
  return stopModelIfOwned({
    ...(event.keepLease === true ? { keepLease: true } : {}),
    rekognition: clients.modelControl,
    s3: clients.s3,
    ...leaseHome(),
    projectVersionArn: event.plan.context.projectVersionArn,
    executionId: event.executionId,
    reason: event.reason ?? "run finished",
    clock,
    logger,
  });
}

/** After a round of the Map: records it and says whether to restart, go on, or end. */
export async function evaluateRoundStep(
  state: EvaluateRoundState,
  { clients, clock, logger }: HandlerTools,
): Promise<RoundsState> {
  return evaluateRound(state, { s3: clients.s3, clock, logger });
}

/** A notification's message is cut to this many characters (at most 32 KiB of UTF-8). */
export const MAX_NOTIFICATION_CHARS = 8000;

/**
 * The report's result, plus the run's event (which the workflow puts on the
 * default EventBridge bus) and the message it publishes when an alert topic is set.
 */
export interface ReportStepResult extends RunReportResult {
  event: RunEvent;
  notification?: RunNotification;
}

export async function reportStep(
  state: ReportState,
  { clients, clock, logger }: HandlerTools,
): Promise<ReportStepResult> {
  let summary: RunSummary | undefined;
  let metricsPeriodSeconds = 60;
  try {
    metricsPeriodSeconds = metricsPeriodFromEnv();
  } catch (error) {
    // A bad setting must not cost the report: read per minute and say so in the log.
    logger.warn("MODEL_METRICS_PERIOD_SECONDS ignored", { error: (error as Error).message });
  }
  const result = await writeRunReport({
    s3: clients.s3,
    cloudwatch: clients.cloudwatch,
    metricsPeriodSeconds,
    state,
    clock,
    logger,
    onSummary: (written) => {
      summary = written;
      publishReportMetrics(written, logger);
    },
  });
  const event = runEvent({
    result,
    runId: state.plan.runId,
    executionId: state.plan.executionId,
    resultsPrefix: state.plan.context.resultsPrefix,
    ...(summary ? { summary } : {}),
    ...(state.error ? { failure: state.error } : {}),
  });
  const topicArn = alertTopicFromEnv();
  if (!topicArn) return { ...result, event };
  const notification = runNotification({
    topicArn,
    result,
    ...(summary ? { summary } : {}),
    ...(state.error ? { failure: state.error } : {}),
  });
  // The message rides in this step's output (256 KiB with the whole state) on
  // its way to SNS (256 KiB): a long failure cause is cut, the report has it all.
  return {
    ...result,
    event,
    notification: {
      ...notification,
      message: truncateText(notification.message, MAX_NOTIFICATION_CHARS),
    },
  };
}

/** The EventBridge "Step Functions Execution Status Change" event (the fields we read). */
export interface ExecutionStatusChangeEvent {
  detail?: { executionArn?: string; status?: string; stateMachineArn?: string };
}

export async function safetyStopStep(
  event: ExecutionStatusChangeEvent,
  { clients, clock, logger }: HandlerTools,
): Promise<SafetyStopResult> {
  const executionArn = event?.detail?.executionArn;
  const status = event?.detail?.status;
  if (!executionArn || !status) {
    throw new InvalidRunInputError(
      "the event must be a Step Functions Execution Status Change with detail.executionArn and detail.status",
    );
  }
  return safetyStop({
    rekognition: clients.modelControl,
    s3: clients.s3,
    ...leaseHome(),
    executionArn,
    status,
    clock,
    logger,
  });
}

export async function reaperStep(
  _event: unknown,
  { clients, clock, logger }: HandlerTools,
): Promise<ReapResult> {
  return reapStaleLease({
    rekognition: clients.modelControl,
    s3: clients.s3,
    sfn: clients.sfn,
    ...leaseHome(),
    clock,
    logger,
  });
}
