/**
 * Starting, watching and stopping the Custom Labels model version, with the
 * ownership rule at its heart: a run stops only a model it started itself,
 * as recorded by the lease (see `lease.ts`). A model somebody else started is
 * used as it is and left running.
 */
import {
  DescribeProjectsCommand,
  type DescribeProjectsCommandOutput,
  DescribeProjectVersionsCommand,
  type ProjectVersionDescription,
  type ProjectVersionStatus,
  type RekognitionClient,
  StartProjectVersionCommand,
  StopProjectVersionCommand,
} from "@aws-sdk/client-rekognition";
import type { S3Client } from "@aws-sdk/client-s3";
import { awsErrorName, isServiceRejection, isTransientAwsError } from "./aws-errors.ts";
import {
  AccessDeniedError,
  ControlPlaneUnavailableError,
  InferenceUnitQuotaExceededError,
  InvalidRunInputError,
  ModelNotUsableError,
  ModelStartFailedError,
  ModelStartTimeoutError,
  ResourceNotFoundError,
} from "./errors.ts";
import {
  isLeaseActive,
  isLeaseHeldBy,
  type LeaseRecord,
  newLease,
  readLease,
  releaseLease,
  writeLease,
} from "./lease.ts";
import type { Clock, Logger } from "./runtime.ts";
import { truncateText } from "./state-limits.ts";

export type ModelStatus = ProjectVersionStatus;

/** Statuses in which the model can never serve this run: no start is attempted. */
export const UNUSABLE_STATUSES: ReadonlySet<string> = new Set<ModelStatus>([
  "FAILED",
  "TRAINING_FAILED",
  "TRAINING_IN_PROGRESS",
  "DELETING",
  "EXPIRED",
  "DEPRECATED",
  "COPYING_IN_PROGRESS",
  "COPYING_COMPLETED",
  "COPYING_FAILED",
]);

/** Statuses from which StartProjectVersion may be called. */
const STARTABLE_STATUSES: ReadonlySet<string> = new Set<ModelStatus>([
  "STOPPED",
  "TRAINING_COMPLETED",
]);

/** Statuses in which the model is billed and StopProjectVersion is worth calling. */
const STOPPABLE_STATUSES: ReadonlySet<string> = new Set<ModelStatus>(["RUNNING", "STARTING"]);

const DEFAULT_POLL_MS = 15_000;
/** Stopping takes "a while"; manual re-scaling is quoted at 10-20 minutes. */
const DEFAULT_STOPPING_TIMEOUT_MS = 30 * 60_000;
/** Start races (ResourceInUseException) re-examined before giving up. */
const MAX_START_RACES = 3;
/** ResourceInUseException answers to StopProjectVersion for a RUNNING model before giving up. */
const MAX_STOP_REFUSALS = 3;

// ---------------------------------------------------------------------------
// Naming the model

/** The parts of a model version ARN. */
export interface ProjectVersionArnParts {
  partition: string;
  region: string;
  account: string;
  project: string;
  version: string;
}

const PROJECT_VERSION_ARN =
  /^arn:([a-z\d-]+):rekognition:([a-z\d-]+):(\d{12}):project\/([a-zA-Z0-9_.-]{1,255})\/version\/([a-zA-Z0-9_.-]{1,255})\/(\d+)$/;

/**
 * Splits `arn:aws:rekognition:<region>:<account>:project/<project>/version/<version>/<digits>`.
 * Throws `InvalidRunInputError` naming the field when it is not of that form.
 */
export function parseProjectVersionArn(projectVersionArn: string): ProjectVersionArnParts {
  const match = PROJECT_VERSION_ARN.exec(projectVersionArn);
  if (!match) {
    throw new InvalidRunInputError(
      `projectVersionArn "${projectVersionArn}" is not a Custom Labels model version ARN ` +
        "(arn:aws:rekognition:<region>:<account>:project/<project>/version/<version>/<digits>)",
    );
  }
  const [, partition = "", region = "", account = "", project = "", version = ""] = match;
  return { partition, region, account, project, version };
}

/** What every function here needs to find the model. */
export interface ModelRef {
  /**
   * The control-plane client (`AwsClients.modelControl`): its SDK retries
   * ride out throttling and 5xx answers before an error reaches us.
   */
  rekognition: RekognitionClient;
  projectVersionArn: string;
  /**
   * The project's own ARN, when known. Optional: it is looked up by project
   * name (DescribeProjects) because it cannot be derived from the version ARN.
   */
  projectArn?: string;
}

// Project ARNs never change for a given version ARN (a re-created project
// gets new version ARNs too), so lookups are cached per client.
const projectArnCache = new WeakMap<RekognitionClient, Map<string, string>>();

/**
 * The project ARN of a model version. The version ARN does not contain it:
 * a project ARN ends in the project's creation timestamp
 * (`project/<project>/<digits>`) and the version ARN's trailing digits are the
 * version's. DescribeProjectVersions needs the exact project ARN, so the
 * project is found by name with DescribeProjects (ProjectNames filter) and its
 * ARN checked to be in the same partition, Region and account.
 */
export async function resolveProjectArn(ref: ModelRef): Promise<string> {
  if (ref.projectArn) return ref.projectArn;
  const cached = projectArnCache.get(ref.rekognition)?.get(ref.projectVersionArn);
  if (cached) return cached;
  const parts = parseProjectVersionArn(ref.projectVersionArn);
  const expectedPrefix = `arn:${parts.partition}:rekognition:${parts.region}:${parts.account}:project/${parts.project}/`;
  let response: DescribeProjectsCommandOutput;
  try {
    response = await ref.rekognition.send(
      new DescribeProjectsCommand({ ProjectNames: [parts.project] }),
    );
  } catch (error) {
    throw mapRekognitionError(error, ref.projectVersionArn, "describe the project of");
  }
  const projectArn = response.ProjectDescriptions?.map((project) => project.ProjectArn).find(
    (arn): arn is string => arn?.startsWith(expectedPrefix) === true,
  );
  if (!projectArn) {
    throw new ResourceNotFoundError(
      `model version ${ref.projectVersionArn} not found: there is no project "${parts.project}" in ${parts.region} of account ${parts.account}`,
    );
  }
  let forClient = projectArnCache.get(ref.rekognition);
  if (!forClient) {
    forClient = new Map();
    projectArnCache.set(ref.rekognition, forClient);
  }
  forClient.set(ref.projectVersionArn, projectArn);
  return projectArn;
}

// ---------------------------------------------------------------------------
// Describing

export interface ModelDescription {
  status: ModelStatus;
  statusMessage?: string;
  minInferenceUnits?: number;
  maxInferenceUnits?: number;
}

/**
 * One DescribeProjectVersions for the model version. Throws
 * `ResourceNotFoundError` naming the ARN when it does not exist and
 * `AccessDeniedError` when the role may not describe it.
 */
export async function describeModel(ref: ModelRef): Promise<ModelDescription> {
  const { version } = parseProjectVersionArn(ref.projectVersionArn);
  const projectArn = await resolveProjectArn(ref);
  let descriptions: ProjectVersionDescription[];
  try {
    const response = await ref.rekognition.send(
      new DescribeProjectVersionsCommand({ ProjectArn: projectArn, VersionNames: [version] }),
    );
    descriptions = response.ProjectVersionDescriptions ?? [];
  } catch (error) {
    throw mapRekognitionError(error, ref.projectVersionArn, "describe");
  }
  const found = descriptions.find((d) => d.ProjectVersionArn === ref.projectVersionArn);
  if (!found?.Status) {
    throw new ResourceNotFoundError(`model version ${ref.projectVersionArn} not found`);
  }
  return {
    status: found.Status as ModelStatus,
    // Cut: it travels in state outputs and error messages, which Step Functions caps.
    ...(found.StatusMessage
      ? { statusMessage: truncateText(found.StatusMessage, MAX_STATUS_MESSAGE_CHARS) }
      : {}),
    ...(found.MinInferenceUnits !== undefined
      ? { minInferenceUnits: found.MinInferenceUnits }
      : {}),
    ...(found.MaxInferenceUnits !== undefined
      ? { maxInferenceUnits: found.MaxInferenceUnits }
      : {}),
  };
}

/** The result of one check in the wait-until-RUNNING loop. */
/** A model's StatusMessage is cut to this many characters. */
export const MAX_STATUS_MESSAGE_CHARS = 1000;

export interface ModelCheck {
  status: ModelStatus;
  /** RUNNING: detection may begin. */
  ready: boolean;
  /** FAILED or another status the model cannot come back from by waiting. */
  failed: boolean;
  statusMessage?: string;
  /** ISO 8601. */
  checkedAt: string;
  minInferenceUnits?: number;
  maxInferenceUnits?: number;
}

/** One describe, shaped for the Step Functions Wait + Choice loop. */
export async function checkModel(ref: ModelRef & { clock: Clock }): Promise<ModelCheck> {
  const model = await describeModel(ref);
  return {
    ...model,
    ready: model.status === "RUNNING",
    failed: UNUSABLE_STATUSES.has(model.status),
    checkedAt: new Date(ref.clock.now()).toISOString(),
  };
}

/**
 * Polls until the model is RUNNING (for the local runner and the CLI; the
 * deployed workflow loops with Wait states instead). `deadlineMs` is a point
 * in time (epoch ms on the injected clock). Transient describe errors are
 * logged and polled through.
 *
 * @throws ModelStartFailedError when the model ends in FAILED (with its StatusMessage)
 * @throws ModelNotUsableError for any other status it cannot recover from
 * @throws ModelStartTimeoutError at the deadline, saying how long it waited and the last status
 */
export async function waitUntilRunning(
  input: ModelRef & {
    clock: Clock;
    logger: Logger;
    deadlineMs: number;
    pollMs?: number;
    signal?: AbortSignal;
  },
): Promise<ModelCheck> {
  const { clock, logger, projectVersionArn } = input;
  const pollMs = input.pollMs ?? DEFAULT_POLL_MS;
  const startedAt = clock.now();
  let last: ModelCheck | undefined;
  for (;;) {
    try {
      last = await checkModel(input);
    } catch (error) {
      if (!isTransientControlPlaneError(error)) throw error;
      logger.warn("describe failed transiently; polling on", {
        projectVersionArn,
        error: awsErrorName(error),
      });
    }
    if (last?.ready) return last;
    if (last?.failed) {
      const detail = `model ${projectVersionArn} is ${last.status}${describeMessage(last.statusMessage)}`;
      if (last.status === "FAILED") throw new ModelStartFailedError(detail);
      throw new ModelNotUsableError(detail);
    }
    const now = clock.now();
    if (now >= input.deadlineMs) {
      throw new ModelStartTimeoutError(
        `model ${projectVersionArn} did not reach RUNNING within ${formatSeconds(now - startedAt)} ` +
          `(last status ${last?.status ?? "unknown"}${describeMessage(last?.statusMessage)})`,
      );
    }
    logger.debug("waiting for the model to be RUNNING", {
      projectVersionArn,
      status: last?.status,
    });
    await clock.sleep(Math.min(pollMs, input.deadlineMs - now), input.signal);
  }
}

// ---------------------------------------------------------------------------
// Starting

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
        return {
          action: decision,
          status: model.status,
          owned: true,
          startRequestedAt: lease?.startedAt,
          units: lease?.units ?? input.units,
          ...optionalUnits(lease?.maxInferenceUnits),
          ...optionalMessage(model.statusMessage),
        };
      case "adopt":
        logger.info("model was started by someone else: using it, never stopping it", {
          projectVersionArn,
          status: model.status,
          leaseHolder: isLeaseActive(lease) ? lease.executionId : undefined,
        });
        return {
          action: "adopted",
          status: model.status,
          owned: false,
          units: model.minInferenceUnits ?? input.units,
          ...optionalUnits(model.maxInferenceUnits),
          ...optionalMessage(model.statusMessage),
        };
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
  const replaced =
    isLeaseActive(previousLease) && previousLease.executionId !== input.executionId
      ? {
          executionId: previousLease.executionId,
          runId: previousLease.runId,
          startedAt: previousLease.startedAt,
        }
      : undefined;
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
    if (name === "LimitExceededException") {
      throw new InferenceUnitQuotaExceededError(
        `starting ${projectVersionArn} with ${input.units} inference unit(s)` +
          `${input.maxInferenceUnits !== undefined ? ` (max ${input.maxInferenceUnits})` : ""} ` +
          `exceeds the account's quota: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    throw mapRekognitionError(error, projectVersionArn, "start");
  }
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

// ---------------------------------------------------------------------------
// Stopping

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
    if (!activeLease) return false;
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

// ---------------------------------------------------------------------------
// Helpers

/**
 * True when the failed call certainly changed nothing: the service refused it
 * (HTTP 4xx) on the only attempt. After SDK retries only the last answer is
 * seen, and an earlier attempt may have been a 5xx or a timeout that the
 * service carried out (a retried StartProjectVersion then answers
 * ResourceInUseException for the start it made itself).
 */
export function certainlyHadNoEffect(error: unknown): boolean {
  if (!isServiceRejection(error)) return false;
  // A quota refusal is the same for every attempt of the same request: had an
  // earlier attempt started the model, this one would have met ResourceInUse.
  if (awsErrorName(error) === "LimitExceededException") return true;
  return sdkAttempts(error) <= 1;
}

/** How many attempts the SDK made for a failed call (1 when it does not say). */
export function sdkAttempts(error: unknown): number {
  if (typeof error !== "object" || error === null) return 1;
  const attempts = (error as { $metadata?: { attempts?: unknown } }).$metadata?.attempts;
  return typeof attempts === "number" && attempts >= 1 ? attempts : 1;
}

/** Throttling, 5xx or a dropped connection, before or after it was named ControlPlaneUnavailable. */
export function isTransientControlPlaneError(error: unknown): boolean {
  return error instanceof ControlPlaneUnavailableError || isTransientAwsError(error);
}

/**
 * Maps the Rekognition errors the workflow routes on to our named errors:
 * AccessDenied, ResourceNotFound, and ControlPlaneUnavailable for throttling
 * and 5xx answers that outlasted the SDK's retries (so the workflow can retry
 * the step instead of seeing `Internal`). Others are returned unchanged.
 */
export function mapRekognitionError(
  error: unknown,
  projectVersionArn: string,
  action: string,
): unknown {
  const name = awsErrorName(error);
  if (isTransientAwsError(error)) {
    const attempts = sdkAttempts(error);
    return new ControlPlaneUnavailableError(
      `could not ${action} model ${projectVersionArn}: ${name || "error"} after ${attempts} attempt${attempts === 1 ? "" : "s"}` +
        ` (${errorMessage(error)}); the control plane is throttling or failing, try again later`,
      { cause: error },
    );
  }
  if (name === "AccessDeniedException") {
    return new AccessDeniedError(
      `not allowed to ${action} model ${projectVersionArn}: ${errorMessage(error)}`,
      { cause: error },
    );
  }
  if (name === "ResourceNotFoundException") {
    return new ResourceNotFoundError(`model version ${projectVersionArn} not found`, {
      cause: error,
    });
  }
  return error;
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

function describeMessage(statusMessage: string | undefined): string {
  return statusMessage ? ` ("${statusMessage}")` : "";
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function formatSeconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}
