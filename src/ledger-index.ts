import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { createGunzip, createGzip } from "node:zlib";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import pMap from "p-map";
import { z } from "zod";
import { isNotFoundError } from "./aws-errors.ts";
import { resultsFolder, stateFiles } from "./result-keys.ts";
import { MAX_RESULT_BYTES, normalizeEtag, parseResultRecord } from "./results.ts";
import type { Logger } from "./runtime.ts";
import { getObjectTextIfExists } from "./s3-json.ts";
import { listObjects } from "./s3-listing.ts";
import type { ResultStatus } from "./shapes.ts";

/**
 * What the Plan knows of each ledger entry: which version of which image it is
 * for and what it says. A listing does not carry a result's user metadata, so
 * the entries are read; to avoid reading every result every week, what was
 * read is kept in a snapshot under `state/` and reused for every result whose
 * ETag and LastModified are still those listed. Only new or changed results
 * are read. A missing or unreadable snapshot only means reading everything.
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

export interface Ledger {
  /** By result key. */
  entries: Map<string, LedgerEntry>;
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

/** The snapshot's entries by result key; empty when there is none or it cannot be read. */
export async function readLedgerSnapshot(opts: {
  s3: S3Client;
  bucket: string;
  resultsPrefix: string;
  logger: Logger;
}): Promise<Map<string, LedgerEntry>> {
  const entries = new Map<string, LedgerEntry>();
  const key = stateFiles.ledgerIndex(opts.resultsPrefix);
  try {
    const response = await opts.s3.send(new GetObjectCommand({ Bucket: opts.bucket, Key: key }));
    const body = response.Body;
    if (!body) return entries;
    const stream =
      body instanceof Readable
        ? body
        : Readable.from([Buffer.from(await body.transformToByteArray())]);
    const lines = createInterface({ input: stream.pipe(createGunzip()), crlfDelay: Infinity });
    for await (const line of lines) {
      if (line.trim() === "") continue;
      const parsed = snapshotLineSchema.safeParse(JSON.parse(line));
      if (!parsed.success) throw new Error(`a line does not match: ${parsed.error.message}`);
      entries.set(parsed.data.k, fromLine(parsed.data));
    }
    return entries;
  } catch (error) {
    if (!isNotFoundError(error)) {
      opts.logger.warn("ledger snapshot unreadable: every result is read", {
        key,
        error: error instanceof Error ? error.message : String(error),
      });
    }
    return new Map();
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

/** Reads one result object into an entry; undefined when it is gone. */
async function readEntry(
  s3: S3Client,
  bucket: string,
  listed: { key: string; etag: string; lastModified: Date; size: number },
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
  const record = parseResultRecord(text);
  if (record) {
    entry.record = {
      imageKey: record.image.key,
      imageEtag: normalizeEtag(record.image.etag),
      imageLastModified: record.image.lastModified,
      status: record.status,
    };
  }
  return entry;
}

/**
 * Every ledger entry under the results folder, with what it says: from the
 * snapshot when the result is unchanged, else read (bounded concurrency).
 */
export async function loadLedger(opts: {
  s3: S3Client;
  bucket: string;
  resultsPrefix: string;
  logger: Logger;
  concurrency?: number;
}): Promise<Ledger> {
  const { s3, bucket } = opts;
  const snapshot = await readLedgerSnapshot(opts);
  const entries = new Map<string, LedgerEntry>();
  const toRead: { key: string; etag: string; lastModified: Date; size: number }[] = [];
  let reused = 0;
  for await (const object of listObjects(s3, {
    bucket,
    prefix: resultsFolder(opts.resultsPrefix),
  })) {
    const known = snapshot.get(object.key);
    if (
      known &&
      known.resultEtag === object.etag &&
      known.resultLastModified === object.lastModified.getTime()
    ) {
      entries.set(object.key, known);
      reused += 1;
    } else {
      toRead.push(object);
    }
  }
  const read = await pMap(toRead, (object) => readEntry(s3, bucket, object), {
    concurrency: opts.concurrency ?? LEDGER_READ_CONCURRENCY,
  });
  for (const entry of read) if (entry) entries.set(entry.resultKey, entry);
  return { entries, read: toRead.length, reused };
}

/**
 * Writes the snapshot for the next Plan (gzip JSON lines, streamed). A failure
 * is logged, not thrown: without a snapshot the next Plan reads every result.
 */
export async function writeLedgerSnapshot(opts: {
  s3: S3Client;
  bucket: string;
  resultsPrefix: string;
  ledger: Ledger;
  logger: Logger;
}): Promise<void> {
  const key = stateFiles.ledgerIndex(opts.resultsPrefix);
  const entries = opts.ledger.entries.values();
  const lines = Readable.from(
    (function* () {
      for (const entry of entries) yield `${JSON.stringify(toLine(entry))}\n`;
    })(),
  );
  try {
    await new Upload({
      client: opts.s3,
      params: {
        Bucket: opts.bucket,
        Key: key,
        Body: lines.pipe(createGzip()),
        ContentType: "application/gzip",
      },
    }).done();
  } catch (error) {
    opts.logger.warn("could not write the ledger snapshot; the next plan reads every result", {
      key,
      error: error instanceof Error ? error.message : String(error),
    });
  }
}
