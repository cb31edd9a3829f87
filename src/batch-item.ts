/**
 * One item of a batch: skipped when an earlier attempt already wrote its
 * result, else analysed (through the rate controller, with retries) and its
 * result record written.
 */
import type { RekognitionClient } from "@aws-sdk/client-rekognition";
import type { S3Client } from "@aws-sdk/client-s3";
import { classifyDetectionError, shouldRetryDetectionError } from "./aws-errors.ts";
import type { CallTally, ItemOutcome } from "./batch-tally.ts";
import { detectImage, loadImageBytes } from "./detect-image.ts";
import { RetriesExhaustedError } from "./errors.ts";
import type { RateController } from "./rate-controller.ts";
import { failureRecord, readCurrentResult, successRecord, writeImageResult } from "./results.ts";
import { type RetryPolicy, withRetry } from "./retry.ts";
import type { Clock, Logger } from "./runtime.ts";
import type { BatchContext, ImageRef, ImageResultRecord } from "./shapes.ts";

/**
 * One signal for "take no new work": the caller's abort or a fatal error.
 * `fatal` keeps the first fatal error, which the batch throws at its end.
 */
export class BatchStop {
  private readonly controller = new AbortController();
  /** What aborted calls reject with, so that they are told apart from real errors. */
  readonly reason = new DOMException("The batch is stopping", "AbortError");
  fatal: unknown;

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  readonly now = (): void => this.controller.abort(this.reason);
}

export interface ItemWork {
  context: BatchContext;
  rekognition: RekognitionClient;
  s3: S3Client;
  clock: Clock;
  logger: Logger;
  rate: RateController;
  tally: CallTally;
  stop: BatchStop;
  /** Uniform in [0, 1), for the retry jitter. */
  random?: () => number;
  retryPolicy?: Partial<RetryPolicy>;
  /** Epoch ms: no retry backoff sleeps past it. */
  deadline?: number;
  /**
   * An earlier attempt of this batch may have written results (see
   * batch-attempt.ts): look each image up in the ledger first. False on a
   * first attempt, which has nothing to resume.
   */
  mayResume: boolean;
}

/** "Name: message" of an error, as classified for detection. */
export function describeDetectionError(error: unknown): string {
  const { name, message } = classifyDetectionError(error);
  return `${name}: ${message}`;
}

/** The function that takes one item to its outcome; never throws. */
export function itemProcessor(work: ItemWork): (image: ImageRef) => Promise<ItemOutcome> {
  const { context, s3, logger, stop, mayResume } = work;
  const analyse = imageAnalyser(work);
  return async (image) => {
    if (stop.signal.aborted) return { kind: "undone" };
    try {
      const existing = mayResume
        ? await s3Call(work, () => readCurrentResult(s3, context, image), stop.signal)
        : undefined;
      if (existing) return { kind: "done", record: existing, resumed: true };
      const record = await analyse(image);
      // Not abortable: a finished analysis is always written.
      await s3Call(work, () => writeImageResult(s3, context, record));
      return { kind: "done", record, resumed: false };
    } catch (error) {
      if (error === stop.reason) return { kind: "undone" };
      if (classifyDetectionError(error).kind === "fatal") {
        if (stop.fatal === undefined) {
          stop.fatal = error;
          logger.error("fatal error, stopping the batch", {
            key: image.key,
            error: describeDetectionError(error),
          });
        }
        stop.now();
        return { kind: "undone" };
      }
      logger.warn("image left undone", {
        key: image.key,
        error:
          error instanceof RetriesExhaustedError ? error.message : describeDetectionError(error),
      });
      return { kind: "undone", error };
    }
  };
}

function retryOptions(work: ItemWork) {
  return {
    clock: work.clock,
    random: work.random,
    policy: work.retryPolicy,
    deadline: work.deadline,
    shouldRetry: shouldRetryDetectionError,
  };
}

/** An S3 call under retry; abortable only when nothing has been done yet. */
function s3Call<T>(work: ItemWork, operation: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  return withRetry(operation, { ...retryOptions(work), signal });
}

/**
 * Analyses one image to its result record: succeeded, failed for good, or
 * unreadable (for the next run to try again). Throws for errors that leave
 * it undone (fatal, retries exhausted, the batch stopping).
 */
function imageAnalyser(work: ItemWork): (listed: ImageRef) => Promise<ImageResultRecord> {
  const { context, s3, clock, logger, stop } = work;
  return async (listed) => {
    let attempts = 0;
    // The version the record is for: the listed one, or in Bytes mode the one actually read.
    let image = listed;
    const base = () => ({
      context,
      image,
      attempts,
      analyzedAt: new Date(clock.now()).toISOString(),
    });
    try {
      let bytes: Uint8Array | undefined;
      if (context.imageMode === "Bytes") {
        const loaded = await s3Call(work, () => loadImageBytes(s3, context, listed), stop.signal);
        bytes = loaded.bytes;
        image = {
          ...listed,
          size: loaded.bytes.byteLength,
          etag: loaded.etag ?? listed.etag,
          lastModified: loaded.lastModified ?? listed.lastModified,
        };
      }
      const labels = await detectWithRetry(work, image, bytes, () => {
        attempts += 1;
      });
      return successRecord({ ...base(), labels });
    } catch (error) {
      const classification = classifyDetectionError(error);
      if (classification.kind === "permanent") {
        logger.warn("image failed for good", {
          key: image.key,
          error: classification.name,
          errorMessage: classification.message,
        });
        return failureRecord({ ...base(), error: classification });
      }
      if (classification.kind === "unreadable") {
        logger.warn("image could not be read; the next run tries it again", {
          key: image.key,
          error: classification.name,
          errorMessage: classification.message,
        });
        return failureRecord({ ...base(), error: classification, status: "unreadable" });
      }
      throw error;
    }
  };
}

/** DetectCustomLabels through the rate controller, retried; `onAttempt` counts each call. */
function detectWithRetry(
  work: ItemWork,
  image: ImageRef,
  bytes: Uint8Array | undefined,
  onAttempt: () => void,
) {
  const { rate, tally, clock, logger, stop } = work;
  return withRetry(
    async () => {
      const grantedAt = await rate.acquire(stop.signal);
      onAttempt();
      try {
        const result = await detectImage(work.rekognition, work.context, image, bytes);
        tally.record(clock.now(), false);
        return result;
      } catch (error) {
        const { throttle } = classifyDetectionError(error);
        tally.record(clock.now(), throttle);
        if (throttle) rate.onThrottle(grantedAt);
        throw error;
      }
    },
    {
      ...retryOptions(work),
      signal: stop.signal,
      isPacedError: (error) => classifyDetectionError(error).throttle,
      onRetry: ({ error, attempt, delayMs }) => {
        tally.retried += 1;
        logger.debug("retrying image", {
          key: image.key,
          attempt,
          delayMs,
          error: describeDetectionError(error),
        });
      },
    },
  );
}
