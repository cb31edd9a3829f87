import { describe, expect, it } from "vitest";
import {
  FIRST_ROUND_SHARE,
  firstRoundImages,
  firstRounds,
  roundManifestKey,
  roundOf,
} from "../../src/rounds.ts";
import type { Plan } from "../../src/shapes.ts";
import { makePlan } from "../support/report-fixtures.ts";

function rescalingPlan(): Plan {
  const plan = makePlan({ counts: { listed: 1000, pending: 1000, skipped: 0, alreadyDone: 0 } });
  return {
    ...plan,
    rescale: {
      mode: "restart",
      maxUnits: 6,
      maxWorkers: 50,
      lambdaTimeoutSeconds: 900,
      maxItemBytes: 200,
      contextBytes: 400,
      rounds: [
        { manifest: { bucket: "r", key: "m-round-1.jsonl" }, images: 200 },
        { manifest: { bucket: "r", key: "m-round-2.jsonl" }, images: 800 },
      ],
    },
  };
}

describe("rounds", () => {
  it("the first round is a share of the backlog, at least one image per worker, at most all", () => {
    expect(FIRST_ROUND_SHARE).toBe(0.2);
    expect(firstRoundImages(1000, 4)).toBe(200);
    expect(firstRoundImages(10, 4)).toBe(4);
    expect(firstRoundImages(3, 4)).toBe(3);
    expect(firstRoundImages(0, 4)).toBe(0);
  });

  it("names each round's manifest beside the run's manifest", () => {
    expect(roundManifestKey("res/runs/r1/manifest.jsonl", 2)).toBe(
      "res/runs/r1/manifest-round-2.jsonl",
    );
  });

  it("a one-round run is the plan as sized, over the whole manifest", () => {
    const plan = makePlan();
    const { current } = firstRounds(plan);
    expect(current).toMatchObject({
      index: 1,
      of: 1,
      manifest: plan.manifest,
      images: plan.counts.pending,
      units: plan.sizing.units,
      workers: plan.sizing.workers,
      batchSize: plan.sizing.batchSize,
    });
    expect(current.context).toEqual(plan.context);
  });

  it("sizes each round of a rescaling run for its own images and units (workers x rate = units x TPS)", () => {
    const plan = rescalingPlan();
    const first = firstRounds(plan).current;
    expect(first).toMatchObject({ index: 1, of: 2, images: 200, units: 2 });
    expect(first.workers * first.context.perWorkerTps).toBeCloseTo(2 * 5);

    const second = roundOf(plan, 2, 5, 3);
    expect(second).toMatchObject({ index: 2, of: 2, images: 800, units: 5, tpsPerUnit: 3 });
    expect(second.manifest.key).toBe("m-round-2.jsonl");
    expect(second.workers * second.context.perWorkerTps).toBeCloseTo(5 * 3);
    expect(() => roundOf(plan, 3, 5, 3)).toThrow(/round 3 does not exist/);
  });
});
