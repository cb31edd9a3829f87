import type { Readable } from "node:stream";
import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from "@aws-sdk/client-s3";
import { pMapIterable, pMapSkip } from "p-map";
import { z } from "zod";
import { isNotFoundError } from "./aws-errors.ts";
import { readJsonLines } from "./json-lines.ts";
import { KeySampler } from "./key-sampler.ts";
import { type LedgerSnapshotStats, writeLedgerSnapshotStats } from "./ledger-snapshot-stats.ts";
import { JsonlObjectWriter } from "./manifest.ts";
import { resultsFolder, stateFiles } from "./result-keys.ts";
import { MAX_RESULT_BYTES, normalizeEtag, parseResultRecord } from "./results.ts";
import type { Logger } from "./runtime.ts";
import { getObjectTextIfExists } from "./s3-json.ts";
import {
  compareKeys,
  inKeyOrder,
  type KeyRange,
  type ListedObject,
  listObjects,
} from "./s3-listing.ts";
import type { ResultStatus } from "./shapes.ts";

/**
 * What the Plan knows of each ledger entry: which version of which image it is
 * for and what it says. A listing does not carry a result's user metadata, so
 * the entries are read; to avoid reading every result every week, what was
 * read is kept in a snapshot under `state/` and reused for every result whose
 * ETag and LastModified are still those listed. Only new or changed results
 * are read. A missing or unreadable snapshot only means reading everything.
 *
 * Nothing here holds the ledger in memory: the results listing, the snapshot
 * (written in the listing's key order) and the new snapshot are streamed side
 * by side, so a plan's memory does not grow with the number of results.
 */

export interface LedgerEntry {
  resultKey: string;
  /** The result object's own version, as listed. */
  resultEtag: string;
  resultLastModified: number;
  /** What the record says; absent when the object is not a readable record. */
  record?: {
    imageKey: string;
    /** Without quotes. */
    imageEtag: string;
    imageLastModified: string;
    status: ResultStatus;
  };
}

/** How the entries of one pass over the ledger were obtained. */
export interface LedgerStats {
  /** Results read this time (new or changed since the snapshot). */
  read: number;
  /** Results taken from the snapshot unread. */
  reused: number;
}

/** Parallel GETs of results that the snapshot does not cover. */
export const LEDGER_READ_CONCURRENCY = 32;

const snapshotLineSchema = z.object({
  k: z.string(),
  e: z.string(),
  m: z.number(),
  r: z
    .object({
      key: z.string(),
      etag: z.string(),
      lastModified: z.string(),
      status: z.enum(["succeeded", "failed", "unreadable"]),
    })
    .optional(),
});

type SnapshotLine = z.infer<typeof snapshotLineSchema>;

/**
 * The snapshot's entries, one at a time, in ascending key order. A line out
 * of order (snapshots of earlier versions were not sorted) is dropped, and
 * the first line that cannot be read ends the snapshot: either way those
 * results are only read again. With `range`, only the entries in it (the
 * snapshot is read from its start; it stops after the range).
 */
export async function* readLedgerSnapshot(opts: {
  s3: S3Client;
  bucket: string;
  resultsPrefix: string;
  logger: Logger;
  range?: KeyRange;
}): AsyncGenerator<LedgerEntry> {
  const after = opts.range?.after;
  const upTo = opts.range?.upTo;
  const key = stateFiles.ledgerIndex(opts.resultsPrefix);
  let previous: string | undefined;
  try {
    const lines = readJsonLines(
      { s3: opts.s3, bucket: opts.bucket, key },
      { gzip: true, schema: snapshotLineSchema, lineName: "a ledger snapshot line" },
    );
    for await (const line of lines) {
      if (previous !== undefined && compareKeys(line.k, previous) <= 0) continue;
      previous = line.k;
      if (after !== undefined && compareKeys(line.k, after) <= 0) continue;
      if (upTo !== undefined && compareKeys(line.k, upTo) > 0) return;
      yield fromLine(line);
    }
  } catch (error) {
    if (!isNotFoundError(error)) {
      opts.logger.warn("ledger snapshot unreadable: the results it would cover are read", {
        key,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
}

function fromLine(line: SnapshotLine): LedgerEntry {
  return {
    resultKey: line.k,
    resultEtag: line.e,
    resultLastModified: line.m,
    ...(line.r
      ? {
          record: {
            imageKey: line.r.key,
            imageEtag: line.r.etag,
            imageLastModified: line.r.lastModified,
            status: line.r.status,
          },
        }
      : {}),
  };
}

function toLine(entry: LedgerEntry): SnapshotLine {
  return {
    k: entry.resultKey,
    e: entry.resultEtag,
    m: entry.resultLastModified,
    ...(entry.record
      ? {
          r: {
            key: entry.record.imageKey,
            etag: entry.record.imageEtag,
            lastModified: entry.record.imageLastModified,
            status: entry.record.status,
          },
        }
      : {}),
  };
}

/** Reads one listed result object into an entry; undefined when it is gone. */
async function readEntry(
  s3: S3Client,
  bucket: string,
  listed: ListedObject,
): Promise<LedgerEntry | undefined> {
  const entry: LedgerEntry = {
    resultKey: listed.key,
    resultEtag: listed.etag,
    resultLastModified: listed.lastModified.getTime(),
  };
  // Too large to be one of ours: not read at all.
  if (listed.size > MAX_RESULT_BYTES || listed.size === 0) return entry;
  const text = await getObjectTextIfExists({ s3, bucket, key: listed.key });
  if (text === undefined) return undefined;
  return withRecord(entry, text);
}

/** The entry with what its text says, when the text is a result record. */
function withRecord(entry: LedgerEntry, text: string): LedgerEntry {
  const record = parseResultRecord(text);
  if (!record) return entry;
  return {
    ...entry,
    record: {
      imageKey: record.image.key,
      imageEtag: normalizeEtag(record.image.etag),
      imageLastModified: record.image.lastModified,
      status: record.status,
    },
  };
}

/**
 * The ledger entry at `resultKey`, read directly (for the images whose entry
 * the ordered pass cannot meet, see `joinsInOrder`); undefined when there is
 * none.
 */
export async function lookupLedgerEntry(
  s3: S3Client,
  bucket: string,
  resultKey: string,
): Promise<LedgerEntry | undefined> {
  let response: GetObjectCommandOutput;
  try {
    response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: resultKey }));
  } catch (error) {
    if (isNotFoundError(error)) return undefined;
    throw error;
  }
  const entry: LedgerEntry = {
    resultKey,
    resultEtag: response.ETag ?? "",
    resultLastModified: response.LastModified?.getTime() ?? 0,
  };
  if ((response.ContentLength ?? 0) > MAX_RESULT_BYTES) {
    // Too large to be one of ours: not downloaded.
    (response.Body as Readable | undefined)?.destroy?.();
    return entry;
  }
  return withRecord(entry, (await response.Body?.transformToString("utf-8")) ?? "");
}

/**
 * Every ledger entry under the results folder, with what it says, in S3's key
 * order: from the snapshot when the result is unchanged, else read (bounded
 * concurrency, order kept). The listing and the snapshot are merged as they
 * stream; at most `concurrency` entries are in hand at any time. `onEntry`
 * sees each entry as it passes (the Plan writes the next snapshot from it).
 */
export async function* ledgerEntries(opts: {
  s3: S3Client;
  bucket: string;
  resultsPrefix: string;
  logger: Logger;
  stats?: LedgerStats;
  concurrency?: number;
  onEntry?: (entry: LedgerEntry) => Promise<void>;
  /** Only the results (and snapshot entries) whose key is in this range: one Plan shard's. */
  range?: KeyRange;
}): AsyncGenerator<LedgerEntry> {
  const { s3, bucket } = opts;
  const stats = opts.stats ?? { read: 0, reused: 0 };
  const listed = listObjects(s3, {
    bucket,
    prefix: resultsFolder(opts.resultsPrefix),
    ...(opts.range ? { range: opts.range } : {}),
  });
  const known = withSnapshotEntry(listed, readLedgerSnapshot(opts));
  const entries = pMapIterable(
    known,
    async ({ object, snapshot }) => {
      if (snapshot) {
        stats.reused += 1;
        return snapshot;
      }
      stats.read += 1;
      return (await readEntry(s3, bucket, object)) ?? pMapSkip;
    },
    { concurrency: opts.concurrency ?? LEDGER_READ_CONCURRENCY },
  );
  for await (const entry of entries) {
    await opts.onEntry?.(entry);
    yield entry;
  }
}

/**
 * Pairs each listed result with its snapshot entry when that entry is for
 * the same version. Both arrive in ascending key order, so one pass with one
 * snapshot entry in hand is enough.
 */
async function* withSnapshotEntry(
  listed: AsyncIterable<ListedObject>,
  snapshot: AsyncGenerator<LedgerEntry>,
): AsyncGenerator<{ object: ListedObject; snapshot?: LedgerEntry }> {
  try {
    let next = await snapshot.next();
    for await (const object of inKeyOrder(listed, "the results listing")) {
      while (!next.done && compareKeys(next.value.resultKey, object.key) < 0) {
        next = await snapshot.next();
      }
      const same =
        !next.done &&
        next.value.resultKey === object.key &&
        next.value.resultEtag === object.etag &&
        next.value.resultLastModified === object.lastModified.getTime();
      yield same ? { object, snapshot: next.value } : { object };
    }
  } finally {
    await snapshot.return(undefined);
  }
}

/**
 * Streams the next snapshot (gzip JSON lines) while the ledger is read. It
 * must receive the entries in ascending key order, as `ledgerEntries` yields
 * them. A failure is logged, not thrown: without a snapshot the next Plan
 * reads every result. By default it replaces the snapshot under `state/` and
 * its stats; a Plan shard gives `key`, its own part of the next snapshot,
 * which the merge step joins (and then writes the stats).
 */
export class LedgerSnapshotWriter {
  private readonly writer: JsonlObjectWriter<SnapshotLine>;
  private readonly key: string;
  private readonly ownsState: boolean;
  private failed = false;
  private closed = false;
  /** Counts the entries and keeps evenly spaced keys of them. */
  readonly sampler = new KeySampler();

  constructor(
    private readonly opts: {
      s3: S3Client;
      bucket: string;
      resultsPrefix: string;
      logger: Logger;
      key?: string;
    },
  ) {
    this.ownsState = opts.key === undefined;
    this.key = opts.key ?? stateFiles.ledgerIndex(opts.resultsPrefix);
    this.writer = new JsonlObjectWriter<SnapshotLine>({
      s3: opts.s3,
      bucket: opts.bucket,
      key: this.key,
      gzip: true,
    });
  }

  readonly write = async (entry: LedgerEntry): Promise<void> => {
    this.sampler.add(entry.resultKey);
    if (this.failed) return;
    try {
      await this.writer.write(toLine(entry));
    } catch (error) {
      this.warn(error);
      await this.writer.abort();
    }
  };

  /** True once `close()` has stored the whole snapshot. */
  get written(): boolean {
    return this.closed && !this.failed;
  }

  /** The entries written and samples of their keys. */
  get stats(): LedgerSnapshotStats {
    return { entries: this.sampler.count, samples: this.sampler.samples };
  }

  /** Replaces the previous snapshot (and, when it owns the state's, its stats). */
  async close(): Promise<void> {
    if (this.failed) return;
    try {
      await this.writer.close();
      this.closed = true;
    } catch (error) {
      this.warn(error);
      return;
    }
    if (this.ownsState) await writeLedgerSnapshotStats({ ...this.opts, stats: this.stats });
  }

  /** Leaves the previous snapshot in place. */
  async abort(): Promise<void> {
    this.failed = true;
    await this.writer.abort();
  }

  private warn(error: unknown): void {
    this.failed = true;
    this.opts.logger.warn("could not write the ledger snapshot; the next plan reads every result", {
      key: this.key,
      error: error instanceof Error ? error.message : String(error),
    });
  }
}
