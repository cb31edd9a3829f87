import { describe, expect, it } from "vitest";
import { costBasisOf, fixedUnitsBill } from "../../src/cost.ts";
import type { Sizing } from "../../src/shapes.ts";
import { planSizing as plan, runMap, UNEVEN_SHARES } from "../support/map-simulation.ts";

/**
 * The cost estimate's tail against the plan's own batches. Workers that do
 * not share the model evenly (together they take exactly its capacity) run
 * the plan's batches as the Distributed Map hands them out; the run ends
 * with the last batch. The estimate's processing plus tail must be that end,
 * within 1 % of the processing time: a tail priced at a fixed share of the
 * processing (the most the bench allows) overstates what short batches leave.
 */

/** When the last batch ends. */
function runEnd(pending: number, batchSize: number, rates: readonly number[]): number {
  return Math.max(
    ...runMap(pending, batchSize, rates).map((span) => Date.parse(span.endedAt) / 1000),
  );
}

/** Uneven shares (one worker 13 % above its share) that add up to the provisioned rate. */
function unevenRates(s: Sizing): number[] {
  const raw = Array.from({ length: s.workers }, (_, i) =>
    s.workers === 1 ? 1 : (UNEVEN_SHARES[i % UNEVEN_SHARES.length] as number),
  );
  const sum = raw.reduce((a, b) => a + b, 0);
  return raw.map((f) => (f / sum) * s.units * s.tpsPerUnit);
}

describe("the cost estimate's tail", () => {
  const cases: [string, number, Record<string, unknown>, number][] = [
    ["1,200 images on 2 units x 20 TPS", 1_200, { minUnits: 2 }, 20],
    ["1,200 images on 4 units x 5 TPS", 1_200, { minUnits: 4, maxUnits: 4 }, 5],
    ["6,000 images on 4 units x 5 TPS", 6_000, { minUnits: 4, maxUnits: 4 }, 5],
    ["100,000 images on 5 units x 5 TPS", 100_000, { minUnits: 5, maxUnits: 5 }, 5],
  ];
  for (const [name, pending, overrides, tpsPerUnit] of cases) {
    it(`is what the plan's batches leave: ${name}`, () => {
      const s = plan(pending, overrides, tpsPerUnit);
      const bill = fixedUnitsBill(s.units, pending, costBasisOf(s, 4));
      const overhead = s.startupSeconds + 1 + (s.stopSeconds ?? 0);
      const estimatedEnd = bill.durationSeconds - overhead;
      const simulatedEnd = runEnd(pending, s.batchSize, unevenRates(s));
      expect(Math.abs(estimatedEnd - simulatedEnd) / bill.processingSeconds).toBeLessThanOrEqual(
        0.01,
      );
    });
  }
});
