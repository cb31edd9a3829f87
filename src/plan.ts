import { randomBytes } from "node:crypto";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { accessOrExistenceError } from "./aws-errors.ts";
import { BacklogTally, scanBacklog } from "./backlog.ts";
import { estimateCost } from "./cost.ts";
import { InvalidRunInputError, RunnerError } from "./errors.ts";
import { readLearnedTps } from "./learned-tps.ts";
import { loadLedger, writeLedgerSnapshot } from "./ledger-index.ts";
import { JsonlObjectWriter } from "./manifest.ts";
import { assertPlanWithinLimits } from "./plan-limits.ts";
import { checkRegions } from "./region-check.ts";
import { runFiles } from "./result-keys.ts";
import { DEFAULT_TPS_PER_UNIT, type RunInput } from "./run-input.ts";
import type { Clock, Logger } from "./runtime.ts";
import { planScaling } from "./scaling-strategy.ts";
import type { BatchContext, ImageRef, Plan, Sizing, SkippedObject } from "./shapes.ts";
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

export interface PlanRunOptions {
  s3: S3Client;
  input: RunInput;
  executionId: string;
  runId?: string;
  clock: Clock;
  logger: Logger;
}

/**
 * Missing buckets and denied access become the workflow's error names, so
 * the state machine can tell a configuration problem from a glitch.
 */
function asRunnerError(error: unknown, input: RunInput): unknown {
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
  if (!RUN_ID.test(runId)) {
    throw new InvalidRunInputError(
      `runId must be 1-100 letters, digits, ".", "_" or "-", got ${JSON.stringify(runId)}`,
    );
  }
  const plannedAt = new Date(clock.now()).toISOString();
  await checkRegions({ s3, input, region: await s3.config.region() });
  const { tpsPerUnit, tpsSource } = await resolveTpsPerUnit({ s3, input, logger });

  const contextWithoutRates: Omit<BatchContext, "perWorkerTps" | "ceilingTps" | "concurrency"> = {
    runId,
    projectVersionArn: input.projectVersionArn,
    imagesBucket: input.imagesBucket,
    resultsBucket: input.resultsBucket,
    resultsPrefix: input.resultsPrefix,
    imageMode: input.imageMode,
    ...(input.minConfidence !== undefined ? { minConfidence: input.minConfidence } : {}),
    ...(input.maxResults !== undefined ? { maxResults: input.maxResults } : {}),
  };
  // Measured with the longest rate figures a context can carry.
  const contextBytes = jsonBytesUpperBound({
    ...contextWithoutRates,
    perWorkerTps: 1234.5678901234567,
    ceilingTps: 1234.5678901234567,
    concurrency: 100_000,
  });

  const manifest = {
    bucket: input.resultsBucket,
    key: runFiles.manifest(input.resultsPrefix, runId),
  };
  const skippedList = {
    bucket: input.resultsBucket,
    key: runFiles.skipped(input.resultsPrefix, runId),
  };
  const manifestWriter = new JsonlObjectWriter<ImageRef>({ s3, ...manifest });
  const skippedWriter = new JsonlObjectWriter<SkippedObject>({ s3, ...skippedList });
  const tally = new BacklogTally();
  const stats: PendingStats = { count: 0, maxItemBytes: 0 };
  const ledgerLocation = { s3, bucket: input.resultsBucket, resultsPrefix: input.resultsPrefix };
  const ledger = await loadLedger({ ...ledgerLocation, logger });
  try {
    for await (const entry of scanBacklog({ s3, input, logger, ledger })) {
      tally.add(entry);
      if (entry.kind === "pending") {
        addToPendingStats(stats, entry.image);
        await manifestWriter.write(entry.image);
      } else if (entry.kind === "skipped") {
        await skippedWriter.write(entry.skipped);
      }
    }
    await Promise.all([manifestWriter.close(), skippedWriter.close()]);
  } catch (error) {
    await Promise.all([manifestWriter.abort(), skippedWriter.abort()]);
    throw error;
  }

  // For the next plan: only results written after this one will be read.
  await writeLedgerSnapshot({ ...ledgerLocation, ledger, logger });

  const { sizing, strategy } = planScaling({
    input,
    pending: stats.count,
    tpsPerUnit,
    size: (scaling) =>
      sizeRun({
        pending: stats,
        input: { ...input, ...scaling },
        tpsPerUnit,
        tpsSource,
        contextBytes,
      }),
  });
  const cost = estimateCost({ sizing, pending: stats.count, input });
  // Refused here, before plan.json is written and before anything is started.
  assertPlanWithinLimits({ sizing, cost, pending: stats.count, input });
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
    ...tally.counts,
    pendingByReason: tally.pendingByReason,
    ledgerRead: ledger.read,
    ledgerReused: ledger.reused,
    units: sizing.units,
    tpsPerUnit,
    tpsSource,
    workers: sizing.workers,
    batchSize: sizing.batchSize,
    estimatedCost: cost.chosen.cost,
    strategy: strategy.reason,
  });
  if (sizing.windowNote) logger.warn(sizing.windowNote, { runId });
  return plan;
}
