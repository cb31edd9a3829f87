import type { S3Client } from "@aws-sdk/client-s3";
import pMap from "p-map";
import { resultsFolder, runFiles } from "../../src/result-keys.ts";
import { normalizeEtag, parseResultRecord } from "../../src/results.ts";
import { getObjectText, parseJsonLines } from "../../src/s3-json.ts";
import { listObjects } from "../../src/s3-listing.ts";
import type { ImageResultRecord, SkippedObject } from "../../src/shapes.ts";

/**
 * Independent reconciliation of a local stack after one or more runs: every
 * object under the images prefix must be in the ledger (a result or a
 * recorded failure with a reason, for the image's CURRENT version) or in a
 * run's skipped list (with a reason), exactly once. Read straight from S3, not
 * from the run's own summary, so it checks the job rather than repeating it.
 *
 * What does not count as done: a result for another version of the image
 * (`stale`), a result object that is not a readable record (`corrupt`), and an
 * `unreadable` record (counted apart: accounted for by this run, but pending
 * again for the next one).
 */

export interface ReconcileInput {
  s3: S3Client;
  imagesBucket: string;
  imagesPrefix: string;
  resultsBucket: string;
  resultsPrefix: string;
  /** Runs whose skipped lists count. */
  runIds: readonly string[];
}

export interface Reconciliation {
  listed: number;
  succeeded: number;
  failed: number;
  /** Images recorded `unreadable` (for their current version). */
  unreadable: number;
  skipped: number;
  /** Listed objects with no ledger entry for their current version, and not skipped. */
  missing: string[];
  /** Listed images whose ledger entry is for another version (another ETag). */
  stale: string[];
  /** Result objects that are not a readable record (by result key). */
  corrupt: string[];
  /** Listed objects both in the ledger and skipped. */
  doubleCounted: string[];
  /** Images with more than one ledger entry. */
  duplicateEntries: string[];
  /** Ledger entries for objects that are not listed. */
  unlisted: string[];
  /** Failures or skips recorded without a reason. */
  unexplained: string[];
  ledger: Map<string, ImageResultRecord>;
  /**
   * True when every listed object is accounted for exactly once, with
   * reasons, for its current version: no stale or corrupt entry.
   */
  exact: boolean;
}

async function readText(s3: S3Client, bucket: string, key: string): Promise<string | undefined> {
  try {
    return await getObjectText({ s3, bucket, key });
  } catch {
    return undefined;
  }
}

export async function reconcile(input: ReconcileInput): Promise<Reconciliation> {
  const { s3 } = input;
  const listed: string[] = [];
  const etags = new Map<string, string>();
  for await (const object of listObjects(s3, {
    bucket: input.imagesBucket,
    prefix: input.imagesPrefix,
  })) {
    listed.push(object.key);
    etags.set(object.key, normalizeEtag(object.etag));
  }
  const entryKeys: string[] = [];
  for await (const object of listObjects(s3, {
    bucket: input.resultsBucket,
    prefix: resultsFolder(input.resultsPrefix),
  })) {
    entryKeys.push(object.key);
  }
  const records = await pMap(
    entryKeys,
    async (key) => ({
      resultKey: key,
      record: parseResultRecord((await readText(s3, input.resultsBucket, key)) ?? ""),
    }),
    { concurrency: 16 },
  );
  const ledger = new Map<string, ImageResultRecord>();
  const duplicateEntries: string[] = [];
  const corrupt: string[] = [];
  for (const { resultKey, record } of records) {
    if (!record) {
      corrupt.push(resultKey);
      continue;
    }
    const key = record.image.key;
    if (ledger.has(key)) duplicateEntries.push(key);
    ledger.set(key, record);
  }
  const skipped = new Map<string, SkippedObject>();
  for (const runId of input.runIds) {
    const text = await readText(
      s3,
      input.resultsBucket,
      runFiles.skipped(input.resultsPrefix, runId),
    );
    for (const entry of parseJsonLines(text ?? "", "the skipped list") as SkippedObject[]) {
      skipped.set(entry.key, entry);
    }
  }

  const result: Reconciliation = {
    listed: listed.length,
    succeeded: 0,
    failed: 0,
    unreadable: 0,
    skipped: 0,
    missing: [],
    stale: [],
    corrupt,
    doubleCounted: [],
    duplicateEntries,
    unlisted: [],
    unexplained: [],
    ledger,
    exact: false,
  };
  const listedSet = new Set(listed);
  for (const key of listed) {
    const entry = ledger.get(key);
    const current = entry && normalizeEtag(entry.image.etag) === etags.get(key);
    if (entry && !current) result.stale.push(key);
    const record = current ? entry : undefined;
    const skip = skipped.get(key);
    if (record && skip) result.doubleCounted.push(key);
    if (!record && !skip) result.missing.push(key);
    if (skip) {
      result.skipped += 1;
      if (!skip.reason) result.unexplained.push(key);
    }
    if (record?.status === "succeeded") result.succeeded += 1;
    if (record?.status === "failed" || record?.status === "unreadable") {
      if (record.status === "failed") result.failed += 1;
      else result.unreadable += 1;
      if (!record.error?.name) result.unexplained.push(key);
    }
  }
  for (const key of ledger.keys()) if (!listedSet.has(key)) result.unlisted.push(key);
  result.exact =
    result.missing.length === 0 &&
    result.doubleCounted.length === 0 &&
    duplicateEntries.length === 0 &&
    result.unlisted.length === 0 &&
    result.unexplained.length === 0 &&
    result.stale.length === 0 &&
    result.corrupt.length === 0 &&
    result.listed === result.succeeded + result.failed + result.unreadable + result.skipped;
  return result;
}
