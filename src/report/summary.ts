import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { isNotFoundError } from "../aws-errors.ts";
import { readJsonLines } from "../json-lines.ts";
import { type LearnedTps, readLearnedTps, writeLearnedTps } from "../learned-tps.ts";
import { countRunParts, type PartCounts } from "../read-result-parts.ts";
import { runFiles } from "../result-keys.ts";
import type { RoundsState } from "../rounds.ts";
import type { Clock, Logger } from "../runtime.ts";
import type { Plan, SkippedObject } from "../shapes.ts";
import { buildRunSummary } from "./build-summary.ts";
import { nextLearnedTps } from "./capacity.ts";
import { renderReportHtml } from "./html.ts";
import { countFromLedger, type LedgerCounts } from "./ledger-counts.ts";
import { loadBatchOutputs, type MapResults, type ResultWriterDetails } from "./map-results.ts";
import { concatMapResults, findManifests, mergeMapResults } from "./map-runs.ts";
import type {
  CheckInfo,
  ModelInfo,
  RunFailure,
  RunOutcome,
  RunSummary,
  StopInfo,
} from "./run-summary.ts";
import { readRunUnitMetrics, type UnitMetricsOutcome } from "./unit-metrics.ts";

export { buildRunSummary } from "./build-summary.ts";
export { loadBatchOutputs, type ResultWriterDetails } from "./map-results.ts";
export type { RunSummary } from "./run-summary.ts";

/**
 * The workflow state when the Report step runs. On the success path `map`
 * holds the ResultWriter's location; on the failure path (`error` set) the
 * Map may have failed before the state recorded it, so the report looks for
 * the ResultWriter's manifests under the plan's map-results prefix.
 */
export interface ReportState {
  plan: Plan;
  model?: ModelInfo;
  check?: CheckInfo;
  map?: { ResultWriterDetails?: ResultWriterDetails };
  /** The rounds of the Map (one, or two when the run may restart its model) and the restart decision. */
  rounds?: RoundsState;
  /** The stop of a restart with more units (the run's first model session ended there). */
  restartStop?: StopInfo;
  stop?: StopInfo;
  /** The caught error on the failure path (`{ Error, Cause }` as Catch records it). */
  error?: RunFailure;
  /** `$$.Execution` (or just its StartTime), when the workflow passes it. */
  execution?: { StartTime?: string };
}

/** What the Report step returns into the workflow state: small on purpose. */
export interface RunReportResult {
  bucket: string;
  summaryKey: string;
  reportKey: string;
  outcome: RunOutcome;
  reconciled: boolean;
  counts: RunSummary["counts"];
  /** The learned-TPS figure written for the next plan, if any. */
  learnedTps?: { tpsPerUnit: number; measured: boolean };
}

/**
 * Builds the run's summary and report from the workflow state and what the
 * run left in S3, writes `summary.json` and `report.html` into the run's
 * folder, and records the capacity figure for the next plan (see
 * `nextLearnedTps` for when). With `cloudwatch`, the model's unit metrics
 * are read over the run (GetMetricData, the same call on AWS and against the
 * local stack) for the units chart and the measured inference hours.
 */
export async function writeRunReport(opts: {
  s3: S3Client;
  state: ReportState;
  clock: Clock;
  logger: Logger;
  /** Reads the model's unit metrics; without it the units are taken as constant. */
  cloudwatch?: CloudWatchClient;
  /** GetMetricData period (default 60 s, what the model publishes on AWS). */
  metricsPeriodSeconds?: number;
  /** Called with the summary once it is written (metrics are published from it). */
  onSummary?: (summary: RunSummary) => void;
}): Promise<RunReportResult> {
  const { s3, state, clock, logger } = opts;
  const { plan } = state;
  const bucket = plan.context.resultsBucket;
  const prefix = plan.context.resultsPrefix;

  const mapResults = await loadMapResults(s3, state, logger);
  const skipped = await readSkipped(s3, plan, logger);
  const unitMetrics = opts.cloudwatch
    ? await readUnitMetricsOfRun(
        opts.cloudwatch,
        state,
        clock.now(),
        opts.metricsPeriodSeconds ?? 60,
        logger,
      )
    : undefined;
  const ledger = await readLedgerCounts(s3, plan, logger);
  const resultParts = await readPartCounts(s3, plan, logger);
  const summary = buildRunSummary({
    plan,
    batches: mapResults.batches,
    failedBatches: mapResults.failedBatches,
    mapRan: mapResults.found,
    ...(mapResults.mapRunArn ? { mapRunArn: mapResults.mapRunArn } : {}),
    skipped,
    ...(ledger ? { ledger } : {}),
    ...(resultParts ? { resultParts } : {}),
    ...(state.model ? { model: state.model } : {}),
    ...(state.check ? { check: state.check } : {}),
    ...(state.stop ? { stop: state.stop } : {}),
    ...(state.rounds ? { rounds: state.rounds } : {}),
    ...(state.restartStop ? { restartStop: state.restartStop } : {}),
    ...(state.error ? { failure: state.error } : {}),
    ...(unitMetrics ? { unitMetrics } : {}),
    ...(state.execution?.StartTime ? { executionStartedAt: state.execution.StartTime } : {}),
    clock,
  });

  const summaryKey = runFiles.summary(prefix, plan.runId);
  const reportKey = runFiles.report(prefix, plan.runId);
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: summaryKey,
      Body: JSON.stringify(summary, null, 2),
      ContentType: "application/json",
    }),
  );
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: reportKey,
      Body: renderReportHtml(summary),
      ContentType: "text/html; charset=utf-8",
    }),
  );

  opts.onSummary?.(summary);
  const learned = await recordLearnedTps(s3, summary, logger);
  logger.info("run report written", {
    bucket,
    summaryKey,
    reportKey,
    outcome: summary.outcome,
    reconciled: summary.reconciled,
    ...(learned
      ? { learnedTpsPerUnit: learned.tpsPerUnit, learnedMeasured: learned.measured }
      : {}),
  });
  return {
    bucket,
    summaryKey,
    reportKey,
    outcome: summary.outcome,
    reconciled: summary.reconciled,
    counts: summary.counts,
    ...(learned
      ? { learnedTps: { tpsPerUnit: learned.tpsPerUnit, measured: learned.measured !== false } }
      : {}),
  };
}

/**
 * The model's unit metrics from the start request (else the plan) to now:
 * undefined when no model was involved (nothing to do, or it never started).
 */
async function readUnitMetricsOfRun(
  cloudwatch: CloudWatchClient,
  state: ReportState,
  nowMs: number,
  periodSeconds: number,
  logger: Logger,
): Promise<UnitMetricsOutcome | undefined> {
  if (!state.model) return undefined;
  // After a restart with more units, from the first session's start.
  const startMs = Date.parse(
    state.rounds?.beforeRestart?.startRequestedAt ??
      state.model.startRequestedAt ??
      state.plan.plannedAt,
  );
  return readRunUnitMetrics({
    cloudwatch,
    projectVersionArn: state.plan.context.projectVersionArn,
    fromMs: Number.isFinite(startMs) ? startMs : nowMs - 3600_000,
    toMs: nowMs,
    periodSeconds,
    logger,
  });
}

/** The capacity figure this run yields, as the record kept for the next plan. */
export function learnedTpsFromSummary(summary: RunSummary): LearnedTps | undefined {
  const capacity = summary.capacity;
  if (!capacity) return undefined;
  return {
    tpsPerUnit: capacity.tpsPerUnit,
    measured: capacity.kind === "measured",
    basis: capacity.basis,
    sampleSeconds: capacity.sampleSeconds,
    measuredAt: summary.generatedAt,
    runId: summary.runId,
    projectVersionArn: summary.projectVersionArn,
    units: Math.max(1, Math.round(capacity.units)),
    provisionedTps: summary.throughput.provisionedTps,
    accepted: summary.throughput.accepted,
    throttled: summary.throughput.throttled,
  };
}

/**
 * Stores this run's capacity figure when `nextLearnedTps` says so. A failure
 * here is logged, not thrown: the report is already written, and failing the
 * step would fail a run whose images were all processed.
 */
async function recordLearnedTps(
  s3: S3Client,
  summary: RunSummary,
  logger: Logger,
): Promise<LearnedTps | undefined> {
  const current = learnedTpsFromSummary(summary);
  if (!current) return undefined;
  const location = { s3, bucket: summary.results.bucket, resultsPrefix: summary.results.prefix };
  try {
    const previous = await readLearnedTps({
      ...location,
      logger,
      projectVersionArn: summary.projectVersionArn,
    });
    const next = nextLearnedTps(previous, current);
    if (!next) {
      logger.info("learned TPS kept: this run's lower bound does not contradict the measurement", {
        lowerBound: current.tpsPerUnit,
        measured: previous?.tpsPerUnit,
      });
      return undefined;
    }
    await writeLearnedTps({ ...location, learned: next });
    return next;
  } catch (error) {
    logger.warn("could not record the learned TPS", {
      error: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
}

/**
 * The run's counts from the ledger. If the ledger cannot be read, the report
 * falls back on the batches' outputs (and says so in its counts' source)
 * rather than not being written at all.
 */
async function readLedgerCounts(
  s3: S3Client,
  plan: Plan,
  logger: Logger,
): Promise<LedgerCounts | undefined> {
  try {
    return await countFromLedger({ s3, plan });
  } catch (error) {
    logger.warn("could not count from the ledger; counting from the batches' outputs", {
      error: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
}

/**
 * The run's result parts, counted line by line (streamed). If they cannot be
 * read the report says nothing of them rather than not being written.
 */
async function readPartCounts(
  s3: S3Client,
  plan: Plan,
  logger: Logger,
): Promise<PartCounts | undefined> {
  const location = {
    s3,
    bucket: plan.context.resultsBucket,
    resultsPrefix: plan.context.resultsPrefix,
  };
  try {
    return await countRunParts(location, plan.runId);
  } catch (error) {
    logger.warn("could not read the run's result parts", {
      error: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
}

async function readSkipped(s3: S3Client, plan: Plan, logger: Logger): Promise<SkippedObject[]> {
  const skipped: SkippedObject[] = [];
  try {
    for await (const object of readJsonLines<SkippedObject>({
      s3,
      bucket: plan.skippedList.bucket,
      key: plan.skippedList.key,
    })) {
      skipped.push(object);
    }
  } catch (error) {
    // A missing list shows up in the reconciliation (the plan's skipped count
    // against an empty list), which is where a person will look for it.
    if (!isNotFoundError(error)) throw error;
    logger.warn("skipped list not found", { key: plan.skippedList.key });
  }
  return skipped;
}

/**
 * The map's results: from `state.map.ResultWriterDetails` when the Map
 * finished, else from every `manifest.json` under the plan's map-results
 * prefix (a Map that failed still wrote them, but the Catch replaced its output).
 */
async function loadMapResults(
  s3: S3Client,
  state: ReportState,
  logger: Logger,
): Promise<MapResults & { found: boolean }> {
  const finished = state.rounds?.finished ?? [];
  if (!state.error && finished.length > 1) {
    // One map run per round: each holds other images, so they add up.
    const all = await Promise.all(finished.map((round) => loadBatchOutputs(s3, round.mapResults)));
    return { ...concatMapResults(all), found: true };
  }
  const details = state.map?.ResultWriterDetails;
  if (details && !(state.error && finished.length > 0)) {
    return { ...(await loadBatchOutputs(s3, details)), found: true };
  }

  const { bucket, prefix } = state.plan.mapResults;
  const manifests = await findManifests(s3, bucket, prefix);
  if (manifests.length === 0) {
    return { batches: [], batchNames: [], failedBatches: [], found: false };
  }
  logger.info("map results found by listing", { bucket, manifests });
  const all = await Promise.all(
    manifests.map((Key) => loadBatchOutputs(s3, { Bucket: bucket, Key })),
  );
  return { ...mergeMapResults(all), found: true };
}
