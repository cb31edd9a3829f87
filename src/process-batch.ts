import type { RekognitionClient } from "@aws-sdk/client-rekognition";
import type { S3Client } from "@aws-sdk/client-s3";
import pMap from "p-map";
import { boundBatchOutput, type RawBatchOutput } from "./batch-output.ts";
import { detectImage, loadImageBytes } from "./detect-image.ts";
import {
  classifyDetectionError,
  fatalRunnerError,
  shouldRetryDetectionError,
} from "./detection-errors.ts";
import { BatchIncompleteError, InvalidRunInputError, RetriesExhaustedError } from "./errors.ts";
import { checkOutRateController, type RateController } from "./rate-controller.ts";
import { failureRecord, readCurrentResult, successRecord, writeImageResult } from "./results.ts";
import { type RetryPolicy, withRetry } from "./retry.ts";
import type { Clock, Logger } from "./runtime.ts";
import type {
  BatchContext,
  BatchEvent,
  BatchOutput,
  ImageRef,
  ImageResultRecord,
  TimelinePoint,
} from "./shapes.ts";

export interface ProcessBatchOptions {
  event: BatchEvent;
  rekognition: RekognitionClient;
  s3: S3Client;
  clock: Clock;
  logger: Logger;
  /** Fired before the Lambda times out: stop taking items, finish the ones in flight. */
  signal?: AbortSignal;
  /** Uniform in [0, 1), for the retry jitter. */
  random?: () => number;
  /** Defaults to a controller of this run and model version checked out for this batch. */
  rateController?: RateController;
  retryPolicy?: Partial<RetryPolicy>;
  /** Epoch ms: no retry backoff sleeps past it. */
  deadline?: number;
}

/** What became of one item. `undefined` in the outcome list means it was never started. */
type ItemOutcome =
  | { kind: "done"; record: ImageResultRecord; resumed: boolean }
  | { kind: "undone"; error?: unknown };

/** Counts of Rekognition calls, overall and per wall-clock second. */
class CallTally {
  calls = 0;
  throttled = 0;
  retried = 0;
  private readonly perSecond = new Map<number, TimelinePoint>();

  record(now: number, throttled: boolean): void {
    this.calls += 1;
    if (throttled) this.throttled += 1;
    const t = Math.floor(now / 1000);
    let point = this.perSecond.get(t);
    if (!point) {
      point = { t, accepted: 0, throttled: 0 };
      this.perSecond.set(t, point);
    }
    if (throttled) point.throttled += 1;
    else point.accepted += 1;
  }

  timeline(): TimelinePoint[] {
    return [...this.perSecond.values()].sort((a, b) => a.t - b.t);
  }
}

function validateContext(context: BatchContext | undefined, items: unknown): BatchContext {
  if (!context || typeof context !== "object") {
    throw new InvalidRunInputError("BatchInput is missing from the batch event");
  }
  if (!Array.isArray(items)) throw new InvalidRunInputError("Items must be an array of images");
  if (!(Number.isInteger(context.concurrency) && context.concurrency >= 1)) {
    throw new InvalidRunInputError(
      `BatchInput.concurrency must be an integer >= 1, got ${context.concurrency}`,
    );
  }
  if (!(Number.isFinite(context.perWorkerTps) && context.perWorkerTps > 0)) {
    throw new InvalidRunInputError(
      `BatchInput.perWorkerTps must be a positive number, got ${context.perWorkerTps}`,
    );
  }
  if (context.imageMode !== "S3Object" && context.imageMode !== "Bytes") {
    throw new InvalidRunInputError(
      `BatchInput.imageMode must be "S3Object" or "Bytes", got ${String(context.imageMode)}`,
    );
  }
  return context;
}

function describe(error: unknown): string {
  const { name, message } = classifyDetectionError(error);
  return `${name}: ${message}`;
}

/**
 * Analyses one batch of images: every image ends with a result record written
 * to the ledger (succeeded; failed for good with the reason; or unreadable,
 * for the next run to try again), or is left
 * undone for a later attempt.
 *
 * Calls go out through the rate controller, at most `concurrency` at a time;
 * retryable errors are retried with jittered backoff; images that an earlier
 * attempt of the batch finished are not analysed again (`resumed`).
 *
 * Throws, always after the finished results are written:
 * - the named fatal error (ModelNotReady, AccessDenied, ResourceNotFound) as
 *   soon as the in-flight calls end, without taking new items;
 * - `BatchIncompleteError` when `signal` aborted with items left;
 * - `RetriesExhaustedError` when images kept failing with retryable or
 *   unknown errors (they are left undone, without a record).
 */
export async function processBatch(options: ProcessBatchOptions): Promise<BatchOutput> {
  const { event, rekognition, s3, clock, logger, deadline } = options;
  const context = validateContext(event?.BatchInput, event?.Items);
  const items = event.Items;
  const startedAt = clock.now();
  const lease = options.rateController
    ? { controller: options.rateController, release: () => {} }
    : checkOutRateController(
        {
          runId: context.runId,
          projectVersionArn: context.projectVersionArn,
          plannedTps: context.perWorkerTps,
        },
        clock,
      );
  const rate = lease.controller;
  const tally = new CallTally();

  // One signal for "take no new work": the caller's abort or a fatal error.
  const stop = new AbortController();
  const stopReason = new DOMException("The batch is stopping", "AbortError");
  let fatal: unknown;
  const stopNow = () => stop.abort(stopReason);
  if (options.signal?.aborted) stopNow();
  options.signal?.addEventListener("abort", stopNow, { once: true });

  const retryOptions = {
    clock,
    random: options.random,
    policy: options.retryPolicy,
    deadline,
    shouldRetry: shouldRetryDetectionError,
  };

  /** An S3 call under retry; abortable only when nothing has been done yet. */
  const s3Call = <T>(operation: () => Promise<T>, signal?: AbortSignal) =>
    withRetry(operation, { ...retryOptions, signal });

  const analyse = async (listed: ImageRef): Promise<ImageResultRecord> => {
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
        const loaded = await s3Call(() => loadImageBytes(s3, context, listed), stop.signal);
        bytes = loaded.bytes;
        image = {
          ...listed,
          size: loaded.bytes.byteLength,
          etag: loaded.etag ?? listed.etag,
          lastModified: loaded.lastModified ?? listed.lastModified,
        };
      }
      const labels = await withRetry(
        async () => {
          const grantedAt = await rate.acquire(stop.signal);
          attempts += 1;
          try {
            const result = await detectImage(rekognition, context, image, bytes);
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
          ...retryOptions,
          signal: stop.signal,
          isPacedError: (error) => classifyDetectionError(error).throttle,
          onRetry: ({ error, attempt, delayMs }) => {
            tally.retried += 1;
            logger.debug("retrying image", {
              key: image.key,
              attempt,
              delayMs,
              error: describe(error),
            });
          },
        },
      );
      return successRecord({ ...base(), labels });
    } catch (error) {
      const classification = classifyDetectionError(error);
      if (classification.kind === "permanent") {
        logger.warn("image failed for good", {
          key: image.key,
          error: classification.name,
          message: classification.message,
        });
        return failureRecord({ ...base(), error: classification });
      }
      if (classification.kind === "unreadable") {
        logger.warn("image could not be read; the next run tries it again", {
          key: image.key,
          error: classification.name,
          message: classification.message,
        });
        return failureRecord({ ...base(), error: classification, status: "unreadable" });
      }
      throw error;
    }
  };

  const processItem = async (image: ImageRef): Promise<ItemOutcome> => {
    if (stop.signal.aborted) return { kind: "undone" };
    try {
      const existing = await s3Call(() => readCurrentResult(s3, context, image), stop.signal);
      if (existing) return { kind: "done", record: existing, resumed: true };
      const record = await analyse(image);
      // Not abortable: a finished analysis is always written.
      await s3Call(() => writeImageResult(s3, context, record));
      return { kind: "done", record, resumed: false };
    } catch (error) {
      if (error === stopReason) return { kind: "undone" };
      if (classifyDetectionError(error).kind === "fatal") {
        if (fatal === undefined) {
          fatal = error;
          logger.error("fatal error, stopping the batch", {
            key: image.key,
            error: describe(error),
          });
        }
        stopNow();
        return { kind: "undone" };
      }
      logger.warn("image left undone", {
        key: image.key,
        error: error instanceof RetriesExhaustedError ? error.message : describe(error),
      });
      return { kind: "undone", error };
    }
  };

  const outcomes: (ItemOutcome | undefined)[] = new Array(items.length);
  const inFlight = new Set<Promise<unknown>>();
  try {
    await pMap(
      items.keys(),
      async (index) => {
        const image = items[index] as ImageRef;
        const running = processItem(image).then((outcome) => {
          outcomes[index] = outcome;
        });
        inFlight.add(running);
        try {
          await running;
        } finally {
          inFlight.delete(running);
        }
      },
      { concurrency: context.concurrency, stopOnError: false, signal: stop.signal },
    );
  } catch (error) {
    if (!stop.signal.aborted) throw error;
    // p-map gives up at once on abort; the calls already out still get to finish and be written.
    await Promise.allSettled([...inFlight]);
  } finally {
    options.signal?.removeEventListener("abort", stopNow);
    lease.release();
  }

  const output = boundBatchOutput(
    summarize(context, items, outcomes, tally, startedAt, clock.now()),
  );
  const done = output.succeeded + output.failed + (output.unreadable ?? 0);
  const left = items.length - done;
  logger.info("batch finished", {
    runId: context.runId,
    items: output.items,
    succeeded: output.succeeded,
    failed: output.failed,
    unreadable: output.unreadable,
    resumed: output.resumed,
    left,
    calls: output.calls,
    throttled: output.throttled,
    retried: output.retried,
    rate: rate.stats(),
  });

  const progress = `${done} of ${items.length} images done, ${left} left`;
  if (fatal !== undefined) {
    throw fatalRunnerError(fatal, ` (batch stopped: ${progress})`) ?? fatal;
  }
  if (left > 0 && options.signal?.aborted) {
    throw new BatchIncompleteError(
      `Stopped before the time limit: ${progress}; a retry of this batch analyses only those left`,
    );
  }
  if (left > 0) {
    // Undone for no fatal error and no abort: retryable or unknown errors persisted.
    const first = outcomes.find((o) => o?.kind === "undone" && o.error !== undefined);
    const cause = first?.kind === "undone" ? first.error : undefined;
    const reason = cause instanceof RetriesExhaustedError ? cause.message : describe(cause);
    throw new RetriesExhaustedError(
      `Images kept failing with errors worth retrying: ${progress}; first: ${reason}`,
      { cause },
    );
  }
  return output;
}

function summarize(
  context: BatchContext,
  items: ImageRef[],
  outcomes: (ItemOutcome | undefined)[],
  tally: CallTally,
  startedAt: number,
  endedAt: number,
): RawBatchOutput {
  const output: RawBatchOutput = {
    runId: context.runId,
    items: items.length,
    succeeded: 0,
    failed: 0,
    unreadable: 0,
    resumed: 0,
    failures: [],
    labels: {},
    calls: tally.calls,
    throttled: tally.throttled,
    retried: tally.retried,
    startedAt: new Date(startedAt).toISOString(),
    endedAt: new Date(endedAt).toISOString(),
    timeline: tally.timeline(),
  };
  for (const outcome of outcomes) {
    if (outcome?.kind !== "done") continue;
    const { record } = outcome;
    if (outcome.resumed) output.resumed += 1;
    if (record.status === "unreadable") {
      output.unreadable = (output.unreadable ?? 0) + 1;
    } else if (record.status === "succeeded") {
      output.succeeded += 1;
      for (const name of new Set(record.labels.map((label) => label.Name))) {
        output.labels[name] = (output.labels[name] ?? 0) + 1;
      }
    } else {
      output.failed += 1;
      output.failures.push({
        key: record.image.key,
        error: record.error?.name ?? "Unknown",
        message: record.error?.message ?? "",
      });
    }
  }
  return output;
}
