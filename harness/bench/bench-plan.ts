import { MISPLAN_CASES } from "./misplan.ts";
import type { BenchSettings } from "./scenarios.ts";

/**
 * The runs `npm run bench` makes for a set of settings, and how long the
 * emulator alone keeps them busy: what `--quick` is sized against. Most of a
 * run's wall time is emulated (a model serves so many calls per second, starts
 * and stops in so many seconds) and does not shrink on a faster machine.
 */

export const SCENARIOS = [
  "saturation",
  "misplan",
  "capacity",
  "strategies",
  "ceiling",
  "paper",
] as const;
export type Scenario = (typeof SCENARIOS)[number];

/**
 * What the whole local pipeline drives when the emulator does not limit it
 * (the ceiling scenario), taken low: about 38 images/s was measured on a
 * heavily loaded 2-core machine before the pipeline got cheaper per image.
 */
export const LOADED_CEILING_IMAGES_PER_SECOND = 38;

/**
 * Wall time a run spends outside the model's start-up, processing and stop:
 * the local stack's start and close, the Plan, the wait loop's polls, the map's
 * start, the report. About 6 s was measured on a loaded machine.
 */
export const RUN_OVERHEAD_SECONDS = 6;

/** `npm run bench -- --quick` must finish within this on 2 cores. */
export const QUICK_BUDGET_SECONDS = 300;

/** One run of the bench: images through a model serving at most `callsPerSecond`. */
export interface PlannedRun {
  scenario: string;
  runner: string;
  images: number;
  callsPerSecond: number;
}

type PlanSettings = Omit<BenchSettings, "dataDirectory">;

/** Every run the chosen scenarios make (all of them when none is chosen), in the bench's order. */
export function benchRuns(settings: PlanSettings, chosen?: Scenario): PlannedRun[] {
  const runs = (scenario: Scenario) => chosen === undefined || chosen === scenario;
  const { images, units, tpsPerUnit } = settings;
  const provisioned = units * tpsPerUnit;
  const plan: PlannedRun[] = [];
  if (runs("saturation")) {
    plan.push(
      { scenario: "saturation", runner: "ours", images, callsPerSecond: provisioned },
      {
        scenario: "saturation",
        runner: "naive",
        images: Math.min(settings.naiveLimit, images),
        // One call at a time on one unit: the latency or the unit, whichever is slower.
        callsPerSecond: Math.min(tpsPerUnit, 1000 / Math.max(1, settings.latencyMs)),
      },
      // It usually gives up within seconds; at most it takes as long as ours.
      { scenario: "saturation", runner: "fixed", images, callsPerSecond: provisioned },
    );
  }
  if (runs("misplan")) {
    for (const count of settings.misplanImages) {
      for (const { name, factor } of MISPLAN_CASES) {
        plan.push({
          scenario: name,
          runner: "ours",
          images: count,
          callsPerSecond: provisioned * factor,
        });
      }
    }
  }
  if (runs("capacity")) {
    plan.push(
      // Half the units lost for the middle third of the expected time: 7/6 of it.
      { scenario: "zone-loss", runner: "ours", images, callsPerSecond: (provisioned * 6) / 7 },
      // The emulator may never scale up under rate-controlled demand: one unit throughout.
      { scenario: "auto-scaling", runner: "ours", images, callsPerSecond: tpsPerUnit },
    );
  }
  if (runs("strategies")) {
    plan.push(
      { scenario: "strategies", runner: "fixed 1 unit", images, callsPerSecond: tpsPerUnit },
      { scenario: "strategies", runner: "auto-scaling", images, callsPerSecond: tpsPerUnit },
    );
  }
  if (runs("ceiling")) {
    plan.push({
      scenario: "ceiling",
      runner: "ours",
      images: settings.ceilingImages,
      callsPerSecond: LOADED_CEILING_IMAGES_PER_SECOND,
    });
  }
  return plan;
}

/** The emulator's start-up, the processing at the run's rate and the stop, in seconds. */
export function emulatedSeconds(settings: PlanSettings, run: PlannedRun): number {
  return (settings.startDelayMs + settings.stopDelayMs) / 1000 + run.images / run.callsPerSecond;
}

export interface PlanEstimate {
  runs: number;
  /** The sum of every run's emulated seconds. */
  emulatedSeconds: number;
  /** With each run's overhead: at most what the bench takes on a quiet machine (every run at its worst case). */
  seconds: number;
}

export function estimatePlan(settings: PlanSettings, chosen?: Scenario): PlanEstimate {
  const runs = benchRuns(settings, chosen);
  const emulated = runs.reduce((sum, run) => sum + emulatedSeconds(settings, run), 0);
  return {
    runs: runs.length,
    emulatedSeconds: emulated,
    seconds: emulated + runs.length * RUN_OVERHEAD_SECONDS,
  };
}

/** The settings in one line, printed first so that quick figures are not taken for full ones. */
export function settingsBanner(settings: PlanSettings, chosen?: Scenario): string {
  const estimate = estimatePlan(settings, chosen);
  const what =
    settings.mode === "quick"
      ? "QUICK bench: a smoke run of every scenario, NOT the full figures (npm run bench)"
      : "Full bench";
  const parts = [
    `${settings.images} images per scenario (misplan: ${settings.misplanImages.join(" and ")})`,
    `${settings.units} units x ${settings.tpsPerUnit} TPS`,
    `latency ${settings.latencyMs} +- ${settings.latencyJitterMs} ms`,
    `start-up ${settings.startDelayMs / 1000} s, stop ${settings.stopDelayMs / 1000} s`,
    `naive loop ${settings.naiveLimit} images, ceiling ${settings.ceilingImages} images`,
  ];
  return `${what}: ${parts.join(", ")}; ${estimate.runs} runs, planned at most about ${Math.round(estimate.seconds)} s on a quiet machine`;
}
