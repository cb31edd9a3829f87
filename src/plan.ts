import { randomBytes } from "node:crypto";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { accessOrExistenceError } from "./aws-errors.ts";
import { BacklogTally, scanBacklog } from "./backlog.ts";
import { estimateCost } from "./cost.ts";
import { InvalidRunInputError, RunnerError } from "./errors.ts";
import { readLearnedTps } from "./learned-tps.ts";
import { type LedgerEntry, LedgerSnapshotWriter, type LedgerStats } from "./ledger-index.ts";
import { JsonlObjectWriter } from "./manifest.ts";
import { assertPlanWithinLimits, planListingNote } from "./plan-limits.ts";
import { PlanShardBudgetExceeded } from "./plan-shards.ts";
import { checkRegions } from "./region-check.ts";
import { runFiles } from "./result-keys.ts";
import { writeRoundManifests } from "./rounds.ts";
import { DEFAULT_TPS_PER_UNIT, type RunInput } from "./run-input.ts";
import type { Clock, Logger } from "./runtime.ts";
import type { KeyRange } from "./s3-listing.ts";
import { planScaling, type StrategyComparison } from "./scaling-strategy.ts";
import type {
  BatchContext,
  CostEstimate,
  ImageRef,
  Plan,
  Sizing,
  SkippedObject,
} from "./shapes.ts";
import { addToPendingStats, jsonBytesUpperBound, type PendingStats, sizeRun } from "./sizing.ts";

const RUN_ID = /^[A-Za-z0-9._-]{1,100}$/;

/**
 * A run id that sorts by time and is unique enough for one bucket:
 * `2026-11-25T12-00-00Z-1f3a` (UTC, colons replaced so it is a clean key segment).
 */
export function newRunId(
  nowMs: number,
  random: () => string = () => randomBytes(2).toString("hex"),
): string {
  const stamp = new Date(nowMs)
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replaceAll(":", "-");
  return `${stamp}-${random()}`;
}

/** TPS per unit from the input, else learned by the last run on this model, else the default. */
export async function resolveTpsPerUnit(opts: {
  s3: S3Client;
  input: RunInput;
  logger: Logger;
}): Promise<{ tpsPerUnit: number; tpsSource: Sizing["tpsSource"] }> {
  const { input } = opts;
  if (input.tpsPerUnit !== undefined) return { tpsPerUnit: input.tpsPerUnit, tpsSource: "input" };
  const learned = await readLearnedTps({
    s3: opts.s3,
    bucket: input.resultsBucket,
    resultsPrefix: input.resultsPrefix,
    logger: opts.logger,
    projectVersionArn: input.projectVersionArn,
  });
  if (learned) return { tpsPerUnit: learned.tpsPerUnit, tpsSource: "learned" };
  return { tpsPerUnit: DEFAULT_TPS_PER_UNIT, tpsSource: "default" };
}

/**
 * The Plan step: lists the backlog, writes the manifest and the skipped list
 * while listing (nothing large is held in memory), sizes the run, estimates
 * its cost, refuses a plan outside `PLAN_LIMITS` and writes `plan.json`.
 * Returns the plan, which carries counts and locations, never lists. Starts
 * nothing and bills nothing.
 */
export async function planRun(opts: PlanRunOptions): Promise<Plan> {
  try {
    return await planRunUnmapped(opts);
  } catch (error) {
    throw asRunnerError(error, opts.input);
  }
}

/** Runs a step of the Plan (or of a sharded Plan), mapping S3's access errors as `planRun` does. */
export async function mapPlanErrors<T>(input: RunInput, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw asRunnerError(error, input);
  }
}

export interface PlanRunOptions {
  s3: S3Client;
  input: RunInput;
  executionId: string;
  runId?: string;
  clock: Clock;
  logger: Logger;
  /**
   * Stop with `PlanShardBudgetExceeded` (nothing written, the snapshot kept)
   * once more objects than this are listed: the backlog is then listed by
   * Plan shards instead (`plan-shards.ts`).
   */
  maxListedObjects?: number;
}

/**
 * Missing buckets and denied access become the workflow's error names, so
 * the state machine can tell a configuration problem from a glitch.
 */
function asRunnerError(error: unknown, input: RunInput): unknown {
  if (!input) return error;
  if (error instanceof RunnerError) return error;
  const where = `images s3://${input.imagesBucket}/${input.imagesPrefix}, results s3://${input.resultsBucket}/${input.resultsPrefix}`;
  const detail = error instanceof Error ? error.message : String(error);
  return (
    accessOrExistenceError(error, {
      denied: `the job may not read or write S3 as planned (${where}): ${detail}`,
      missing: `a bucket of the run does not exist (${where}): ${detail}`,
    }) ?? error
  );
}

async function planRunUnmapped(opts: PlanRunOptions): Promise<Plan> {
  const { s3, input, clock, logger } = opts;
  const runId = opts.runId ?? newRunId(clock.now());
  assertRunId(runId);
  const plannedAt = new Date(clock.now()).toISOString();
  await checkRegions({ s3, input, region: await s3.config.region() });
  const { manifest, skippedList } = planLists(input, runId);
  const ledger: LedgerStats = { read: 0, reused: 0 };
  const listingStarted = clock.now();
  const backlog = await writeBacklogLists({
    s3,
    input,
    logger,
    ledger,
    manifest,
    skippedList,
    ...(opts.maxListedObjects !== undefined ? { maxListedObjects: opts.maxListedObjects } : {}),
  });
  const listingNote = planListingNote({
    listingSeconds: (clock.now() - listingStarted) / 1000,
    listedObjects: backlog.tally.counts.listed + ledger.read + ledger.reused,
  });
  if (listingNote) logger.warn(listingNote, { runId });
  return finishPlan({ ...opts, runId, plannedAt, backlog, ledger });
}

/** Refuses a run id that is not a clean key segment. */
export function assertRunId(runId: string): void {
  if (!RUN_ID.test(runId)) {
    throw new InvalidRunInputError(
      `runId must be 1-100 letters, digits, ".", "_" or "-", got ${JSON.stringify(runId)}`,
    );
  }
}

/** Where the run's manifest and skipped list go. */
export function planLists(
  input: RunInput,
  runId: string,
): { manifest: { bucket: string; key: string }; skippedList: { bucket: string; key: string } } {
  return {
    manifest: { bucket: input.resultsBucket, key: runFiles.manifest(input.resultsPrefix, runId) },
    skippedList: { bucket: input.resultsBucket, key: runFiles.skipped(input.resultsPrefix, runId) },
  };
}

/**
 * The Plan's second half, once the backlog is listed and its lists written
 * (by one Plan, or by the shards and the merge step): sizes the run, prices
 * it, refuses it outside `PLAN_LIMITS`, writes `plan.json`. One pipeline,
 * whichever way the backlog was listed.
 */
export async function finishPlan(opts: {
  s3: S3Client;
  input: RunInput;
  executionId: string;
  runId: string;
  plannedAt: string;
  logger: Logger;
  backlog: Backlog;
  ledger: LedgerStats;
  shards?: number;
}): Promise<Plan> {
  const { s3, input, logger, runId, plannedAt, ledger } = opts;
  const tps = await resolveTpsPerUnit({ s3, input, logger });
  const contextWithoutRates = batchContextWithoutRates(input, runId);
  const { manifest, skippedList } = planLists(input, runId);
  const { tally, stats } = opts.backlog;
  // Refused here, before plan.json is written and before anything is started.
  const contextBytes = contextBytesOf(contextWithoutRates);
  const { sizing, cost, strategy } = sizeAndPrice({ input, pending: stats, ...tps, contextBytes });
  const plan: Plan = {
    runId,
    executionId: opts.executionId,
    plannedAt,
    context: {
      ...contextWithoutRates,
      perWorkerTps: sizing.perWorkerTps,
      ...(sizing.perWorkerCeilingTps !== undefined
        ? { ceilingTps: sizing.perWorkerCeilingTps }
        : {}),
      concurrency: sizing.concurrency,
    },
    imagesPrefix: input.imagesPrefix,
    counts: tally.counts,
    pendingByReason: tally.pendingByReason,
    skippedByReason: tally.skippedByReason,
    manifest,
    skippedList,
    mapResults: {
      bucket: input.resultsBucket,
      prefix: runFiles.mapResults(input.resultsPrefix, runId),
    },
    sizing,
    cost,
    strategy,
    toleratedFailurePercentage: input.toleratedFailurePercentage,
    nothingToDo: stats.count === 0,
  };
  // A run that may restart its model measures the rate on a first round
  // before deciding; a model that auto-scales is never restarted.
  if (input.rescale === "restart" && stats.count > 0 && !sizing.maxInferenceUnits) {
    plan.rescale = {
      mode: "restart",
      maxUnits: input.maxUnits,
      maxWorkers: input.maxWorkers,
      lambdaTimeoutSeconds: input.lambdaTimeoutSeconds,
      maxItemBytes: stats.maxItemBytes,
      contextBytes,
      rounds: await writeRoundManifests({
        s3,
        manifest,
        pending: stats.count,
        workers: sizing.workers,
      }),
    };
  }

  await s3.send(
    new PutObjectCommand({
      Bucket: input.resultsBucket,
      Key: runFiles.plan(input.resultsPrefix, runId),
      Body: `${JSON.stringify(plan, null, 2)}\n`,
      ContentType: "application/json",
    }),
  );

  logger.info("planned the run", {
    runId,
    ...(opts.shards !== undefined ? { shards: opts.shards } : {}),
    ...tally.counts,
    pendingByReason: tally.pendingByReason,
    ledgerRead: ledger.read,
    ledgerReused: ledger.reused,
    units: sizing.units,
    ...tps,
    workers: sizing.workers,
    batchSize: sizing.batchSize,
    estimatedCost: cost.chosen.cost,
    strategy: strategy.reason,
  });
  if (sizing.windowNote) logger.warn(sizing.windowNote, { runId });
  return plan;
}

/**
 * Scans the backlog, writing the manifest and the skipped list as it goes
 * (nothing large is held in memory); neither is left half-written. The next
 * ledger snapshot is written as the ledger streams past (the next plan reads
 * only results written after this one), and kept only when the scan succeeds.
 */
async function writeBacklogLists(opts: {
  s3: S3Client;
  input: RunInput;
  logger: Logger;
  ledger: LedgerStats;
  manifest: { bucket: string; key: string };
  skippedList: { bucket: string; key: string };
  maxListedObjects?: number;
}): Promise<Backlog> {
  const { s3, input, logger } = opts;
  const manifestWriter = new JsonlObjectWriter<ImageRef>({ s3, ...opts.manifest });
  const skippedWriter = new JsonlObjectWriter<SkippedObject>({ s3, ...opts.skippedList });
  const snapshot = new LedgerSnapshotWriter({
    s3,
    bucket: input.resultsBucket,
    resultsPrefix: input.resultsPrefix,
    logger,
  });
  try {
    const backlog = await tallyBacklog({
      s3,
      input,
      logger,
      snapshot: snapshot.write,
      ledgerStats: opts.ledger,
      ...(opts.maxListedObjects !== undefined ? { maxListedObjects: opts.maxListedObjects } : {}),
      onPending: (image) => manifestWriter.write(image),
      onSkipped: (skipped) => skippedWriter.write(skipped),
    });
    await Promise.all([manifestWriter.close(), skippedWriter.close()]);
    await snapshot.close();
    return backlog;
  } catch (error) {
    await Promise.all([manifestWriter.abort(), skippedWriter.abort(), snapshot.abort()]);
    throw error;
  }
}

/** The batch context's fields that do not depend on the sizing. */
export function batchContextWithoutRates(
  input: RunInput,
  runId: string,
): Omit<BatchContext, "perWorkerTps" | "ceilingTps" | "concurrency"> {
  return {
    runId,
    projectVersionArn: input.projectVersionArn,
    imagesBucket: input.imagesBucket,
    resultsBucket: input.resultsBucket,
    resultsPrefix: input.resultsPrefix,
    imageMode: input.imageMode,
    ...(input.minConfidence !== undefined ? { minConfidence: input.minConfidence } : {}),
    ...(input.maxResults !== undefined ? { maxResults: input.maxResults } : {}),
  };
}

/** The context's size in a batch's input, measured with the longest rate figures it can carry. */
export function contextBytesOf(
  context: Omit<BatchContext, "perWorkerTps" | "ceilingTps" | "concurrency">,
): number {
  return jsonBytesUpperBound({
    ...context,
    perWorkerTps: 1234.5678901234567,
    ceilingTps: 1234.5678901234567,
    concurrency: 100_000,
  });
}

/** A listed backlog: its counts and what sizing needs of the pending images. */
export interface Backlog {
  tally: BacklogTally;
  stats: PendingStats;
}

/** Scans the backlog, counting it and handing each pending and skipped object on as it is found. */
export async function tallyBacklog(opts: {
  s3: S3Client;
  input: RunInput;
  logger: Logger;
  snapshot?: (entry: LedgerEntry) => Promise<void>;
  ledgerStats?: LedgerStats;
  range?: KeyRange;
  /** Listed objects (images plus ledger entries) past which it stops: `PlanShardBudgetExceeded`. */
  maxListedObjects?: number;
  onPending?: (image: ImageRef) => Promise<void>;
  onSkipped?: (skipped: SkippedObject) => Promise<void>;
}): Promise<Backlog> {
  const tally = new BacklogTally();
  const ledger = opts.ledgerStats ?? { read: 0, reused: 0 };
  const max = opts.maxListedObjects ?? Number.POSITIVE_INFINITY;
  const stats: PendingStats = { count: 0, maxItemBytes: 0 };
  for await (const entry of scanBacklog({ ...opts, ledgerStats: ledger })) {
    tally.add(entry);
    if (tally.counts.listed + ledger.read + ledger.reused > max) {
      throw new PlanShardBudgetExceeded(max);
    }
    if (entry.kind === "pending") {
      addToPendingStats(stats, entry.image);
      await opts.onPending?.(entry.image);
    } else if (entry.kind === "skipped") {
      await opts.onSkipped?.(entry.skipped);
    }
  }
  return { tally, stats };
}

/** Sizes the run and prices it; refuses a plan outside `PLAN_LIMITS` (PlanLimitExceeded). */
export function sizeAndPrice(opts: {
  input: RunInput;
  pending: PendingStats;
  tpsPerUnit: number;
  tpsSource: Sizing["tpsSource"];
  contextBytes: number;
}): { sizing: Sizing; cost: CostEstimate; strategy: StrategyComparison } {
  const { input, pending, tpsPerUnit } = opts;
  // Fixed units against auto-scaling (when maxInferenceUnits allows it): the
  // run is sized for the strategy chosen.
  const { sizing, strategy } = planScaling({
    input,
    pending: pending.count,
    tpsPerUnit,
    size: (scaling) => sizeRun({ ...opts, input: { ...input, ...scaling } }),
  });
  const cost = estimateCost({ sizing, pending: pending.count, input, strategy });
  assertPlanWithinLimits({ sizing, cost, pending: pending.count, input });
  return { sizing, cost, strategy };
}
