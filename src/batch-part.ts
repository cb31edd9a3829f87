/**
 * The batch's part of the run's dataset (see result-parts.ts): written when
 * the batch ends, whatever comes next, so a batch that stops early or fails
 * part-way still shows what it finished; its retry rewrites the same part.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import {
  classifyDetectionError,
  fatalRunnerError,
  shouldRetryDetectionError,
} from "./aws-errors.ts";
import type { ItemOutcome } from "./batch-tally.ts";
import { RetriesExhaustedError, type RunnerError } from "./errors.ts";
import { writeResultPart } from "./result-parts.ts";
import { type RetryPolicy, withRetry } from "./retry.ts";
import type { Clock, Logger } from "./runtime.ts";
import type { BatchContext, ImageRef } from "./shapes.ts";

export interface BatchPartWork {
  s3: S3Client;
  context: BatchContext;
  clock: Clock;
  logger: Logger;
  random?: () => number;
  retryPolicy?: Partial<RetryPolicy>;
  deadline?: number;
}

/**
 * Writes the part of every finished item (retrying as for any S3 call of the
 * batch). Returns the error the batch should end with when the part could not
 * be written, with a name the workflow's Retry knows; never throws, so the
 * batch's own verdict (a fatal error, an early stop) comes first.
 */
export async function writeBatchPart(
  work: BatchPartWork,
  items: readonly ImageRef[],
  outcomes: readonly (ItemOutcome | undefined)[],
): Promise<RunnerError | undefined> {
  const records = outcomes.flatMap((o) => (o?.kind === "done" ? [o.record] : []));
  try {
    await withRetry(
      () =>
        writeResultPart({
          s3: work.s3,
          context: work.context,
          firstImageKey: items[0]?.key ?? "",
          records,
        }),
      {
        clock: work.clock,
        random: work.random,
        policy: work.retryPolicy,
        deadline: work.deadline,
        shouldRetry: shouldRetryDetectionError,
      },
    );
    return undefined;
  } catch (error) {
    const { name, message } = classifyDetectionError(error);
    work.logger.error("could not write the batch's result part", { error: `${name}: ${message}` });
    const detail = " (writing the batch's result part; every image result is written)";
    return (
      fatalRunnerError(error, detail) ??
      new RetriesExhaustedError(`${name}: ${message}${detail}`, { cause: error })
    );
  }
}
