import { PassThrough, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import pMap from "p-map";
import { z } from "zod";
import { type BacklogCounts, BacklogTally } from "./backlog.ts";
import { KeySampler } from "./key-sampler.ts";
import { LedgerSnapshotWriter, type LedgerStats } from "./ledger-index.ts";
import { writeLedgerSnapshotStats } from "./ledger-snapshot-stats.ts";
import { JsonlObjectWriter } from "./manifest.ts";
import { type Backlog, finishPlan, planLists, tallyBacklog } from "./plan.ts";
import type { PlanShard } from "./plan-shards.ts";
import { runFiles, stateFiles } from "./result-keys.ts";
import type { RunInput } from "./run-input.ts";
import type { Clock, Logger } from "./runtime.ts";
import { getObjectText } from "./s3-json.ts";
import type { ImageRef, PendingByReason, Plan, SkippedObject, SkipReason } from "./shapes.ts";
import type { PendingStats } from "./sizing.ts";

/**
 * One Plan shard lists its key range (`plan-shards.ts`) exactly as the single
 * Plan lists everything, writing its part of the manifest, of the skipped list
 * and of the next ledger snapshot, and a summary of its counts. The merge step
 * then sums the summaries, joins the parts in shard order (which is key
 * order) into the run's one manifest, skipped list and snapshot, and sizes
 * and prices the run with the Plan's own `finishPlan`.
 */

type ShardFile = Parameters<typeof runFiles.planShardFile>[3];

/** What a shard found: enough to size the run and to write the snapshot's stats. */
export interface PlanShardSummary {
  index: number;
  counts: BacklogCounts;
  pendingByReason: PendingByReason;
  skippedByReason: Partial<Record<SkipReason, number>>;
  pending: PendingStats;
  ledger: LedgerStats;
  /** The shard's part of the next snapshot: false when it could not be written. */
  snapshot: { written: boolean; entries: number; samples: string[] };
  seconds: number;
}

const countsSchema = z.object({
  listed: z.number().int().nonnegative(),
  pending: z.number().int().nonnegative(),
  skipped: z.number().int().nonnegative(),
  alreadyDone: z.number().int().nonnegative(),
});
const summarySchema = z.object({
  index: z.number().int().nonnegative(),
  counts: countsSchema,
  pendingByReason: z.object({
    new: z.number(),
    replaced: z.number(),
    unreadableResult: z.number(),
    unreadableImage: z.number(),
  }),
  skippedByReason: z.record(z.string(), z.number()),
  pending: z.object({ count: z.number(), maxItemBytes: z.number() }),
  ledger: z.object({ read: z.number(), reused: z.number() }),
  snapshot: z.object({
    written: z.boolean(),
    entries: z.number(),
    samples: z.array(z.string()),
  }),
  seconds: z.number(),
});

/** Lists one shard's range and writes its parts and summary; returns the summary. */
export async function runPlanShard(opts: {
  s3: S3Client;
  input: RunInput;
  runId: string;
  shard: PlanShard;
  clock: Clock;
  logger: Logger;
}): Promise<PlanShardSummary> {
  const { s3, input, runId, shard, clock, logger } = opts;
  const started = clock.now();
  const file = (name: ShardFile) => ({
    s3,
    bucket: input.resultsBucket,
    key: runFiles.planShardFile(input.resultsPrefix, runId, shard.index, name),
  });
  const manifest = new JsonlObjectWriter<ImageRef>(file("manifest.jsonl"));
  const skipped = new JsonlObjectWriter<SkippedObject>(file("skipped.jsonl"));
  const snapshot = new LedgerSnapshotWriter({
    s3,
    bucket: input.resultsBucket,
    resultsPrefix: input.resultsPrefix,
    logger,
    key: file("ledger.jsonl.gz").key,
  });
  const ledger: LedgerStats = { read: 0, reused: 0 };
  let backlog: Backlog;
  try {
    backlog = await tallyBacklog({
      s3,
      input,
      logger,
      range: shard,
      snapshot: snapshot.write,
      ledgerStats: ledger,
      onPending: (image) => manifest.write(image),
      onSkipped: (object) => skipped.write(object),
    });
    await Promise.all([manifest.close(), skipped.close()]);
    await snapshot.close();
  } catch (error) {
    await Promise.all([manifest.abort(), skipped.abort(), snapshot.abort()]);
    throw error;
  }
  const summary: PlanShardSummary = {
    index: shard.index,
    counts: backlog.tally.counts,
    pendingByReason: backlog.tally.pendingByReason,
    skippedByReason: backlog.tally.skippedByReason,
    pending: backlog.stats,
    ledger,
    snapshot: { written: snapshot.written, ...snapshot.stats },
    seconds: (clock.now() - started) / 1000,
  };
  await s3.send(
    new PutObjectCommand({
      ...bucketKey(file("summary.json")),
      Body: `${JSON.stringify(summary)}\n`,
      ContentType: "application/json",
    }),
  );
  logger.info("listed a plan shard", {
    runId,
    shard: shard.index,
    ...summary.counts,
    ledgerRead: ledger.read,
    ledgerReused: ledger.reused,
    seconds: summary.seconds,
  });
  return summary;
}

function bucketKey(location: { bucket: string; key: string }) {
  return { Bucket: location.bucket, Key: location.key };
}

/** Reads every shard's summary; a missing one (a shard that did not finish) fails the merge. */
async function readSummaries(
  s3: S3Client,
  input: RunInput,
  runId: string,
  shards: number,
): Promise<PlanShardSummary[]> {
  return pMap(
    Array.from({ length: shards }, (_, index) => index),
    async (index) => {
      const key = runFiles.planShardFile(input.resultsPrefix, runId, index, "summary.json");
      const text = await getObjectText({ s3, bucket: input.resultsBucket, key });
      const summary = summarySchema.parse(JSON.parse(text)) as PlanShardSummary;
      if (summary.index !== index)
        throw new Error(`${key} is the summary of shard ${summary.index}`);
      return summary;
    },
    { concurrency: 16 },
  );
}

/**
 * Streams objects, one after the other, into one new object: a multipart
 * upload of 8 MiB parts (any size of source, no 5 MB minimum per source as
 * UploadPartCopy would need; up to 78 GiB in S3's 10,000 parts). Gzip parts
 * join into one valid gzip file of several members.
 */
export async function concatenateObjects(opts: {
  s3: S3Client;
  bucket: string;
  sources: readonly string[];
  key: string;
  contentType: string;
}): Promise<void> {
  const { s3, bucket } = opts;
  const body = new PassThrough();
  const upload = new Upload({
    client: s3,
    partSize: 8 * 1024 * 1024,
    params: { Bucket: bucket, Key: opts.key, Body: body, ContentType: opts.contentType },
  });
  const done = upload.done();
  try {
    for (const source of opts.sources) {
      const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: source }));
      const stream = response.Body as Readable | undefined;
      if (stream) await pipeline(Readable.from(stream), body, { end: false });
    }
    body.end();
    await done;
  } catch (error) {
    await upload.abort().catch(() => {});
    body.destroy();
    await done.catch(() => {});
    throw error;
  }
}

/**
 * The merge step: sums the shards' counts, joins their parts into the run's
 * manifest and skipped list and (when every shard wrote its part) the next
 * ledger snapshot and its stats, then sizes, prices and writes the plan as a
 * single Plan does.
 */
export async function mergePlanShards(opts: {
  s3: S3Client;
  input: RunInput;
  runId: string;
  executionId: string;
  plannedAt: string;
  shards: number;
  logger: Logger;
}): Promise<Plan> {
  const { s3, input, runId, logger } = opts;
  const summaries = await readSummaries(s3, input, runId, opts.shards);
  const tally = new BacklogTally();
  const stats: PendingStats = { count: 0, maxItemBytes: 0 };
  const ledger: LedgerStats = { read: 0, reused: 0 };
  for (const summary of summaries) {
    tally.merge(summary);
    stats.count += summary.pending.count;
    stats.maxItemBytes = Math.max(stats.maxItemBytes, summary.pending.maxItemBytes);
    ledger.read += summary.ledger.read;
    ledger.reused += summary.ledger.reused;
  }
  const parts = (name: ShardFile) =>
    summaries.map((s) => runFiles.planShardFile(input.resultsPrefix, runId, s.index, name));
  const { manifest, skippedList } = planLists(input, runId);
  const jsonl = "application/x-ndjson";
  await Promise.all([
    concatenateObjects({ s3, ...manifest, sources: parts("manifest.jsonl"), contentType: jsonl }),
    concatenateObjects({ s3, ...skippedList, sources: parts("skipped.jsonl"), contentType: jsonl }),
  ]);
  await mergeSnapshot({ s3, input, logger, summaries, sources: parts("ledger.jsonl.gz") });
  return finishPlan({
    s3,
    input,
    logger,
    runId,
    executionId: opts.executionId,
    plannedAt: opts.plannedAt,
    backlog: { tally, stats },
    ledger,
    shards: summaries.length,
  });
}

/** The next snapshot from the shards' parts; the previous one stays when a part is missing. */
async function mergeSnapshot(opts: {
  s3: S3Client;
  input: RunInput;
  logger: Logger;
  summaries: PlanShardSummary[];
  sources: string[];
}): Promise<void> {
  const { s3, input, logger, summaries } = opts;
  if (!summaries.every((s) => s.snapshot.written)) {
    logger.warn(
      "a plan shard could not write its part of the ledger snapshot: the previous one stays",
    );
    return;
  }
  const key = stateFiles.ledgerIndex(input.resultsPrefix);
  try {
    await concatenateObjects({
      s3,
      bucket: input.resultsBucket,
      sources: opts.sources,
      key,
      contentType: "application/gzip",
    });
  } catch (error) {
    logger.warn("could not write the ledger snapshot; the next plan reads every result", {
      key,
      error: error instanceof Error ? error.message : String(error),
    });
    return;
  }
  const sampler = new KeySampler();
  for (const summary of summaries)
    for (const sample of summary.snapshot.samples) sampler.add(sample);
  await writeLedgerSnapshotStats({
    s3,
    bucket: input.resultsBucket,
    resultsPrefix: input.resultsPrefix,
    logger,
    stats: {
      entries: summaries.reduce((n, s) => n + s.snapshot.entries, 0),
      samples: sampler.samples,
    },
  });
}
