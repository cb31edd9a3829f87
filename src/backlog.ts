import type { S3Client } from "@aws-sdk/client-s3";
import { pMapIterable } from "p-map";
import {
  type LedgerEntry,
  type LedgerStats,
  ledgerEntries,
  lookupLedgerEntry,
} from "./ledger-index.ts";
import { joinsInOrder, LedgerCursor } from "./ledger-join.ts";
import { resultsRangeOf } from "./plan-shards.ts";
import { jobFolders, resultKeyFor } from "./result-keys.ts";
import { normalizeEtag } from "./results.ts";
import type { RunInput } from "./run-input.ts";
import { type Logger, silentLogger } from "./runtime.ts";
import { inKeyOrder, type KeyRange, type ListedObject, listObjects } from "./s3-listing.ts";
import type { ImageRef, PendingByReason, SkippedObject, SkipReason } from "./shapes.ts";

/** DetectCustomLabels' size limits: an object at exactly the limit is accepted. */
export const IMAGE_LIMITS = {
  /** Image.S3Object: at most 15 MB. */
  s3ObjectMaxBytes: 15 * 1024 * 1024,
  /** Image.Bytes: at most 4 MB. */
  bytesMaxBytes: 4 * 1024 * 1024,
} as const;

const SUPPORTED_EXTENSION = /\.(jpe?g|png)$/i;

/** Where one listed image object stands. */
export type BacklogEntry =
  | { kind: "pending"; image: ImageRef; reason: keyof PendingByReason }
  | { kind: "skipped"; skipped: SkippedObject }
  | { kind: "done"; key: string };

export interface BacklogCounts {
  /** Every object under the image prefix: pending + skipped + alreadyDone. */
  listed: number;
  pending: number;
  skipped: number;
  alreadyDone: number;
}

export interface Backlog {
  pending: ImageRef[];
  skipped: SkippedObject[];
  counts: BacklogCounts;
  skippedByReason: Partial<Record<SkipReason, number>>;
  pendingByReason: PendingByReason;
}

type BacklogSource = Pick<
  RunInput,
  "imagesBucket" | "imagesPrefix" | "resultsBucket" | "resultsPrefix" | "imageMode"
>;

function formatMB(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/**
 * Why an object cannot be analysed, or `undefined` when it is a supported
 * image. Pure: decided from the key and the size alone.
 */
export function skipReasonFor(
  object: Pick<ListedObject, "key" | "size">,
  imageMode: RunInput["imageMode"],
): { reason: SkipReason; detail: string } | undefined {
  const { key, size } = object;
  if (key.endsWith("/"))
    return { reason: "folder-marker", detail: "a folder marker, not an image" };
  if (!SUPPORTED_EXTENSION.test(key)) {
    const dot = key.lastIndexOf(".");
    const extension = dot > key.lastIndexOf("/") ? key.slice(dot) : "";
    return {
      reason: "unsupported-extension",
      detail:
        extension === ""
          ? "no file extension; only .jpg, .jpeg and .png are analysed"
          : `extension ${extension} is not supported; only .jpg, .jpeg and .png are analysed`,
    };
  }
  if (size === 0) return { reason: "empty-object", detail: "the object is empty (0 bytes)" };
  const [limit, mode] =
    imageMode === "Bytes"
      ? [IMAGE_LIMITS.bytesMaxBytes, "Bytes"]
      : [IMAGE_LIMITS.s3ObjectMaxBytes, "S3Object"];
  if (size > limit) {
    return {
      reason: "too-large",
      detail: `${formatMB(size)} (${size} bytes) is over the ${formatMB(limit)} ${mode} limit (${limit} bytes)`,
    };
  }
  return undefined;
}

/**
 * Where an image stands against its ledger entry. Versions are compared, not
 * write times: the entry must record the listed ETag. A result written after
 * the image was replaced may still describe the old bytes, and one for newer
 * bytes recorded under the old ETag is simply redone.
 */
export function ledgerStatusOf(
  entry: LedgerEntry | undefined,
  image: Pick<ListedObject, "key" | "etag">,
): "done" | keyof PendingByReason {
  if (entry === undefined) return "new";
  const record = entry.record;
  if (record === undefined || record.imageKey !== image.key) return "unreadableResult";
  if (record.imageEtag !== normalizeEtag(image.etag)) return "replaced";
  if (record.status === "unreadable") return "unreadableImage";
  return "done";
}

/**
 * The job's own folders that the images prefix contains (images at the bucket
 * root with the results in the same bucket): never part of the backlog.
 */
export function jobFoldersAmongImages(input: BacklogSource): string[] {
  if (input.resultsBucket !== input.imagesBucket) return [];
  return jobFolders(input.resultsPrefix).filter((folder) => folder.startsWith(input.imagesPrefix));
}

/** Parallel lookups of the ledger entries the ordered pass cannot meet. */
export const LEDGER_LOOKUP_CONCURRENCY = 32;

/**
 * Every object under the image prefix (but the job's own folders), classified
 * one by one as it is listed: pending (with why: no result, a result for
 * another version, an unreadable result, or an image that could not be read
 * last time), skipped (with a reason), or already done.
 *
 * Streams, with bounded memory whatever the backlog's size: the images
 * listing and the ledger (results listing plus snapshot) are merge-joined in
 * S3's key order (see `ledger-join.ts`); the few images whose ledger entry
 * sorts elsewhere are looked up by key. `snapshot` receives every ledger
 * entry in key order (the Plan writes the next snapshot from it); `ledgerStats`
 * counts the results read and reused.
 *
 * `range` scans one Plan shard: the images in `(after, upTo]` and the ledger
 * entries in the matching range of result keys (`resultsRangeOf`), so that
 * the shards together scan every image and every entry exactly once.
 */
export async function* scanBacklog(opts: {
  s3: S3Client;
  input: BacklogSource;
  logger?: Logger;
  snapshot?: (entry: LedgerEntry) => Promise<void>;
  ledgerStats?: LedgerStats;
  range?: KeyRange;
}): AsyncGenerator<BacklogEntry> {
  const { s3, input, range } = opts;
  const cursor = new LedgerCursor(
    ledgerEntries({
      s3,
      bucket: input.resultsBucket,
      resultsPrefix: input.resultsPrefix,
      logger: opts.logger ?? silentLogger,
      ...(opts.ledgerStats ? { stats: opts.ledgerStats } : {}),
      ...(opts.snapshot ? { onEntry: opts.snapshot } : {}),
      ...(range ? { range: resultsRangeOf(input.resultsPrefix, range) } : {}),
    }),
  );
  const objects = inKeyOrder(
    listObjects(s3, {
      bucket: input.imagesBucket,
      prefix: input.imagesPrefix,
      exclude: jobFoldersAmongImages(input),
      ...(range ? { range } : {}),
    }),
    "the images listing",
  );
  // Looked-up entries are fetched ahead, in parallel; order is kept.
  const classified = pMapIterable(
    objects,
    async (object) => {
      const skip = skipReasonFor(object, input.imageMode);
      if (skip) return { object, skip };
      const resultKey = resultKeyFor(input.resultsPrefix, object.key);
      if (joinsInOrder(input.resultsPrefix, object.key)) return { object, resultKey };
      const entry = await lookupLedgerEntry(s3, input.resultsBucket, resultKey);
      return { object, resultKey, lookedUp: true, entry };
    },
    { concurrency: LEDGER_LOOKUP_CONCURRENCY },
  );
  try {
    for await (const item of classified) {
      const { object } = item;
      if (item.skip) {
        yield { kind: "skipped", skipped: { key: object.key, size: object.size, ...item.skip } };
        continue;
      }
      const entry = item.lookedUp ? item.entry : await cursor.seek(item.resultKey);
      yield backlogEntryFor(object, ledgerStatusOf(entry, object));
    }
    // The ledger is read to its end, so that the snapshot covers every result.
    await cursor.drain();
  } finally {
    await cursor.close();
  }
}

function backlogEntryFor(
  object: ListedObject,
  status: ReturnType<typeof ledgerStatusOf>,
): BacklogEntry {
  if (status === "done") return { kind: "done", key: object.key };
  return {
    kind: "pending",
    reason: status,
    image: {
      key: object.key,
      size: object.size,
      etag: object.etag,
      lastModified: object.lastModified.toISOString(),
    },
  };
}

/** Running totals of a backlog scan; `listed` always equals the sum of the others. */
export class BacklogTally {
  readonly counts: BacklogCounts = { listed: 0, pending: 0, skipped: 0, alreadyDone: 0 };
  readonly skippedByReason: Partial<Record<SkipReason, number>> = {};
  readonly pendingByReason: PendingByReason = {
    new: 0,
    replaced: 0,
    unreadableResult: 0,
    unreadableImage: 0,
  };

  /** Adds another tally's totals (a Plan shard's) to this one. */
  merge(other: Pick<BacklogTally, "counts" | "skippedByReason" | "pendingByReason">): void {
    for (const field of ["listed", "pending", "skipped", "alreadyDone"] as const) {
      this.counts[field] += other.counts[field];
    }
    for (const [reason, n] of Object.entries(other.pendingByReason)) {
      this.pendingByReason[reason as keyof PendingByReason] += n;
    }
    for (const [reason, n] of Object.entries(other.skippedByReason)) {
      const key = reason as SkipReason;
      this.skippedByReason[key] = (this.skippedByReason[key] ?? 0) + (n ?? 0);
    }
  }

  add(entry: BacklogEntry): void {
    this.counts.listed += 1;
    if (entry.kind === "pending") {
      this.counts.pending += 1;
      this.pendingByReason[entry.reason] += 1;
    } else if (entry.kind === "done") this.counts.alreadyDone += 1;
    else {
      this.counts.skipped += 1;
      const reason = entry.skipped.reason;
      this.skippedByReason[reason] = (this.skippedByReason[reason] ?? 0) + 1;
    }
  }
}

/**
 * The whole backlog in memory: pending and skipped lists with reconciling
 * counts. For large backlogs prefer `scanBacklog`, which streams.
 */
export async function listBacklog(opts: {
  s3: S3Client;
  input: BacklogSource;
  logger?: Logger;
}): Promise<Backlog> {
  const tally = new BacklogTally();
  const pending: ImageRef[] = [];
  const skipped: SkippedObject[] = [];
  for await (const entry of scanBacklog(opts)) {
    tally.add(entry);
    if (entry.kind === "pending") pending.push(entry.image);
    else if (entry.kind === "skipped") skipped.push(entry.skipped);
  }
  return {
    pending,
    skipped,
    counts: tally.counts,
    skippedByReason: tally.skippedByReason,
    pendingByReason: tally.pendingByReason,
  };
}
