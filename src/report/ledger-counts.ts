import { HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import pMap from "p-map";
import { isNotFoundError } from "../aws-errors.ts";
import { readJsonLines } from "../json-lines.ts";
import { resultKeyFor } from "../result-keys.ts";
import { normalizeEtag, RESULT_METADATA } from "../results.ts";
import type { ImageRef, Plan } from "../shapes.ts";

/**
 * The run's outcome per image, read from the ledger rather than from what the
 * batches returned: a batch that failed part-way returns nothing, yet wrote
 * the results of the images it finished. For each image of the manifest the
 * current ledger entry is HEADed (its metadata says the image version and the
 * status) and counted.
 */
export interface LedgerCounts {
  /** Images of the manifest (= the plan's pending count when the manifest is whole). */
  images: number;
  succeeded: number;
  /** The image is bad (recorded failure with a reason). */
  failed: number;
  /** The image could not be read: pending again next run. */
  unreadable: number;
  /** No entry for this version of the image: pending again next run. */
  notAnalysed: number;
}

/** Parallel HEADs while counting. */
export const LEDGER_COUNT_CONCURRENCY = 32;

type Outcome = "succeeded" | "failed" | "unreadable" | "notAnalysed";

/**
 * What the ledger says of one manifest image for this run: an entry counts
 * when it records the manifest's ETag, or was written by this run (in Bytes
 * mode the record holds the ETag actually read, which differs when the image
 * was replaced after the plan).
 */
export function outcomeOf(
  metadata: Record<string, string> | undefined,
  image: Pick<ImageRef, "etag">,
  runId: string,
): Outcome {
  const status = metadata?.[RESULT_METADATA.status];
  if (status !== "succeeded" && status !== "failed" && status !== "unreadable") {
    return "notAnalysed";
  }
  const sameVersion = metadata?.[RESULT_METADATA.imageEtag] === normalizeEtag(image.etag);
  const thisRun = metadata?.[RESULT_METADATA.runId] === runId;
  return sameVersion || thisRun ? status : "notAnalysed";
}

export async function countFromLedger(opts: {
  s3: S3Client;
  plan: Plan;
  concurrency?: number;
}): Promise<LedgerCounts> {
  const { s3, plan } = opts;
  const counts: LedgerCounts = {
    images: 0,
    succeeded: 0,
    failed: 0,
    unreadable: 0,
    notAnalysed: 0,
  };
  const images = readJsonLines<ImageRef>({
    s3,
    bucket: plan.manifest.bucket,
    key: plan.manifest.key,
  });
  await pMap(
    images,
    async (image) => {
      let metadata: Record<string, string> | undefined;
      try {
        const head = await s3.send(
          new HeadObjectCommand({
            Bucket: plan.context.resultsBucket,
            Key: resultKeyFor(plan.context.resultsPrefix, image.key),
          }),
        );
        metadata = head.Metadata;
      } catch (error) {
        if (!isNotFoundError(error)) throw error;
      }
      counts.images += 1;
      counts[outcomeOf(metadata, image, plan.runId)] += 1;
    },
    { concurrency: opts.concurrency ?? LEDGER_COUNT_CONCURRENCY },
  );
  return counts;
}
