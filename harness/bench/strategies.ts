import type { StrategyOption } from "../../src/scaling-strategy.ts";
import { ensureImages, type PipelineRun, runPipeline } from "./pipeline-run.ts";
import { type BenchSettings, withStack } from "./scenarios.ts";

/** One strategy's run on the shared backlog: what the plan expected and what the emulator measured. */
export interface StrategyRun {
  strategy: string;
  succeeded: number;
  failed: number;
  /** Units at the start, and the most in service at any second. */
  units: number;
  peakUnits: number;
  /** From the start request to the stop request. */
  timeToDoneSeconds: number;
  unitSeconds: number;
  costUsd: number;
  calls: number;
  throttled: number;
  retried: number;
  /** The plan's estimate for the strategy it ran. */
  planned?: Pick<StrategyOption, "durationSeconds" | "cost">;
}

export interface StrategiesResult {
  images: number;
  fixed: StrategyRun;
  autoScaling: StrategyRun;
  /** Fixed time / auto-scaling time. */
  speedup: number;
  /** Auto-scaling cost / fixed cost. */
  costRatio: number;
}

function strategyRun(strategy: string, run: PipelineRun): StrategyRun {
  const summary = run.job.summary;
  const chosen = run.job.plan?.strategy?.chosen;
  return {
    strategy,
    succeeded: run.succeeded,
    failed: run.failed,
    units: run.units,
    peakUnits: Math.max(0, ...run.timeline.map((second) => second.inServiceUnits)),
    timeToDoneSeconds:
      ((run.phases.stopRequestedAt ?? run.phases.endedAt) - run.phases.startedAt) / 1000,
    unitSeconds: run.unitSeconds,
    costUsd: run.cost,
    calls: summary?.throughput.calls ?? 0,
    throttled: summary?.throughput.throttled ?? 0,
    retried: summary?.throughput.retried ?? 0,
    ...(chosen ? { planned: { durationSeconds: chosen.durationSeconds, cost: chosen.cost } } : {}),
  };
}

/**
 * The same backlog twice: one fixed unit (what the plan sizes for a window the
 * backlog fits easily), then auto-scaling from one unit up to `settings.units`.
 */
export async function strategies(settings: BenchSettings): Promise<StrategiesResult> {
  const prefix = `bench-${settings.images}/`;
  const once = (name: string, input: Record<string, number>) =>
    withStack(settings, {}, async (stack) => {
      await ensureImages(stack, prefix, settings.images);
      return runPipeline({
        stack,
        imagesPrefix: prefix,
        resultsPrefix: `bench-results/${name}-${Date.now()}/`,
        input: { tpsPerUnit: settings.tpsPerUnit, minUnits: 1, maxUnits: settings.units, ...input },
      });
    });
  const fixed = strategyRun("fixed 1 unit", await once("fixed", {}));
  const autoScaling = strategyRun(
    `auto-scaling 1..${settings.units}`,
    await once("auto-scaling", { maxInferenceUnits: settings.units }),
  );
  return {
    images: settings.images,
    fixed,
    autoScaling,
    speedup: fixed.timeToDoneSeconds / autoScaling.timeToDoneSeconds,
    costRatio: autoScaling.costUsd / fixed.costUsd,
  };
}

/** The two runs as a title, a text table and a conclusion (parts of the bench's text output). */
export function renderStrategies(result: StrategiesResult): string[] {
  const header = [
    "strategy",
    "units",
    "time to done s",
    "planned s",
    "cost USD",
    "planned USD",
    "calls",
    "throttled",
    "failed",
  ];
  const row = (r: StrategyRun) => [
    r.strategy,
    r.peakUnits === r.units ? String(r.units) : `${r.units} -> ${r.peakUnits}`,
    r.timeToDoneSeconds.toFixed(1),
    r.planned ? String(r.planned.durationSeconds) : "-",
    r.costUsd.toFixed(4),
    r.planned ? r.planned.cost.toFixed(2) : "-",
    String(r.calls),
    String(r.throttled),
    String(r.failed),
  ];
  const rows = [header, row(result.fixed), row(result.autoScaling)];
  const widths = header.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return [
    `Strategies on the same ${result.images} images: fixed units against auto-scaling`,
    rows.map((r) => r.map((cell, i) => cell.padStart(widths[i] ?? 0)).join("  ")).join("\n"),
    `Auto-scaling finished in 1/${result.speedup.toFixed(2)} of the fixed run's time at ${result.costRatio.toFixed(2)}x its cost.`,
  ];
}
