/**
 * Describing the model version and waiting for it to be RUNNING.
 */
import {
  DescribeProjectVersionsCommand,
  type ProjectVersionDescription,
  type ProjectVersionStatus,
} from "@aws-sdk/client-rekognition";
import { awsErrorName } from "../aws-errors.ts";
import {
  ModelNotUsableError,
  ModelStartFailedError,
  ModelStartTimeoutError,
  ResourceNotFoundError,
} from "../errors.ts";
import type { Clock, Logger } from "../runtime.ts";
import { truncateText } from "../state-limits.ts";
import { isTransientControlPlaneError, mapRekognitionError } from "./control-plane-errors.ts";
import { type ModelRef, parseProjectVersionArn, resolveProjectArn } from "./model-ref.ts";

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

/** How often the model's status is polled while waiting. */
export const DEFAULT_POLL_MS = 15_000;

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

/** A model's StatusMessage is cut to this many characters. */
export const MAX_STATUS_MESSAGE_CHARS = 1000;

/** The result of one check in the wait-until-RUNNING loop. */
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

/** A StatusMessage quoted for an error message, or nothing. */
export function describeMessage(statusMessage: string | undefined): string {
  return statusMessage ? ` ("${statusMessage}")` : "";
}

export function formatSeconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}
