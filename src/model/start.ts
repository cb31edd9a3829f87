/**
 * Starting the model, with the ownership rule at its heart: the lease (see
 * `lease.ts`) is written before StartProjectVersion, so that a run stops only
 * a model it started itself. A model somebody else started is adopted: used
 * as it is and left running.
 */
import { StartProjectVersionCommand } from "@aws-sdk/client-rekognition";
import type { S3Client } from "@aws-sdk/client-s3";
import { awsErrorName, certainlyHadNoEffect, isUnitQuotaRefusal } from "../aws-errors.ts";
import {
  InferenceUnitQuotaExceededError,
  InvalidRunInputError,
  ModelNotUsableError,
  ModelStartTimeoutError,
} from "../errors.ts";
import {
  isLeaseActive,
  isLeaseHeldBy,
  type LeaseRecord,
  newLease,
  readLease,
  releaseLease,
  writeLease,
} from "../lease.ts";
import type { Clock, Logger } from "../runtime.ts";
import {
  errorMessage,
  isTransientControlPlaneError,
  mapRekognitionError,
} from "./control-plane-errors.ts";
import {
  DEFAULT_POLL_MS,
  describeMessage,
  describeModel,
  formatSeconds,
  type ModelDescription,
  type ModelStatus,
} from "./describe.ts";
import type { ModelRef } from "./model-ref.ts";

/** Statuses from which StartProjectVersion may be called. */
const STARTABLE_STATUSES: ReadonlySet<string> = new Set<ModelStatus>([
  "STOPPED",
  "TRAINING_COMPLETED",
]);

/** Stopping takes "a while"; manual re-scaling is quoted at 10-20 minutes. */
const DEFAULT_STOPPING_TIMEOUT_MS = 30 * 60_000;
/** Start races (ResourceInUseException) re-examined before giving up. */
const MAX_START_RACES = 3;

/** What `ensureModelRunning` should do for a model status, given who holds the lease. */
export type StartDecision =
  | "start"
  | "already-ours"
  | "adopt"
  | "waiting-for-start"
  | "wait-for-stop"
  | "unusable";

/**
 * The decision table of `ensureModelRunning`, kept pure so it can be read
 * (and tested) in one place. `leaseIsOurs`: the lease names this execution
 * and this model and is not released.
 */
export function decideStart(status: string, leaseIsOurs: boolean): StartDecision {
  if (STARTABLE_STATUSES.has(status)) return "start";
  if (status === "RUNNING") return leaseIsOurs ? "already-ours" : "adopt";
  if (status === "STARTING") return leaseIsOurs ? "waiting-for-start" : "adopt";
  if (status === "STOPPING") return "wait-for-stop";
  return "unusable";
}

export interface EnsureModelRunningInput extends ModelRef {
  s3: S3Client;
  resultsBucket: string;
  resultsPrefix: string;
  /** Inference units to start with (MinInferenceUnits). */
  units: number;
  /** Set only when auto-scaling is asked for: passed as MaxInferenceUnits. */
  maxInferenceUnits?: number;
  /** The execution's ARN (or a local id): recorded in the lease. */
  executionId: string;
  runId: string;
  /** The longest run the plan allows, from now: the lease expires after it. */
  maxRunMs: number;
  clock: Clock;
  logger: Logger;
  /** How long to wait for a STOPPING model to reach STOPPED before starting it. */
  stoppingTimeoutMs?: number;
  pollMs?: number;
  signal?: AbortSignal;
}

export interface EnsureModelRunningResult {
  /**
   * started: we called StartProjectVersion (model STARTING, ours);
   * already-ours: RUNNING under our own lease (a retried step);
   * waiting-for-start: STARTING under our own lease;
   * adopted: somebody else's RUNNING or STARTING model, used and never stopped.
   */
  action: "started" | "already-ours" | "waiting-for-start" | "adopted";
  status: ModelStatus;
  /** True when this execution started the model and so must stop it. */
  owned: boolean;
  /** ISO 8601, when we called StartProjectVersion. */
  startRequestedAt?: string;
  /** The units the model runs (or will run) with. */
  units: number;
  maxInferenceUnits?: number;
  statusMessage?: string;
  /**
   * The unreleased lease of another execution that this start replaced: that
   * execution no longer runs the model (it crashed, or ended without its stop
   * step), so its lease proved nothing. Said aloud, never replaced silently.
   */
  replacedLease?: { executionId: string; runId: string; startedAt: string };
}

/**
 * Makes sure the model is RUNNING or on its way, starting it when it is
 * STOPPED or TRAINING_COMPLETED (after waiting out STOPPING). The lease is
 * written before StartProjectVersion, so a crash right after the start still
 * leaves a record of whose model it is. It does not wait for RUNNING: see
 * `checkModel` and `waitUntilRunning`.
 *
 * @throws ModelNotUsableError for FAILED, TRAINING_*, DELETING, EXPIRED, DEPRECATED, COPYING_*
 * @throws InferenceUnitQuotaExceededError when the units exceed the account's quota
 * @throws ModelStartTimeoutError when a STOPPING model does not stop in time
 */
export async function ensureModelRunning(
  input: EnsureModelRunningInput,
): Promise<EnsureModelRunningResult> {
  validateUnits(input.units, input.maxInferenceUnits);
  const { clock, logger, projectVersionArn, executionId } = input;
  const pollMs = input.pollMs ?? DEFAULT_POLL_MS;
  const stopWaitStartedAt = clock.now();
  const stopWaitDeadline =
    stopWaitStartedAt + (input.stoppingTimeoutMs ?? DEFAULT_STOPPING_TIMEOUT_MS);
  const leaseLocation = {
    s3: input.s3,
    resultsBucket: input.resultsBucket,
    resultsPrefix: input.resultsPrefix,
    logger,
  };
  let races = 0;
  let polls = 0;

  for (;;) {
    let model: ModelDescription;
    try {
      model = await describeModel(input);
    } catch (error) {
      // Only while polling: the first describe's errors are the caller's to see.
      if (polls === 0 || !isTransientControlPlaneError(error)) throw error;
      logger.warn("describe failed transiently; polling on", { error: awsErrorName(error) });
      await sleepUntilDeadline();
      continue;
    }
    const lease = await readLease(leaseLocation);
    const ours = isLeaseHeldBy(lease, executionId, projectVersionArn);
    const decision = decideStart(model.status, ours);
    logger.info("model status examined", { projectVersionArn, status: model.status, decision });

    switch (decision) {
      case "already-ours":
      case "waiting-for-start":
        return ownModel(decision, model, lease, input.units);
      case "adopt":
        logger.info("model was started by someone else: using it, never stopping it", {
          projectVersionArn,
          status: model.status,
          leaseHolder: isLeaseActive(lease) ? lease.executionId : undefined,
        });
        return adoptedModel(model, input.units);
      case "unusable":
        throw new ModelNotUsableError(
          `model ${projectVersionArn} is ${model.status}${describeMessage(model.statusMessage)}: ` +
            "it cannot be started, so nothing was started",
        );
      case "wait-for-stop":
        await sleepUntilDeadline();
        continue;
      case "start": {
        const outcome = await startWithLease(input, lease);
        if (outcome.kind === "started") return outcome.result;
        races += 1;
        if (races > MAX_START_RACES) throw outcome.error;
        logger.warn("start raced with another change of the model; examining it again", {
          projectVersionArn,
          race: races,
        });
        continue;
      }
    }
  }

  async function sleepUntilDeadline(): Promise<void> {
    const now = clock.now();
    if (now >= stopWaitDeadline) {
      throw new ModelStartTimeoutError(
        `model ${projectVersionArn} was still STOPPING after ${formatSeconds(now - stopWaitStartedAt)}; ` +
          "it was not started",
      );
    }
    polls += 1;
    await clock.sleep(Math.min(pollMs, stopWaitDeadline - now), input.signal);
  }
}

/** The answer for a model that runs, or is starting, under our own lease (a retried step). */
function ownModel(
  action: "already-ours" | "waiting-for-start",
  model: ModelDescription,
  lease: LeaseRecord | undefined,
  units: number,
): EnsureModelRunningResult {
  return {
    action,
    status: model.status,
    owned: true,
    startRequestedAt: lease?.startedAt,
    units: lease?.units ?? units,
    ...optionalUnits(lease?.maxInferenceUnits),
    ...optionalMessage(model.statusMessage),
  };
}

/** The answer for somebody else's RUNNING or STARTING model: used, never stopped. */
function adoptedModel(model: ModelDescription, units: number): EnsureModelRunningResult {
  return {
    action: "adopted",
    status: model.status,
    owned: false,
    units: model.minInferenceUnits ?? units,
    ...optionalUnits(model.maxInferenceUnits),
    ...optionalMessage(model.statusMessage),
  };
}

type StartOutcome =
  | { kind: "started"; result: EnsureModelRunningResult }
  | { kind: "raced"; error: unknown };

/** Writes our lease, then calls StartProjectVersion; undoes the lease when the start is refused. */
async function startWithLease(
  input: EnsureModelRunningInput,
  previousLease: LeaseRecord | undefined,
): Promise<StartOutcome> {
  const { clock, logger, projectVersionArn } = input;
  const leaseLocation = {
    s3: input.s3,
    resultsBucket: input.resultsBucket,
    resultsPrefix: input.resultsPrefix,
  };
  const lease = newLease({
    projectVersionArn,
    executionId: input.executionId,
    runId: input.runId,
    units: input.units,
    ...optionalUnits(input.maxInferenceUnits),
    now: clock.now(),
    maxRunMs: input.maxRunMs,
  });
  const replaced = replacedLeaseOf(previousLease, input.executionId);
  if (replaced) {
    logger.warn(
      "replacing the unreleased lease of another execution: the model is not running, so that execution (crashed, or ended without stopping) no longer holds it",
      { projectVersionArn, previousLease: replaced },
    );
  }
  await writeLease({ ...leaseLocation, lease });
  try {
    const response = await input.rekognition.send(
      new StartProjectVersionCommand({
        ProjectVersionArn: projectVersionArn,
        MinInferenceUnits: input.units,
        ...(input.maxInferenceUnits !== undefined
          ? { MaxInferenceUnits: input.maxInferenceUnits }
          : {}),
      }),
    );
    logger.info("model start requested", {
      projectVersionArn,
      units: input.units,
      maxInferenceUnits: input.maxInferenceUnits,
      status: response.Status,
    });
    return {
      kind: "started",
      result: {
        action: "started",
        status: (response.Status as ModelStatus | undefined) ?? "STARTING",
        owned: true,
        startRequestedAt: lease.startedAt,
        units: input.units,
        ...optionalUnits(input.maxInferenceUnits),
        ...(replaced ? { replacedLease: replaced } : {}),
      },
    };
  } catch (error) {
    return startRefused(error, input, lease, previousLease);
  }
}

/** The lease of another execution that a start now replaces, or `undefined`. */
function replacedLeaseOf(
  previousLease: LeaseRecord | undefined,
  executionId: string,
): EnsureModelRunningResult["replacedLease"] {
  return isLeaseActive(previousLease) && previousLease.executionId !== executionId
    ? {
        executionId: previousLease.executionId,
        runId: previousLease.runId,
        startedAt: previousLease.startedAt,
      }
    : undefined;
}

/**
 * After StartProjectVersion failed: undoes our lease when the start certainly
 * changed nothing, answers "raced" for ResourceInUseException and throws the
 * named error otherwise.
 */
async function startRefused(
  error: unknown,
  input: EnsureModelRunningInput,
  lease: LeaseRecord,
  previousLease: LeaseRecord | undefined,
): Promise<StartOutcome> {
  const { logger, projectVersionArn } = input;
  const name = awsErrorName(error);
  if (certainlyHadNoEffect(error)) {
    // Nothing was started: give back the lease as it was before us.
    await undoLease(input, lease, previousLease, `start refused: ${name || "error"}`);
  } else {
    // The start may have gone through: keep the lease so a stop, the
    // safety stop or the reaper can still stop the model.
    logger.warn("start outcome unknown; keeping the lease so the model can still be stopped", {
      projectVersionArn,
      error: name,
    });
  }
  if (name === "ResourceInUseException") return { kind: "raced", error };
  if (isUnitQuotaRefusal(error)) {
    throw new InferenceUnitQuotaExceededError(
      `starting ${projectVersionArn} with ${input.units} inference unit(s)` +
        `${input.maxInferenceUnits !== undefined ? ` (max ${input.maxInferenceUnits})` : ""} ` +
        `exceeds the account's quota: ${errorMessage(error)}`,
      { cause: error },
    );
  }
  throw mapRekognitionError(error, projectVersionArn, "start");
}

async function undoLease(
  input: EnsureModelRunningInput,
  ourLease: LeaseRecord,
  previousLease: LeaseRecord | undefined,
  reason: string,
): Promise<void> {
  const location = {
    s3: input.s3,
    resultsBucket: input.resultsBucket,
    resultsPrefix: input.resultsPrefix,
  };
  if (isLeaseActive(previousLease) && previousLease.executionId !== input.executionId) {
    await writeLease({ ...location, lease: previousLease });
    return;
  }
  await releaseLease({ ...location, lease: ourLease, reason, now: input.clock.now() });
}

function validateUnits(units: number, maxInferenceUnits: number | undefined): void {
  if (!Number.isInteger(units) || units < 1) {
    throw new InvalidRunInputError(`units must be an integer >= 1, got ${units}`);
  }
  if (
    maxInferenceUnits !== undefined &&
    (!Number.isInteger(maxInferenceUnits) || maxInferenceUnits < units)
  ) {
    throw new InvalidRunInputError(
      `maxInferenceUnits must be an integer >= units (${units}), got ${maxInferenceUnits}`,
    );
  }
}

function optionalUnits(maxInferenceUnits: number | undefined): { maxInferenceUnits?: number } {
  return maxInferenceUnits !== undefined ? { maxInferenceUnits } : {};
}

function optionalMessage(statusMessage: string | undefined): { statusMessage?: string } {
  return statusMessage ? { statusMessage } : {};
}
