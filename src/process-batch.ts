import type { RekognitionClient } from "@aws-sdk/client-rekognition";
import type { S3Client } from "@aws-sdk/client-s3";
import pMap from "p-map";
import { fatalRunnerError } from "./aws-errors.ts";
import { markBatchStarted } from "./batch-attempt.ts";
import { BatchStop, describeDetectionError, itemProcessor } from "./batch-item.ts";
import { boundBatchOutput } from "./batch-output.ts";
import { writeBatchPart } from "./batch-part.ts";
import { CallTally, type ItemOutcome, summarize } from "./batch-tally.ts";
import { BatchIncompleteError, InvalidRunInputError, RetriesExhaustedError } from "./errors.ts";
import { checkOutRateController, type RateController } from "./rate-controller.ts";
import type { RetryPolicy } from "./retry.ts";
import type { Clock, Logger } from "./runtime.ts";
import type { BatchContext, BatchEvent, BatchOutput, ImageRef } from "./shapes.ts";

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
  if (
    context.ceilingTps !== undefined &&
    !(Number.isFinite(context.ceilingTps) && context.ceilingTps >= context.perWorkerTps)
  ) {
    throw new InvalidRunInputError(
      `BatchInput.ceilingTps must be a number >= perWorkerTps (${context.perWorkerTps}), got ${context.ceilingTps}`,
    );
  }
  if (context.imageMode !== "S3Object" && context.imageMode !== "Bytes") {
    throw new InvalidRunInputError(
      `BatchInput.imageMode must be "S3Object" or "Bytes", got ${String(context.imageMode)}`,
    );
  }
  return context;
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
 *   unknown errors (they are left undone, without a record);
 * - last, when the batch's result part could not be written (see batch-part.ts).
 */
export async function processBatch(options: ProcessBatchOptions): Promise<BatchOutput> {
  const { event, clock, logger } = options;
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
          ...(context.ceilingTps !== undefined ? { ceilingTps: context.ceilingTps } : {}),
        },
        clock,
      );
  const rate = lease.controller;
  const tally = new CallTally();
  const stop = new BatchStop();
  if (options.signal?.aborted) stop.now();
  options.signal?.addEventListener("abort", stop.now, { once: true });

  let outcomes: (ItemOutcome | undefined)[];
  try {
    const mayResume = await batchMayResume(options, context, items);
    const processItem = itemProcessor({ ...options, context, rate, tally, stop, mayResume });
    outcomes = await runItems(items, context.concurrency, stop.signal, processItem);
  } finally {
    options.signal?.removeEventListener("abort", stop.now);
    lease.release();
  }

  const partError = await writeBatchPart({ ...options, context }, items, outcomes);
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
  if (stop.fatal !== undefined) {
    throw fatalRunnerError(stop.fatal, ` (batch stopped: ${progress})`) ?? stop.fatal;
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
    const reason =
      cause instanceof RetriesExhaustedError ? cause.message : describeDetectionError(cause);
    throw new RetriesExhaustedError(
      `Images kept failing with errors worth retrying: ${progress}; first: ${reason}`,
      { cause },
    );
  }
  if (partError) throw partError;
  return output;
}

/**
 * Whether an earlier attempt of this batch may have written results (see
 * batch-attempt.ts). When the mark cannot be read or written, every image is
 * looked up in the ledger, as a retry's are: never a result missed.
 */
async function batchMayResume(
  options: ProcessBatchOptions,
  context: BatchContext,
  items: readonly ImageRef[],
): Promise<boolean> {
  const first = items[0];
  if (!first) return false;
  try {
    return await markBatchStarted(options.s3, context, first.key);
  } catch (error) {
    options.logger.warn("could not mark the batch as started; every image is checked", {
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    });
    return true;
  }
}

/**
 * Takes every item to an outcome, at most `concurrency` at a time, until
 * `signal` aborts. The outcome list is by item index; `undefined` where an
 * item was never started.
 */
async function runItems(
  items: readonly ImageRef[],
  concurrency: number,
  signal: AbortSignal,
  processItem: (image: ImageRef) => Promise<ItemOutcome>,
): Promise<(ItemOutcome | undefined)[]> {
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
      { concurrency, stopOnError: false, signal },
    );
  } catch (error) {
    if (!signal.aborted) throw error;
    // p-map gives up at once on abort; the calls already out still get to finish and be written.
    await Promise.allSettled([...inFlight]);
  }
  return outcomes;
}
