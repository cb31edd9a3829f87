import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { readLedgerSnapshotStats } from "./ledger-snapshot-stats.ts";
import { resultsFolder } from "./result-keys.ts";
import type { RunInput } from "./run-input.ts";
import type { Logger } from "./runtime.ts";
import { compareKeys, type KeyRange } from "./s3-listing.ts";

/**
 * A sharded Plan: one Plan shard per key range `(b_i, b_i+1]` of the images,
 * each merge-joining its range of the images listing with the matching range
 * of the ledger (results listing and snapshot), as the single Plan does over
 * everything (see `ledger-join.ts`).
 *
 * Why a range of the results matches a range of the images: an image `k`
 * that joins in order has the result key `F + e(k) + ".json"` (F the results
 * folder, e escaping `%` as `%25`). For a boundary `b` holding no `%`, and of
 * which no image key is a prefix, `k <= b` exactly when its result key is
 * `<= F + b`:
 * - `k` and `b` differ first at a byte before either ends: escaping keeps
 *   that byte first (the common part holds no `%`; `%25` starts with `%`);
 * - `b` is a proper prefix of `k`: `F + b` is a proper prefix of the result key;
 * - `k` a prefix of `b` (or equal) cannot be: every image key ends in an image
 *   extension, which `b` does not contain.
 * So a boundary must hold no `%` and no `.jpg`, `.jpeg` or `.png` (any case):
 * `isSafeBoundary`. A `.` alone is harmless (`photos.2026/` is a fine
 * boundary). Images that do not join in order are looked up by key, wherever
 * their result sorts; every result key falls in exactly one range, so the
 * shards' snapshots together hold every entry once.
 */

/** Most shards one Plan splits into: the shard Map's items, each a Lambda. */
export const MAX_PLAN_SHARDS = 1000;

/** Default `planShardObjects`: listed objects (images plus results) one Plan shard takes. */
export const DEFAULT_PLAN_SHARD_OBJECTS = 500_000;

/**
 * `planShardObjects`' range: 2,000,000 take about 780 s at the paper figure
 * (0.39 s per 1,000 listed objects), near a Lambda's 900 s; 10 lets a test
 * shard a few hundred images.
 */
export const PLAN_SHARD_OBJECTS_RANGE = {
  integer: true,
  min: 10,
  max: 2_000_000,
  why: "listed objects per Plan shard; a shard must finish within a Lambda's 900 s",
} as const;

/** How deep the first-run policy looks for folders when a level has just one. */
const MAX_FOLDER_DEPTH = 4;

/** The most folders read per level for cut points. */
const MAX_FOLDERS_LISTED = 100_000;

const IMAGE_EXTENSION_ANYWHERE = /\.(jpe?g|png)/i;

/** One Plan shard: its index (the order of its part of the manifest) and its key range. */
export interface PlanShard extends KeyRange {
  index: number;
}

/** Whether `b` may separate two shards (see the module's comment for why). */
export function isSafeBoundary(b: string): boolean {
  return b !== "" && !b.includes("%") && !IMAGE_EXTENSION_ANYWHERE.test(b);
}

/**
 * A safe boundary at or just before `key` within the images prefix: the key
 * cut at its first `.` or `%` after the prefix; undefined when nothing is left
 * past the prefix or the result is not safe (a prefix holding `%`, say).
 */
export function boundaryAt(key: string, imagesPrefix: string): string | undefined {
  if (!key.startsWith(imagesPrefix)) return undefined;
  const rest = key.slice(imagesPrefix.length);
  const cut = rest.search(/[.%]/);
  const kept = cut === -1 ? rest : rest.slice(0, cut);
  if (kept === "") return undefined;
  const boundary = `${imagesPrefix}${kept}`;
  return isSafeBoundary(boundary) ? boundary : undefined;
}

/**
 * The image-key boundary a ledger key suggests: before its first `%` the
 * escaped key is the image key itself. Digest keys (`_long-keys/`) suggest none.
 */
export function boundaryAtResult(
  resultKey: string,
  resultsPrefix: string,
  imagesPrefix: string,
): string | undefined {
  const folder = resultsFolder(resultsPrefix);
  if (!resultKey.startsWith(folder)) return undefined;
  const escaped = resultKey.slice(folder.length);
  if (escaped.startsWith("_long-keys/")) return undefined;
  return boundaryAt(escaped, imagesPrefix);
}

/** Sorted, distinct, safe boundaries, thinned to at most `shards - 1` evenly spaced ones. */
export function pickBoundaries(candidates: Iterable<string>, shards: number): string[] {
  const distinct = [...new Set([...candidates].filter(isSafeBoundary))].sort(compareKeys);
  const wanted = Math.min(distinct.length, Math.max(0, Math.min(shards, MAX_PLAN_SHARDS) - 1));
  if (wanted === distinct.length) return distinct;
  const picked: string[] = [];
  for (let i = 1; i <= wanted; i += 1) {
    const at = Math.floor((i * distinct.length) / (wanted + 1));
    const boundary = distinct[Math.min(at, distinct.length - 1)] as string;
    if (picked.at(-1) !== boundary) picked.push(boundary);
  }
  return picked;
}

/** The shards the boundaries cut: every key lies in exactly one. */
export function shardRanges(boundaries: readonly string[]): PlanShard[] {
  for (const [i, b] of boundaries.entries()) {
    if (!isSafeBoundary(b)) throw new Error(`unsafe shard boundary ${JSON.stringify(b)}`);
    const previous = boundaries[i - 1];
    if (previous !== undefined && compareKeys(previous, b) >= 0) {
      throw new Error(
        `shard boundaries must ascend: ${JSON.stringify(b)} after ${JSON.stringify(previous)}`,
      );
    }
  }
  return Array.from({ length: boundaries.length + 1 }, (_, index) => ({
    index,
    ...(index > 0 ? { after: boundaries[index - 1] as string } : {}),
    ...(index < boundaries.length ? { upTo: boundaries[index] as string } : {}),
  }));
}

/** The range of the ledger (result keys) that holds the results of a range of images. */
export function resultsRangeOf(resultsPrefix: string, range: KeyRange): KeyRange {
  for (const end of [range.after, range.upTo]) {
    if (end !== undefined && !isSafeBoundary(end)) {
      throw new Error(
        `unsafe shard boundary ${JSON.stringify(end)}: it would break the ordered join`,
      );
    }
  }
  const folder = resultsFolder(resultsPrefix);
  return {
    ...(range.after !== undefined ? { after: `${folder}${range.after}` } : {}),
    ...(range.upTo !== undefined ? { upTo: `${folder}${range.upTo}` } : {}),
  };
}

type ShardSource = Pick<
  RunInput,
  "imagesBucket" | "imagesPrefix" | "resultsBucket" | "resultsPrefix" | "planShardObjects"
>;

/** How the Plan splits its listing, and why. */
export interface ShardDecision {
  /** Empty: one Plan lists everything (today's single Lambda). */
  boundaries: string[];
  reason: string;
}

/**
 * Thrown by a Plan that listed more than its budget (`planShardObjects`):
 * nothing it wrote is kept, and the backlog is listed by Plan shards.
 */
export class PlanShardBudgetExceeded extends Error {
  constructor(readonly budget: number) {
    super(`the backlog is more than planShardObjects ${budget} listed objects`);
    this.name = "PlanShardBudgetExceeded";
  }
}

/**
 * The first, cheap, look at the backlog's size: the last snapshot's stats
 * (entries, evenly spaced keys). When its entries, counted twice (about as
 * many images as results), exceed `planShardObjects`, the shards are cut at
 * its keys, one per `planShardObjects`. Otherwise undefined: the Plan then
 * lists the backlog itself, stopping (`PlanShardBudgetExceeded`) if it passes
 * `planShardObjects`, and `shardsFromFolders` cuts it.
 */
export async function shardsFromSnapshot(opts: {
  s3: S3Client;
  input: ShardSource;
  logger: Logger;
}): Promise<ShardDecision | undefined> {
  const { s3, input, logger } = opts;
  const budget = input.planShardObjects;
  const stats = await readLedgerSnapshotStats({
    s3,
    bucket: input.resultsBucket,
    resultsPrefix: input.resultsPrefix,
    logger,
  });
  const expected = stats ? 2 * stats.entries : 0;
  if (!stats || expected <= budget) return undefined;
  const shards = Math.min(MAX_PLAN_SHARDS, Math.ceil(expected / budget));
  const candidates = stats.samples.flatMap(
    (key) => boundaryAtResult(key, input.resultsPrefix, input.imagesPrefix) ?? [],
  );
  const boundaries = pickBoundaries(candidates, shards);
  if (boundaries.length === 0) return undefined;
  return {
    boundaries,
    reason: `the last snapshot holds ${stats.entries} results (about ${expected} listed objects with the images, more than planShardObjects ${budget}): ${boundaries.length + 1} shards cut at its keys`,
  };
}

/**
 * A backlog found larger than `planShardObjects` with no snapshot to cut at
 * (a first large run): cut at the first level of folders holding more than
 * one (`Delimiter: "/"`), one shard per folder up to `MAX_PLAN_SHARDS`. No
 * boundaries (one flat folder) means one Plan lists everything, with a warning.
 */
export async function shardsFromFolders(opts: {
  s3: S3Client;
  input: ShardSource;
  logger: Logger;
}): Promise<ShardDecision> {
  const { s3, input, logger } = opts;
  const budget = input.planShardObjects;
  const boundaries = await folderBoundaries(s3, input);
  if (boundaries.length === 0) {
    logger.warn(
      "the backlog is larger than one Plan shard takes, but its images sit in one flat folder and no snapshot says where to cut: one Plan lists everything",
      { imagesPrefix: input.imagesPrefix, planShardObjects: budget },
    );
  }
  return {
    boundaries,
    reason: `more than planShardObjects ${budget} listed objects and no snapshot to cut at: ${boundaries.length + 1} shards cut at folders`,
  };
}

/** The first level of folders holding more than one folder, as boundaries (`Delimiter: "/"`). */
async function folderBoundaries(s3: S3Client, input: ShardSource): Promise<string[]> {
  let prefix = input.imagesPrefix;
  for (let depth = 0; depth < MAX_FOLDER_DEPTH; depth += 1) {
    const folders = await listFolders(s3, input.imagesBucket, prefix);
    if (folders.length === 1) {
      prefix = folders[0] as string;
      continue;
    }
    // A folder's own prefix ends the shard before it: the first folder ends only the loose
    // objects sorting before it, so the cuts start at the second.
    const candidates = folders
      .slice(1)
      .flatMap((folder) => boundaryAt(folder, input.imagesPrefix) ?? []);
    return pickBoundaries(candidates, MAX_PLAN_SHARDS);
  }
  return [];
}

async function listFolders(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const folders: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Delimiter: "/",
        ...(prefix === "" ? {} : { Prefix: prefix }),
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    for (const common of page.CommonPrefixes ?? []) {
      if (common.Prefix !== undefined) folders.push(common.Prefix);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token && folders.length < MAX_FOLDERS_LISTED);
  return folders;
}
