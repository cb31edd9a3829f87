/**
 * The second and third lines of defence against a model left running:
 *
 * - `safetyStop`: run by an EventBridge rule when an execution ends FAILED,
 *   TIMED_OUT or ABORTED (a Catch does not run for the last two). Stops the
 *   model if that execution owns the lease.
 * - `reapStaleLease`: run on a schedule. Stops the model of an unreleased
 *   lease whose execution is no longer running, or whose lease has expired.
 *
 * Both decide from the lease only, so they never stop a model that no run of
 * this workflow started.
 */
import type { RekognitionClient } from "@aws-sdk/client-rekognition";
import type { S3Client } from "@aws-sdk/client-s3";
import { DescribeExecutionCommand, type SFNClient } from "@aws-sdk/client-sfn";
import { awsErrorName } from "./aws-errors.ts";
import { AccessDeniedError } from "./errors.ts";
import { isLeaseExpired, type LeaseRecord, readLease } from "./lease.ts";
import { type ModelStatus, ownershipRefusal, stopModelIfOwned } from "./model-lifecycle.ts";
import type { Clock, Logger } from "./runtime.ts";

/** Execution statuses after which the execution will never stop the model itself. */
const ENDED_STATUSES: ReadonlySet<string> = new Set([
  "FAILED",
  "TIMED_OUT",
  "ABORTED",
  "SUCCEEDED",
]);

const EXECUTION_ARN = /^arn:[a-z\d-]+:states:[a-z\d-]+:\d{12}:execution:/;

/** True for a Step Functions execution ARN; local runs use other ids. */
export function isExecutionArn(executionId: string): boolean {
  return EXECUTION_ARN.test(executionId);
}

interface LeaseStores {
  rekognition: RekognitionClient;
  s3: S3Client;
  resultsBucket: string;
  resultsPrefix: string;
  clock: Clock;
  logger: Logger;
  /** Passed on to `stopModelIfOwned`: how long a STARTING model may take to accept the stop. */
  settleTimeoutMs?: number;
  pollMs?: number;
}

export interface SafetyStopInput extends LeaseStores {
  /** `detail.executionArn` of the status-change event. */
  executionArn: string;
  /** `detail.status` of the status-change event. */
  status: string;
}

export interface SafetyStopResult {
  stopped: boolean;
  reason: string;
  executionArn: string;
  executionStatus: string;
  projectVersionArn?: string;
  modelStatus?: ModelStatus | "UNKNOWN";
}

/**
 * Stops the model if the ended execution owns the lease; otherwise does
 * nothing, and says why (in the result and in a log line).
 */
export async function safetyStop(input: SafetyStopInput): Promise<SafetyStopResult> {
  const { executionArn, status, logger } = input;
  const base = { executionArn, executionStatus: status };
  if (!ENDED_STATUSES.has(status)) {
    const reason = `execution status ${status} is not an end: nothing to do`;
    logger.info("safety stop: nothing to do", { ...base, reason });
    return { ...base, stopped: false, reason };
  }
  const lease = await readLease({ ...input, logger });
  if (!lease) {
    const reason = "no lease: no execution of this workflow started the model";
    logger.info("safety stop: model left alone", { ...base, reason });
    return { ...base, stopped: false, reason };
  }
  const { projectVersionArn } = lease;
  const refusal = ownershipRefusal(lease, executionArn, projectVersionArn);
  if (refusal) {
    logger.info("safety stop: model left alone", { ...base, reason: refusal, projectVersionArn });
    return { ...base, stopped: false, reason: refusal, projectVersionArn };
  }
  const stop = await stopModelIfOwned({
    ...input,
    projectVersionArn,
    executionId: executionArn,
    reason: `safety stop: execution ${status}`,
  });
  logger.info("safety stop: done", { ...base, ...stop });
  return {
    ...base,
    stopped: stop.stopped,
    reason: stop.reason,
    projectVersionArn,
    modelStatus: stop.status,
  };
}

export interface ReapInput extends LeaseStores {
  sfn: SFNClient;
}

export interface ReapResult {
  /**
   * stopped: StopProjectVersion was issued; released: the model was not
   * running any more and the stale lease was released; none: nothing to do.
   */
  action: "stopped" | "released" | "none";
  reason: string;
  executionId?: string;
  projectVersionArn?: string;
  modelStatus?: ModelStatus | "UNKNOWN";
}

/**
 * The scheduled clean-up. When an unreleased lease exists and its execution
 * is no longer RUNNING (per DescribeExecution; an execution that does not
 * exist counts as not running) or the lease has expired, it stops the model
 * and releases the lease. Local executions (ids that are not execution ARNs)
 * are judged by expiry only.
 */
export async function reapStaleLease(input: ReapInput): Promise<ReapResult> {
  const { clock, logger } = input;
  const lease = await readLease({ ...input, logger });
  if (!lease) return done({ action: "none", reason: "no lease: nothing to reap" });
  const about = { executionId: lease.executionId, projectVersionArn: lease.projectVersionArn };
  if (lease.releasedAt !== undefined) {
    return done({
      ...about,
      action: "none",
      reason: `lease released at ${lease.releasedAt} (${lease.releaseReason ?? "no reason given"})`,
    });
  }

  const staleBecause = await staleness(input, lease);
  if (!staleBecause.stale) return done({ ...about, action: "none", reason: staleBecause.reason });

  const stop = await stopModelIfOwned({
    ...input,
    projectVersionArn: lease.projectVersionArn,
    executionId: lease.executionId,
    reason: `reaper: ${staleBecause.reason}`,
  });
  const action = stop.stopped ? "stopped" : stop.leaseReleased ? "released" : "none";
  return done({
    ...about,
    action,
    reason: `${staleBecause.reason}; ${stop.reason}`,
    modelStatus: stop.status,
  });

  function done(result: ReapResult): ReapResult {
    logger.info(`reaper: ${result.action}`, { ...result, at: new Date(clock.now()).toISOString() });
    return result;
  }
}

async function staleness(
  input: ReapInput,
  lease: LeaseRecord,
): Promise<{ stale: boolean; reason: string }> {
  const now = input.clock.now();
  if (isLeaseExpired(lease, now)) {
    return { stale: true, reason: `lease expired at ${lease.expiresAt}` };
  }
  if (!isExecutionArn(lease.executionId)) {
    return {
      stale: false,
      reason: `local execution ${lease.executionId}: relying on the lease's expiry at ${lease.expiresAt}`,
    };
  }
  const status = await executionStatus(input, lease.executionId);
  if (status === "RUNNING") {
    return {
      stale: false,
      reason: `execution ${lease.executionId} is still RUNNING; lease valid until ${lease.expiresAt}`,
    };
  }
  return {
    stale: true,
    reason:
      status === undefined
        ? `execution ${lease.executionId} does not exist`
        : `execution ${lease.executionId} is ${status}`,
  };
}

/** The execution's status, or `undefined` when Step Functions does not know it. */
async function executionStatus(
  input: ReapInput,
  executionArn: string,
): Promise<string | undefined> {
  try {
    const response = await input.sfn.send(new DescribeExecutionCommand({ executionArn }));
    return response.status;
  } catch (error) {
    const name = awsErrorName(error);
    if (name === "ExecutionDoesNotExist") return undefined;
    if (name === "AccessDeniedException") {
      throw new AccessDeniedError(`not allowed to describe execution ${executionArn}`, {
        cause: error,
      });
    }
    throw error;
  }
}
