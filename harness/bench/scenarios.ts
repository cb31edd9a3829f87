import { loadavg } from "node:os";
import { learnedTpsFromSummary } from "../../src/report/summary.ts";
import type { TimelineSecond } from "../local/emulator/index.ts";
import { type LocalStack, startLocalStack } from "../local/local-stack.ts";
import { type BaselineRun, runBaseline } from "./baselines.ts";
import {
  availableUtilization,
  callCounts,
  idleTailSeconds,
  minimumUnitSeconds,
  type RunFigures,
  ratio,
  runFigures,
  settleSeconds,
  utilization,
} from "./figures.ts";
import {
  ensureImages,
  type PipelineRun,
  runPipeline,
  waitForSettledModel,
} from "./pipeline-run.ts";
import { mainThreadCpuMs } from "./thread-cpu.ts";

/** One runner's figures in a scenario (ours or a baseline), all measured on the emulator. */
export interface RunnerFigures {
  runner: string;
  images: number;
  succeeded: number;
  failed: number;
  units: number;
  provisionedTps: number;
  /** From the start request to the stop request. */
  timeToDoneSeconds: number;
  /** Set when the runner did only part of the images: its time for all of them at its rate. */
  extrapolatedTimeToDoneSeconds?: number;
  utilization?: number;
  acceptedPerSecond?: number;
  calls: number;
  throttled: number;
  throttleRatio: number;
  /** Calls that did no work (throttled). */
  wastedCalls: number;
  idleTailSeconds?: number;
  unitSeconds: number;
  minimumUnitSeconds: number;
  costRatio?: number;
  costUsd: number;
  /** The RESULT line's figures (what a baseline cannot yield is left out). */
  result: RunFigures;
}

export interface BenchSettings {
  /** Quick is a smoke run of every scenario; its figures are not the full bench's. */
  mode: "full" | "quick";
  /** Images in the pipeline scenarios. */
  images: number;
  /** What one unit serves in the emulator (and the plan assumes). */
  tpsPerUnit: number;
  units: number;
  latencyMs: number;
  latencyJitterMs: number;
  startDelayMs: number;
  stopDelayMs: number;
  /** The naive loop analyses at most this many images (its time for all is extrapolated). */
  naiveLimit: number;
  /** The fixed concurrency of baseline (b). */
  fixedConcurrency: number;
  /** Images in the orchestration-ceiling scenario. */
  ceilingImages: number;
  /** The image counts the misplan scenario runs its three cases at. */
  misplanImages: readonly number[];
  dataDirectory: string;
}

/**
 * 5 TPS per unit is the figure AWS documents, and keeps 4 units (20 TPS)
 * well under what the whole local pipeline can drive on a small shared
 * machine (scenario 4), so the figures measure rate control, not the CPU.
 */
export const FULL_SETTINGS: Omit<BenchSettings, "dataDirectory"> = {
  mode: "full",
  images: 6000,
  tpsPerUnit: 5,
  units: 4,
  latencyMs: 100,
  latencyJitterMs: 30,
  startDelayMs: 3000,
  stopDelayMs: 1000,
  naiveLimit: 300,
  fixedConcurrency: 64,
  // The same images as the other scenarios: nothing more to seed.
  ceilingImages: 6000,
  misplanImages: [1200, 6000],
};

/**
 * A smoke run of every scenario within 5 minutes on 2 cores (bench-plan.ts
 * sizes it): fewer images, and 2 units of 10 TPS so that the runs on one unit
 * (auto-scaling, strategies) serve half the capacity rather than a quarter,
 * with a 1 s start-up. The pipeline's peak stays 20 TPS (28 for misplan-fast),
 * as in the full bench, so a loaded CPU distorts it no more.
 */
export const QUICK_SETTINGS: Omit<BenchSettings, "dataDirectory"> = {
  ...FULL_SETTINGS,
  mode: "quick",
  images: 180,
  tpsPerUnit: 10,
  units: 2,
  startDelayMs: 1000,
  stopDelayMs: 500,
  naiveLimit: 50,
  ceilingImages: 180,
  misplanImages: [180],
};

export const imagesPrefix = (count: number) => `bench-${count}/`;
export const resultsPrefix = (scenario: string) => `bench-results/${scenario}-${Date.now()}/`;

export async function withStack<T>(
  settings: BenchSettings,
  emulator: Record<string, number>,
  use: (stack: LocalStack) => Promise<T>,
): Promise<T> {
  const stack = await startLocalStack({
    dataDirectory: settings.dataDirectory,
    emulator: {
      tpsPerUnit: settings.tpsPerUnit,
      latencyMs: settings.latencyMs,
      latencyJitterMs: settings.latencyJitterMs,
      startDelayMs: settings.startDelayMs,
      stopDelayMs: settings.stopDelayMs,
      ...emulator,
    },
  });
  try {
    return await use(stack);
  } finally {
    await stack.close();
  }
}

function minimumFor(settings: BenchSettings, images: number, units: number, tpsPerUnit: number) {
  return minimumUnitSeconds({
    images,
    units,
    tpsPerUnit,
    startupSeconds: settings.startDelayMs / 1000,
    stopSeconds: settings.stopDelayMs / 1000,
  });
}

/** Our pipeline's figures from one run. */
export function pipelineFigures(
  settings: BenchSettings,
  run: PipelineRun,
  runner = "this project",
): RunnerFigures {
  const { phases, timeline } = run;
  const provisionedTps = run.units * run.tpsPerUnit;
  const counts = callCounts(timeline);
  const span =
    phases.mapStartedAt && phases.mapEndedAt
      ? { from: phases.mapStartedAt, to: phases.mapEndedAt }
      : undefined;
  const used = span ? utilization(timeline, span, provisionedTps) : undefined;
  const minimum = minimumFor(settings, run.images, run.units, run.tpsPerUnit);
  const plan = run.job.plan;
  const learned = run.job.summary ? learnedTpsFromSummary(run.job.summary) : undefined;
  return {
    runner,
    images: run.images,
    succeeded: run.succeeded,
    failed: run.failed,
    units: run.units,
    provisionedTps,
    timeToDoneSeconds: ((phases.stopRequestedAt ?? phases.endedAt) - phases.startedAt) / 1000,
    ...(used ? { utilization: used.ratio, acceptedPerSecond: used.acceptedPerSecond } : {}),
    calls: counts.calls,
    throttled: counts.throttled,
    throttleRatio: counts.throttleRatio,
    wastedCalls: counts.throttled,
    ...(phases.stopRequestedAt
      ? { idleTailSeconds: idleTailSeconds(timeline, phases.stopRequestedAt) }
      : {}),
    unitSeconds: run.unitSeconds,
    minimumUnitSeconds: minimum,
    costRatio: ratio(run.unitSeconds, minimum),
    costUsd: run.cost,
    result: runFigures({
      timeline,
      map: span ?? { from: 0, to: 0 },
      capacityTps: provisionedTps,
      tailShare: run.job.summary?.throughput.tail?.share,
      billedUnitSeconds: run.unitSeconds,
      estimatedUnitSeconds: plan ? plan.cost.chosen.durationSeconds * plan.sizing.units : undefined,
      learnedTpsPerUnit: learned?.tpsPerUnit,
      learnedMeasured: learned ? learned.measured !== false : undefined,
      trueTpsPerUnit: run.tpsPerUnit,
    }),
  };
}

function baselineFigures(
  settings: BenchSettings,
  stack: LocalStack,
  run: BaselineRun,
  runner: string,
  units: number,
  totalImages: number,
): RunnerFigures {
  const timeline = stack.emulator.admin.timeline(stack.projectVersionArn);
  const billing = stack.emulator.admin.billing(stack.projectVersionArn);
  const counts = callCounts(timeline);
  const provisionedTps = units * settings.tpsPerUnit;
  const used = utilization(timeline, { from: run.runningAt, to: run.lastDoneAt }, provisionedTps);
  const minimum = minimumFor(settings, run.images, units, settings.tpsPerUnit);
  const processingSeconds = (run.stopRequestedAt - run.runningAt) / 1000;
  const partial = run.images < totalImages && run.succeeded > 0;
  return {
    runner,
    images: run.images,
    succeeded: run.succeeded,
    failed: run.failed,
    units,
    provisionedTps,
    timeToDoneSeconds: (run.stopRequestedAt - run.startRequestedAt) / 1000,
    ...(partial
      ? {
          extrapolatedTimeToDoneSeconds:
            (run.runningAt - run.startRequestedAt) / 1000 +
            (processingSeconds * totalImages) / run.succeeded,
        }
      : {}),
    utilization: used.ratio,
    acceptedPerSecond: used.acceptedPerSecond,
    calls: counts.calls,
    throttled: counts.throttled,
    throttleRatio: counts.throttleRatio,
    wastedCalls: counts.throttled,
    idleTailSeconds: idleTailSeconds(timeline, run.stopRequestedAt),
    unitSeconds: billing.unitSeconds,
    minimumUnitSeconds: minimum,
    costRatio: ratio(billing.unitSeconds, minimum),
    costUsd: billing.cost,
    // No plan, no batches, nothing learned: utilization and throttling only.
    result: { utilization: used.ratio, throttled: counts.throttleRatio },
  };
}

export interface SaturationResult {
  ours: RunnerFigures;
  naive: RunnerFigures;
  fixedConcurrency: RunnerFigures;
  /** Ours against each baseline: time-to-done and billed unit-seconds, baseline / ours. */
  speedupVsNaive?: number;
  speedupVsFixed?: number;
  costVsNaive?: number;
  costVsFixed?: number;
  timeline: TimelineSecond[];
}

/** Scenarios 1 and 2: our pipeline at saturation, then both baselines, same settings and images. */
export async function saturation(settings: BenchSettings): Promise<SaturationResult> {
  const prefix = imagesPrefix(settings.images);
  const emulator = {};
  const run = await withStack(settings, emulator, async (stack) => {
    await ensureImages(stack, prefix, settings.images);
    return runPipeline({
      stack,
      imagesPrefix: prefix,
      resultsPrefix: resultsPrefix("saturation"),
      input: {
        tpsPerUnit: settings.tpsPerUnit,
        minUnits: settings.units,
        maxUnits: settings.units,
      },
    });
  });
  const ours = pipelineFigures(settings, run);
  const baseline = (runner: string, units: number, concurrency: number, limit?: number) =>
    withStack(settings, emulator, async (stack) => {
      const result = await runBaseline({
        stack,
        imagesPrefix: prefix,
        resultsPrefix: resultsPrefix(runner),
        units,
        concurrency,
        ...(limit ? { limit } : {}),
      });
      await waitForSettledModel(stack);
      return baselineFigures(settings, stack, result, runner, units, settings.images);
    });
  const naive = await baseline("naive loop", 1, 1, settings.naiveLimit);
  const fixedConcurrency = await baseline(
    `fixed concurrency ${settings.fixedConcurrency}`,
    settings.units,
    settings.fixedConcurrency,
  );
  return {
    ours,
    naive,
    fixedConcurrency,
    speedupVsNaive: ratio(
      naive.extrapolatedTimeToDoneSeconds ?? naive.timeToDoneSeconds,
      ours.timeToDoneSeconds,
    ),
    // Only comparable when the baseline finished every image.
    ...(fixedConcurrency.succeeded === fixedConcurrency.images
      ? { speedupVsFixed: ratio(fixedConcurrency.timeToDoneSeconds, ours.timeToDoneSeconds) }
      : {}),
    costVsNaive: ratio(
      naive.unitSeconds * (settings.images / Math.max(1, naive.succeeded)),
      ours.unitSeconds,
    ),
    costVsFixed: ratio(fixedConcurrency.unitSeconds, ours.unitSeconds),
    timeline: run.timeline,
  };
}

/** One stretch of a capacity-change run. */
export interface Segment {
  name: string;
  from: number;
  to: number;
  capacityUtilization: number;
  /** Seconds until accepted calls held >= 90 % of capacity for 3 s; absent if never. */
  settleSeconds?: number;
}

export interface CapacityResult {
  name: string;
  figures: RunnerFigures;
  segments: Segment[];
  timeline: TimelineSecond[];
}

/** The capacity a second offered: in-service units x TPS per unit. */
const capacityOf = (tpsPerUnit: number) => (second: TimelineSecond) =>
  second.inServiceUnits * tpsPerUnit;

function segments(
  run: PipelineRun,
  tpsPerUnit: number,
  changes: { name: string; at: number }[],
): Segment[] {
  const end = run.phases.mapEndedAt ?? run.phases.endedAt;
  const capacity = capacityOf(tpsPerUnit);
  return changes.map((change, index) => {
    const to = changes[index + 1]?.at ?? end;
    const settle = settleSeconds(run.timeline, change.at, capacity, { until: to });
    return {
      name: change.name,
      from: change.at,
      to,
      capacityUtilization: availableUtilization(run.timeline, { from: change.at, to }, capacity)
        .ratio,
      ...(settle === undefined ? {} : { settleSeconds: settle }),
    };
  });
}

/** Scenario 3a: an Availability Zone (half the units) lost a third of the way in, restored at two thirds. */
export async function zoneLoss(settings: BenchSettings): Promise<CapacityResult> {
  const prefix = imagesPrefix(settings.images);
  const expectedSeconds = settings.images / (settings.units * settings.tpsPerUnit);
  const changes: { name: string; at: number }[] = [];
  const run = await withStack(settings, { availabilityZones: 2 }, async (stack) => {
    await ensureImages(stack, prefix, settings.images);
    const admin = stack.emulator.admin;
    const zone = admin.state().availabilityZones[0]?.name ?? "";
    return runPipeline({
      stack,
      imagesPrefix: prefix,
      resultsPrefix: resultsPrefix("zone-loss"),
      input: {
        tpsPerUnit: settings.tpsPerUnit,
        minUnits: settings.units,
        maxUnits: settings.units,
      },
      onMapStarted: (at) => {
        changes.push({ name: "full capacity", at });
        setTimeout(
          () => {
            admin.failZone(zone);
            changes.push({ name: "zone lost (half the units)", at: Date.now() });
          },
          (expectedSeconds * 1000) / 3,
        ).unref();
        setTimeout(
          () => {
            admin.restoreZone(zone);
            changes.push({ name: "zone restored", at: Date.now() });
          },
          (expectedSeconds * 2000) / 3,
        ).unref();
      },
    });
  });
  return {
    name: "zone loss",
    figures: pipelineFigures(settings, run),
    segments: segments(run, settings.tpsPerUnit, changes),
    timeline: run.timeline,
  };
}

/** Scenario 3b: auto-scaling from 1 to at most `units` units. */
export async function autoScaling(settings: BenchSettings): Promise<CapacityResult> {
  const prefix = imagesPrefix(settings.images);
  const run = await withStack(settings, {}, async (stack) => {
    await ensureImages(stack, prefix, settings.images);
    return runPipeline({
      stack,
      imagesPrefix: prefix,
      resultsPrefix: resultsPrefix("auto-scaling"),
      input: {
        tpsPerUnit: settings.tpsPerUnit,
        minUnits: 1,
        maxUnits: settings.units,
        maxInferenceUnits: settings.units,
      },
    });
  });
  // A segment per change of in-service units during the map run.
  const changes: { name: string; at: number }[] = [];
  let units = -1;
  for (const second of run.timeline) {
    const inMap =
      second.t * 1000 >= (run.phases.mapStartedAt ?? 0) &&
      second.t * 1000 < (run.phases.mapEndedAt ?? 0);
    if (inMap && second.inServiceUnits !== units) {
      units = second.inServiceUnits;
      changes.push({ name: `${units} unit(s) in service`, at: second.t * 1000 });
    }
  }
  return {
    name: "auto-scaling",
    figures: pipelineFigures(settings, run),
    segments: segments(run, settings.tpsPerUnit, changes),
    timeline: run.timeline,
  };
}

export interface CeilingResult {
  images: number;
  imagesPerSecond: number;
  mapSeconds: number;
  cpuSeconds: number;
  /** CPU seconds / wall seconds of the map run (2 = both cores busy). */
  cpuPerWallSecond: number;
  cpuMsPerImage: number;
  /** The main thread's share of it (Linux only): the rate on a quiet machine is at most 1,000 / this. */
  mainThreadMsPerImage?: number;
  peakRssMb: number;
  loadAverage: number[];
}

/** Scenario 4: provisioned TPS far above what the machine can drive, latency 0. */
export async function orchestrationCeiling(settings: BenchSettings): Promise<CeilingResult> {
  const prefix = imagesPrefix(settings.ceilingImages);
  const tpsPerUnit = 1000;
  return withStack(settings, { tpsPerUnit, latencyMs: 0, latencyJitterMs: 0 }, async (stack) => {
    await ensureImages(stack, prefix, settings.ceilingImages);
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 100);
    let cpuAtMapStart: NodeJS.CpuUsage | undefined;
    let cpu: NodeJS.CpuUsage | undefined;
    let mainAtMapStart: number | undefined;
    let mainMs: number | undefined;
    try {
      const run = await runPipeline({
        stack,
        imagesPrefix: prefix,
        resultsPrefix: resultsPrefix("ceiling"),
        input: { tpsPerUnit, minUnits: settings.units, maxUnits: settings.units },
        onMapStarted: () => {
          cpuAtMapStart = process.cpuUsage();
          mainAtMapStart = mainThreadCpuMs();
        },
        onEvent: (event) => {
          if (event.type === "MapRunSucceeded" || event.type === "MapRunFailed") {
            cpu = process.cpuUsage(cpuAtMapStart);
            const mainNow = mainThreadCpuMs();
            if (mainNow !== undefined && mainAtMapStart !== undefined) {
              mainMs = mainNow - mainAtMapStart;
            }
          }
        },
      });
      const mapSeconds =
        ((run.phases.mapEndedAt ?? run.phases.endedAt) -
          (run.phases.mapStartedAt ?? run.phases.startedAt)) /
        1000;
      const cpuSeconds = cpu ? (cpu.user + cpu.system) / 1e6 : 0;
      return {
        images: run.succeeded,
        imagesPerSecond: run.succeeded / mapSeconds,
        mapSeconds,
        cpuSeconds,
        cpuPerWallSecond: cpuSeconds / mapSeconds,
        cpuMsPerImage: (cpuSeconds * 1000) / Math.max(1, run.succeeded),
        ...(mainMs === undefined
          ? {}
          : { mainThreadMsPerImage: mainMs / Math.max(1, run.succeeded) }),
        peakRssMb: peakRss / 1024 / 1024,
        loadAverage: loadavg(),
      };
    } finally {
      clearInterval(sampler);
    }
  });
}
