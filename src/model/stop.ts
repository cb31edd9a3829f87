/**
 * Stopping the model: only a model this execution started, as the lease
 * records (or any, when the operator forces it).
 */
import { StopProjectVersionCommand } from "@aws-sdk/client-rekognition";
import type { S3Client } from "@aws-sdk/client-s3";
import { awsErrorName } from "../aws-errors.ts";
import { AccessDeniedError, ResourceNotFoundError } from "../errors.ts";
import { isLeaseActive, type LeaseRecord, readLease, releaseLease } from "../lease.ts";
import type { Clock, Logger } from "../runtime.ts";
import { mapRekognitionError } from "./control-plane-errors.ts";
import {
  DEFAULT_POLL_MS,
  describeModel,
  type ModelDescription,
  type ModelStatus,
} from "./describe.ts";
import type { ModelRef } from "./model-ref.ts";

/** Statuses in which the model is billed and StopProjectVersion is worth calling. */
const STOPPABLE_STATUSES: ReadonlySet<string> = new Set<ModelStatus>(["RUNNING", "STARTING"]);
/** ResourceInUseException answers to StopProjectVersion for a RUNNING model before giving up. */
const MAX_STOP_REFUSALS = 3;

export interface StopModelInput extends ModelRef {
  s3: S3Client;
  resultsBucket: string;
  resultsPrefix: string;
  /** The execution asking; the model is stopped only if the lease names it. */
  executionId: string;
  clock: Clock;
  logger: Logger;
  /** Why the stop is asked for, recorded in the released lease ("run finished", "execution ABORTED"...). */
  reason: string;
  /** The operator's emergency stop: stop whoever started the model. */
  force?: boolean;
  /**
   * A restart with more units: stop, but keep the lease, so that the safety
   * stop and the reaper still know whose model it is until the same
   * execution starts it again (which rewrites the lease).
   */
  keepLease?: boolean;
  /**
   * How long to wait for a STARTING model that refuses the stop to become
   * stoppable. 0 (the default) gives up at once and keeps the lease, so the
   * reaper stops the model later.
   */
  settleTimeoutMs?: number;
  pollMs?: number;
}

export interface StopModelResult {
  /** True when this call issued StopProjectVersion and it was accepted. */
  stopped: boolean;
  /** Why it stopped or did nothing, in words. */
  reason: string;
  /** The model's status after the call ("UNKNOWN" when it could not be described). */
  status: ModelStatus | "UNKNOWN";
  /** ISO 8601, when StopProjectVersion was accepted. */
  stopRequestedAt?: string;
  /** True when this call marked the lease released. */
  leaseReleased: boolean;
}

/**
 * Stops the model if, and only if, the lease says this execution started it
 * (or `force`). Idempotent: the lease is marked released after the stop, and
 * a later call is a no-op that says why. A model already STOPPING or STOPPED
 * is fine. Never throws for "nothing to stop"; throws only for real failures
 * (AccessDeniedError, ...).
 */
export async function stopModelIfOwned(input: StopModelInput): Promise<StopModelResult> {
  const { logger, projectVersionArn, executionId } = input;
  const lease = await readLease({
    s3: input.s3,
    resultsBucket: input.resultsBucket,
    resultsPrefix: input.resultsPrefix,
    logger,
  });
  if (!input.force) {
    const refusal = ownershipRefusal(lease, executionId, projectVersionArn);
    if (refusal) {
      const status = await statusForReport(input);
      logger.info("model not stopped", { projectVersionArn, executionId, reason: refusal, status });
      return { stopped: false, reason: refusal, status, leaseReleased: false };
    }
  }
  const result = await stopOwnedModel(input, isLeaseActive(lease) ? lease : undefined);
  logger.info(result.stopped ? "model stop requested" : "model not stopped", {
    projectVersionArn,
    executionId,
    force: input.force === true,
    ...result,
  });
  return result;
}

/** Why `executionId` may not stop the model, or `undefined` when it may. */
export function ownershipRefusal(
  lease: LeaseRecord | undefined,
  executionId: string,
  projectVersionArn: string,
): string | undefined {
  if (!lease) return "no lease: this execution did not start the model, so it leaves it running";
  if (lease.releasedAt !== undefined) {
    return `lease already released at ${lease.releasedAt} (${lease.releaseReason ?? "no reason given"}): nothing to stop`;
  }
  if (lease.projectVersionArn !== projectVersionArn) {
    return `the lease is for another model (${lease.projectVersionArn}): this one is left running`;
  }
  if (lease.executionId !== executionId) {
    return `the model was started by execution ${lease.executionId}, not by this one: left running`;
  }
  return undefined;
}

async function stopOwnedModel(
  input: StopModelInput,
  activeLease: LeaseRecord | undefined,
): Promise<StopModelResult> {
  const { clock, projectVersionArn } = input;
  const settleDeadline = clock.now() + (input.settleTimeoutMs ?? 0);
  const pollMs = input.pollMs ?? DEFAULT_POLL_MS;
  const release = async (why: string): Promise<boolean> => {
    if (!activeLease || input.keepLease === true) return false;
    await releaseLease({
      s3: input.s3,
      resultsBucket: input.resultsBucket,
      resultsPrefix: input.resultsPrefix,
      lease: activeLease,
      reason: why,
      now: clock.now(),
    });
    return true;
  };

  let refusals = 0;
  for (;;) {
    let model: ModelDescription;
    try {
      model = await describeModel(input);
    } catch (error) {
      if (!(error instanceof ResourceNotFoundError)) throw error;
      const leaseReleased = await release(`model no longer exists; ${input.reason}`);
      return {
        stopped: false,
        reason: "the model version no longer exists",
        status: "UNKNOWN",
        leaseReleased,
      };
    }

    if (!STOPPABLE_STATUSES.has(model.status)) {
      const why = `model already ${model.status}: nothing to stop`;
      const leaseReleased = await release(`${input.reason}; ${why}`);
      return { stopped: false, reason: why, status: model.status, leaseReleased };
    }

    try {
      const response = await input.rekognition.send(
        new StopProjectVersionCommand({ ProjectVersionArn: projectVersionArn }),
      );
      const stopRequestedAt = new Date(clock.now()).toISOString();
      const leaseReleased = await release(input.reason);
      return {
        stopped: true,
        leaseReleased,
        reason: input.force ? `forced stop: ${input.reason}` : input.reason,
        status: (response.Status as ModelStatus | undefined) ?? "STOPPING",
        stopRequestedAt,
      };
    } catch (error) {
      if (awsErrorName(error) !== "ResourceInUseException") {
        throw mapRekognitionError(error, projectVersionArn, "stop");
      }
      // Already stopping, or still starting: look again and decide.
      const now = clock.now();
      const after = await statusForReport(input);
      if (after === "STARTING") {
        if (now >= settleDeadline) {
          return {
            stopped: false,
            reason:
              "model is STARTING and refused the stop; the lease is kept so that a later stop or the reaper stops it",
            status: after,
            leaseReleased: false,
          };
        }
        await clock.sleep(Math.min(pollMs, settleDeadline - now));
        continue;
      }
      refusals += 1;
      if (refusals > MAX_STOP_REFUSALS) throw error;
    }
  }
}

/** The status for a "did nothing" answer: best effort, never fails the call. */
async function statusForReport(
  ref: ModelRef & { logger: Logger },
): Promise<ModelStatus | "UNKNOWN"> {
  try {
    return (await describeModel(ref)).status;
  } catch (error) {
    if (error instanceof AccessDeniedError) throw error;
    ref.logger.warn("could not describe the model", {
      projectVersionArn: ref.projectVersionArn,
      error: error instanceof Error ? error.message : String(error),
    });
    return "UNKNOWN";
  }
}
