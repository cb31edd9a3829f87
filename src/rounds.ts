/**
 * The backlog in rounds. A run processes its manifest as one round, unless it
 * may restart its model (`rescale: "restart"`): then the plan splits the
 * manifest into a first round, which measures the rate the model really
 * serves, and the rest. After each round the workflow's EvaluateRound step
 * records where the round's results are and, after the first, decides
 * whether to restart the model with more units before the rest (see
 * `rescale.ts`). A round is a list of images no other round holds, so no
 * image is analysed twice; the ledger makes a retried batch skip what it
 * already wrote.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { InvalidRunInputError } from "./errors.ts";
import { readJsonLines } from "./json-lines.ts";
import { JsonlObjectWriter } from "./manifest.ts";
import { loadBatchOutputs, type ResultWriterDetails } from "./report/map-results.ts";
import { decideRescale, type RescaleDecision } from "./rescale.ts";
import { RUN_INPUT_RANGES } from "./run-input.ts";
import type { Clock, Logger } from "./runtime.ts";
import type { FinishedRound, ImageList, ImageRef, Plan, Round } from "./shapes.ts";
import { sizeRun } from "./sizing.ts";

/** The first round's share of the backlog: enough batches to measure a rate, early enough to act on it. */
export const FIRST_ROUND_SHARE = 0.2;

/** The rounds' progress, in the workflow state at `$.rounds`. */
export interface RoundsState {
  /** The round the Map runs next (or has just run). */
  current: Round;
  finished: FinishedRound[];
  /** What the workflow does next: the next round, a restart before it, or the end. */
  next: "process" | "restart" | "done";
  restarts: number;
  /** The decision taken after the first round (`rescale: "restart"` runs only). */
  decision?: RescaleDecision;
  /** The model as it ran before the restart: its hours are this run's too. */
  beforeRestart?: { startRequestedAt?: string; units: number };
}

/** Images in the first round: a share of the backlog, at least one per worker, never all of it but when it is small. */
export function firstRoundImages(pending: number, workers: number): number {
  if (pending <= 0) return 0;
  return Math.min(pending, Math.max(workers, Math.ceil(pending * FIRST_ROUND_SHARE)));
}

/** `runs/<id>/manifest.jsonl` -> `runs/<id>/manifest-round-2.jsonl`. */
export function roundManifestKey(manifestKey: string, index: number): string {
  return `${manifestKey.replace(/\.jsonl$/, "")}-round-${index}.jsonl`;
}

/**
 * Splits the written manifest into the first round and the rest, streamed
 * (the manifest is never held in memory). One round when the first would
 * hold everything.
 */
export async function writeRoundManifests(opts: {
  s3: S3Client;
  manifest: { bucket: string; key: string };
  pending: number;
  workers: number;
}): Promise<ImageList[]> {
  const { s3, manifest, pending } = opts;
  const first = firstRoundImages(pending, opts.workers);
  if (first >= pending) return [{ manifest, images: pending }];
  const lists = [1, 2].map((index) => ({
    manifest: { bucket: manifest.bucket, key: roundManifestKey(manifest.key, index) },
    images: 0,
  })) as [ImageList, ImageList];
  const writers = lists.map((list) => new JsonlObjectWriter<ImageRef>({ s3, ...list.manifest }));
  try {
    for await (const image of readJsonLines<ImageRef>({ s3, ...manifest })) {
      const list = lists[0].images < first ? 0 : 1;
      await writers[list]?.write(image);
      lists[list].images += 1;
    }
    await Promise.all(writers.map((writer) => writer.close()));
  } catch (error) {
    await Promise.all(writers.map((writer) => writer.abort()));
    throw error;
  }
  return lists;
}

/** The run's image lists: the plan's rounds, or the whole manifest as one. */
export function roundLists(plan: Plan): ImageList[] {
  return plan.rescale?.rounds ?? [{ manifest: plan.manifest, images: plan.counts.pending }];
}

/**
 * Round `index` (1-based) with `units` at `tpsPerUnit`. A one-round run is
 * the plan as sized; a round of a rescaling run is sized for its own images
 * and units, by the same rules.
 */
export function roundOf(plan: Plan, index: number, units: number, tpsPerUnit: number): Round {
  const lists = roundLists(plan);
  const list = lists[index - 1];
  if (!list) {
    throw new InvalidRunInputError(`round ${index} does not exist: the plan has ${lists.length}`);
  }
  const base = { ...list, index, of: lists.length, units, tpsPerUnit };
  const { rescale, sizing } = plan;
  if (!rescale) {
    return {
      ...base,
      workers: sizing.workers,
      batchSize: sizing.batchSize,
      context: plan.context,
    };
  }
  const sized = sizeRun({
    pending: { count: list.images, maxItemBytes: rescale.maxItemBytes },
    input: {
      targetWindowMinutes: sizing.targetWindowMinutes,
      minUnits: units,
      maxUnits: units,
      startupMinutes: sizing.startupSeconds / 60,
      stopMinutes: (sizing.stopSeconds ?? 0) / 60,
      expectedLatencyMs: sizing.expectedLatencyMs,
      lambdaTimeoutSeconds: rescale.lambdaTimeoutSeconds,
      maxWorkers: rescale.maxWorkers,
    },
    tpsPerUnit,
    tpsSource: sizing.tpsSource,
    contextBytes: rescale.contextBytes,
  });
  return {
    ...base,
    workers: sized.workers,
    batchSize: sized.batchSize,
    context: { ...plan.context, perWorkerTps: sized.perWorkerTps, concurrency: sized.concurrency },
  };
}

/** The rounds state the Plan step starts the workflow with. */
export function firstRounds(plan: Plan): RoundsState {
  return {
    current: roundOf(plan, 1, plan.sizing.units, plan.sizing.tpsPerUnit),
    finished: [],
    next: "process",
    restarts: 0,
  };
}

/** The workflow state EvaluateRound reads (the fields it uses). */
export interface EvaluateRoundState {
  plan: Plan;
  rounds: RoundsState;
  map?: { ResultWriterDetails?: ResultWriterDetails };
  model?: { owned: boolean; startRequestedAt?: string; units: number };
  check?: { checkedAt?: string };
}

const epoch = (iso: string | undefined) => (iso === undefined ? Number.NaN : Date.parse(iso));

/**
 * After a round: records it, and says what comes next. After the first
 * round of a rescaling run, the rate it measured decides whether the model
 * is restarted with more units for the rest.
 */
export async function evaluateRound(
  state: EvaluateRoundState,
  { s3, clock, logger }: { s3: S3Client; clock: Clock; logger: Logger },
): Promise<RoundsState> {
  const { plan, rounds } = state;
  const details = state.map?.ResultWriterDetails;
  if (!details) {
    throw new InvalidRunInputError("EvaluateRound needs the Map's ResultWriterDetails at $.map");
  }
  const { current } = rounds;
  const results = await loadBatchOutputs(s3, details);
  const processed = results.batches.reduce((sum, batch) => sum + batch.items, 0);
  const now = clock.now();
  // The first round began when the model was seen RUNNING; later ones when the one before ended.
  const startedAt = current.index === 1 ? state.check?.checkedAt : rounds.finished.at(-1)?.endedAt;
  const finished: FinishedRound[] = [
    ...rounds.finished,
    {
      index: current.index,
      images: current.images,
      units: current.units,
      processed,
      ...(startedAt ? { startedAt } : {}),
      endedAt: new Date(now).toISOString(),
      mapResults: details,
    },
  ];
  if (current.index >= current.of) return { ...rounds, finished, next: "done" };

  const started = epoch(startedAt);
  const elapsedSeconds = (now - started) / 1000;
  const rate = Number.isFinite(started) && elapsedSeconds > 0 ? processed / elapsedSeconds : 0;
  const startRequested = epoch(state.model?.startRequestedAt);
  const seenRunning = epoch(state.check?.checkedAt);
  const measuredStart = (seenRunning - startRequested) / 1000;
  const next = roundLists(plan)[current.index] as ImageList;
  const decision = decideRescale({
    mode: plan.rescale ? plan.rescale.mode : "never",
    units: current.units,
    maxUnits: plan.rescale?.maxUnits ?? current.units,
    autoScaling: plan.sizing.maxInferenceUnits !== undefined,
    owned: state.model?.owned === true,
    remainingImages: next.images,
    measuredImagesPerSecond: rate,
    nowMs: now,
    deadlineMs: started + plan.sizing.targetWindowMinutes * 60_000,
    restartSeconds:
      Number.isFinite(measuredStart) && measuredStart >= 0
        ? measuredStart
        : plan.sizing.startupSeconds,
    pricePerUnitHour: plan.cost.pricePerUnitHour,
  });
  logger.info("round evaluated", {
    round: current.index,
    processed,
    imagesPerSecond: rate,
    restart: decision.restart,
    reason: decision.reason,
    units: decision.units,
  });
  // After a restart the rest is paced at the rate each unit was measured to
  // serve (within the run input's range), not the plan's guess.
  const { min, max } = RUN_INPUT_RANGES.tpsPerUnit;
  const tpsPerUnit = decision.restart
    ? Math.min(max, Math.max(min, rate / current.units))
    : current.tpsPerUnit;
  return {
    current: roundOf(plan, current.index + 1, decision.units, tpsPerUnit),
    finished,
    next: decision.restart ? "restart" : "process",
    restarts: rounds.restarts + (decision.restart ? 1 : 0),
    decision,
    ...(decision.restart && state.model
      ? {
          beforeRestart: {
            ...(state.model.startRequestedAt
              ? { startRequestedAt: state.model.startRequestedAt }
              : {}),
            units: state.model.units,
          },
        }
      : rounds.beforeRestart
        ? { beforeRestart: rounds.beforeRestart }
        : {}),
  };
}
