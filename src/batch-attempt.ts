/**
 * Whether an earlier attempt of this batch may have written results.
 *
 * A batch skips the images an earlier attempt of it finished (their result
 * records are in the ledger). Only an earlier attempt of the same batch can
 * have written them: the Plan left out every image with a current result,
 * rounds hold disjoint images, and the run's lease keeps other runs out. So
 * a batch first marks that it has started (one small object under the run's
 * folder, keyed like its result part by its first image); when the mark was
 * not there yet, this is the batch's first attempt and no image needs a look
 * at the ledger. A retry, a redriven child or an attempt that overlaps one
 * still running (a timed-out invocation runs on) finds the mark and checks
 * every image, as before.
 *
 * That turns one HeadObject per image (for a first attempt, nearly always a
 * 404) into one HeadObject and one PutObject per batch.
 */

import { createHash } from "node:crypto";
import { HeadObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { isNotFoundError } from "./aws-errors.ts";
import { runFolder } from "./result-keys.ts";
import type { BatchContext } from "./shapes.ts";

/** The mark of the batch whose first image is `firstImageKey`. */
export function batchMarkKey(resultsPrefix: string, runId: string, firstImageKey: string): string {
  const id = createHash("sha256").update(firstImageKey, "utf8").digest("hex").slice(0, 32);
  return `${runFolder(resultsPrefix, runId)}batches/started-${id}`;
}

/**
 * Marks the batch as started. Resolves `true` when an earlier attempt had
 * marked it already (its images must be checked against the ledger), `false`
 * for a first attempt. S3 errors reject: the caller then checks every image.
 */
export async function markBatchStarted(
  s3: S3Client,
  context: BatchContext,
  firstImageKey: string,
): Promise<boolean> {
  const key = batchMarkKey(context.resultsPrefix, context.runId, firstImageKey);
  try {
    await s3.send(new HeadObjectCommand({ Bucket: context.resultsBucket, Key: key }));
    return true;
  } catch (error) {
    if (!isNotFoundError(error)) throw error;
  }
  await s3.send(
    new PutObjectCommand({
      Bucket: context.resultsBucket,
      Key: key,
      Body: firstImageKey,
      ContentType: "text/plain; charset=utf-8",
    }),
  );
  return false;
}
