import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { stateFiles } from "./result-keys.ts";
import type { Logger } from "./runtime.ts";
import { getObjectTextIfExists } from "./s3-json.ts";

/**
 * What the Plan records beside the snapshot: how many entries it holds and
 * evenly spaced keys of them (`KeySampler`). The next Plan decides from it,
 * without reading the snapshot, whether to shard the listing and where to
 * cut it (`plan-shards.ts`).
 */
export interface LedgerSnapshotStats {
  entries: number;
  /** Result keys in ascending order, evenly spaced by position. */
  samples: string[];
}

const snapshotStatsSchema = z.object({
  entries: z.number().int().nonnegative(),
  samples: z.array(z.string()),
});

/** The last snapshot's stats; undefined when there are none or they cannot be read. */
export async function readLedgerSnapshotStats(opts: {
  s3: S3Client;
  bucket: string;
  resultsPrefix: string;
  logger: Logger;
}): Promise<LedgerSnapshotStats | undefined> {
  const key = stateFiles.ledgerIndexStats(opts.resultsPrefix);
  try {
    const text = await getObjectTextIfExists({ s3: opts.s3, bucket: opts.bucket, key });
    if (text === undefined) return undefined;
    return snapshotStatsSchema.parse(JSON.parse(text));
  } catch (error) {
    opts.logger.warn("ledger snapshot stats unreadable: the Plan shards by folders instead", {
      key,
      error: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
}

/** Writes the stats beside the snapshot; a failure only costs the next Plan its cut points. */
export async function writeLedgerSnapshotStats(opts: {
  s3: S3Client;
  bucket: string;
  resultsPrefix: string;
  logger: Logger;
  stats: LedgerSnapshotStats;
}): Promise<void> {
  const key = stateFiles.ledgerIndexStats(opts.resultsPrefix);
  try {
    await opts.s3.send(
      new PutObjectCommand({
        Bucket: opts.bucket,
        Key: key,
        Body: `${JSON.stringify(opts.stats)}\n`,
        ContentType: "application/json",
      }),
    );
  } catch (error) {
    opts.logger.warn("could not write the ledger snapshot stats", {
      key,
      error: error instanceof Error ? error.message : String(error),
    });
  }
}
