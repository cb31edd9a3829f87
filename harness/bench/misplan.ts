import { learnedTpsFromSummary } from "../../src/report/summary.ts";
import type { TimelineSecond } from "../local/emulator/index.ts";
import { type RunFigures, runFigures } from "./figures.ts";
import { ensureImages, runPipeline } from "./pipeline-run.ts";
import { type BenchSettings, imagesPrefix, resultsPrefix, withStack } from "./scenarios.ts";

/**
 * A wrong plan: the emulator serves 40 % less or more TPS per unit than the
 * plan assumes (a first run always plans on the default until a run has
 * measured the model). The figures are against what the model really serves.
 */
export const MISPLAN_CASES = [
  { name: "misplan-right", factor: 1 },
  { name: "misplan-slow", factor: 0.6 },
  { name: "misplan-fast", factor: 1.4 },
] as const;

export interface MisplanRun {
  scenario: string;
  images: number;
  plannedTpsPerUnit: number;
  trueTpsPerUnit: number;
  units: number;
  workers: number;
  batchSize: number;
  succeeded: number;
  failed: number;
  figures: RunFigures;
  timeline: TimelineSecond[];
}

/** Each case at each image count, one after another. */
export async function misplan(
  settings: BenchSettings,
  imageCounts: readonly number[],
  onRun?: (run: MisplanRun) => void,
): Promise<MisplanRun[]> {
  const runs: MisplanRun[] = [];
  for (const images of imageCounts) {
    for (const { name, factor } of MISPLAN_CASES) {
      const trueTpsPerUnit = settings.tpsPerUnit * factor;
      const prefix = imagesPrefix(images);
      const run = await withStack(settings, { tpsPerUnit: trueTpsPerUnit }, async (stack) => {
        await ensureImages(stack, prefix, images);
        return runPipeline({
          stack,
          imagesPrefix: prefix,
          resultsPrefix: resultsPrefix(name),
          input: {
            tpsPerUnit: settings.tpsPerUnit,
            minUnits: settings.units,
            maxUnits: settings.units,
          },
        });
      });
      const learned = run.job.summary ? learnedTpsFromSummary(run.job.summary) : undefined;
      const result: MisplanRun = {
        scenario: name,
        images: run.images,
        plannedTpsPerUnit: settings.tpsPerUnit,
        trueTpsPerUnit,
        units: run.units,
        workers: run.workers,
        batchSize: run.batchSize,
        succeeded: run.succeeded,
        failed: run.failed,
        figures: runFigures({
          timeline: run.timeline,
          map: { from: run.phases.mapStartedAt ?? 0, to: run.phases.mapEndedAt ?? 0 },
          capacityTps: run.units * trueTpsPerUnit,
          tailShare: run.job.summary?.throughput.tail?.share,
          billedUnitSeconds: run.unitSeconds,
          estimatedUnitSeconds: run.job.plan
            ? run.job.plan.cost.chosen.durationSeconds * run.job.plan.sizing.units
            : undefined,
          learnedTpsPerUnit: learned?.tpsPerUnit,
          learnedMeasured: learned ? learned.measured !== false : undefined,
          trueTpsPerUnit,
        }),
        timeline: run.timeline,
      };
      onRun?.(result);
      runs.push(result);
    }
  }
  return runs;
}
