/**
 * The second and third lines of defence against a model left running:
 *
 * - `safetyStop`: run by an EventBridge rule when an execution ends FAILED,
 *   TIMED_OUT or ABORTED (a Catch does not run for the last two). Stops the
 *   model if that execution owns the lease.
 * - `reapStaleLease`: run on a schedule. Stops the model of an unreleased
 *   lease whose execution is no longer running. It never stops the model of
 *   an execution Step Functions says is RUNNING, however late: a run slower
 *   than planned keeps its model (a hung one ends TIMED_OUT at the
 *   workflow's TimeoutSeconds, and the safety stop takes over). The lease's
 *   expiry, pushed on by the run's heartbeat, decides only when the status
 *   cannot be known.
 *
 * Both decide from the lease only, so they never stop a model that no run of
 * this workflow started.
 */
import type { RekognitionClient } from "@aws-sdk/client-rekognition";
import type { S3Client } from "@aws-sdk/client-s3";
import { DescribeExecutionCommand, type SFNClient } from "@aws-sdk/client-sfn";
import { awsErrorName } from "./aws-errors.ts";
import { readHeartbeat } from "./heartbeat.ts";
import { type LeaseRecord, readLease } from "./lease.ts";
import type { ModelStatus } from "./model/describe.ts";
import { ownershipRefusal, stopModelIfOwned } from "./model/stop.ts";
import type { Clock, Logger } from "./runtime.ts";

/** Execution statuses after which the execution will never stop the model itself. */
const ENDED_STATUSES: ReadonlySet<string> = new Set([
  "FAILED",
  "TIMED_OUT",
  "ABORTED",
  "SUCCEEDED",
]);

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
 * The scheduled clean-up. For an unreleased lease it asks Step Functions for
 * the owning execution's status:
 *
 * | DescribeExecution                   | decision                                  |
 * |-------------------------------------|-------------------------------------------|
 * | RUNNING                             | leave the model (warn if past the expiry) |
 * | SUCCEEDED, FAILED, TIMED_OUT, ABORTED | stop the model, release the lease       |
 * | ExecutionDoesNotExist               | stop the model, release the lease         |
 * | anything else (denied, invalid id, unreachable) | the expiry decides: the later of the lease's and the run's heartbeat's |
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

/** The lease's expiry, pushed on by the run's heartbeat when it is later. */
async function effectiveExpiry(
  input: ReapInput,
  lease: LeaseRecord,
): Promise<{ at: number; source: string }> {
  const fromLease = { at: Date.parse(lease.expiresAt), source: `lease expiry ${lease.expiresAt}` };
  const heartbeat = await readHeartbeat({ ...input, runId: lease.runId });
  const aliveUntil = heartbeat ? Date.parse(heartbeat.aliveUntil) : Number.NaN;
  return aliveUntil > fromLease.at
    ? {
        at: aliveUntil,
        source: `last heartbeat ${heartbeat?.at}, alive until ${heartbeat?.aliveUntil}`,
      }
    : fromLease;
}

async function staleness(
  input: ReapInput,
  lease: LeaseRecord,
): Promise<{ stale: boolean; reason: string }> {
  const now = input.clock.now();
  const execution = await executionStatus(input, lease.executionId);
  if (execution.known && execution.status === "RUNNING") {
    const expiry = await effectiveExpiry(input, lease);
    if (expiry.at <= now) {
      input.logger.warn(
        "reaper: the execution is running past its planned end; model left running",
        {
          executionId: lease.executionId,
          projectVersionArn: lease.projectVersionArn,
          plannedEnd: expiry.source,
        },
      );
      return {
        stale: false,
        reason: `execution ${lease.executionId} is still RUNNING, past its planned end (${expiry.source}): a RUNNING owner is never reaped`,
      };
    }
    return {
      stale: false,
      reason: `execution ${lease.executionId} is still RUNNING (${expiry.source})`,
    };
  }
  if (execution.known) {
    return {
      stale: true,
      reason:
        execution.status === undefined
          ? `execution ${lease.executionId} does not exist`
          : `execution ${lease.executionId} is ${execution.status}`,
    };
  }
  const expiry = await effectiveExpiry(input, lease);
  input.logger.warn("reaper: the execution's status is unknown; the expiry decides", {
    executionId: lease.executionId,
    why: execution.why,
    expiry: expiry.source,
  });
  return expiry.at <= now
    ? {
        stale: true,
        reason: `status of execution ${lease.executionId} unknown (${execution.why}) and ${expiry.source} has passed`,
      }
    : {
        stale: false,
        reason: `status of execution ${lease.executionId} unknown (${execution.why}); relying on the ${expiry.source}`,
      };
}

type ExecutionStatusAnswer =
  | { known: true; status: string | undefined }
  | { known: false; why: string };

/**
 * What Step Functions says of the execution: its status (`undefined` when it
 * does not exist), or why it could not tell (not an execution ARN, access
 * denied, throttled, unreachable).
 */
async function executionStatus(
  input: ReapInput,
  executionArn: string,
): Promise<ExecutionStatusAnswer> {
  try {
    const response = await input.sfn.send(new DescribeExecutionCommand({ executionArn }));
    return response.status
      ? { known: true, status: response.status }
      : { known: false, why: "DescribeExecution returned no status" };
  } catch (error) {
    const name = awsErrorName(error);
    if (name === "ExecutionDoesNotExist") return { known: true, status: undefined };
    const message = error instanceof Error ? error.message : String(error);
    return { known: false, why: `DescribeExecution failed: ${name ?? "error"}: ${message}` };
  }
}
