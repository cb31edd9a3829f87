import { describe, expect, it } from "vitest";
import { costOption, estimateCost, renderCostTable } from "../../src/cost.ts";
import { formatDuration } from "../../src/report/format.ts";

const limits = { minUnits: 1, maxUnits: 5, pricePerUnitHour: 4 };

describe("costOption", () => {
  it("bills every unit for start-up, ramp-up and processing", () => {
    // 36,000 images at 2 units x 5 TPS = 3,600 s, plus 600 s start-up and 1 s ramp-up.
    expect(
      costOption(2, 36_000, { tpsPerUnit: 5, startupSeconds: 600, pricePerUnitHour: 4 }),
    ).toEqual({ units: 2, durationSeconds: 4_201, inferenceHours: 2.3339, cost: 9.3356 });
  });

  it("adds the tail's idle shares and the stop", () => {
    // 4 workers at 2.5 TPS: batches of 4 % of the 3,600 s (144 s), the tail half
    // of one with 3/4 of the capacity idle (54 s); the stop 60 s.
    expect(
      costOption(2, 36_000, {
        tpsPerUnit: 5,
        startupSeconds: 600,
        stopSeconds: 60,
        perWorkerTps: 2.5,
        pricePerUnitHour: 4,
      }),
    ).toEqual({ units: 2, durationSeconds: 4_201 + 54 + 60, inferenceHours: 2.3972, cost: 9.5889 });
  });

  it("costs nothing when there is nothing to do (the model is not started)", () => {
    expect(costOption(3, 0, { tpsPerUnit: 5, startupSeconds: 600, pricePerUnitHour: 4 })).toEqual({
      units: 3,
      durationSeconds: 0,
      inferenceHours: 0,
      cost: 0,
    });
  });
});

describe("estimateCost", () => {
  it("lists neighbours of the chosen unit count plus the smallest and largest, ascending", () => {
    const cost = estimateCost({
      sizing: { units: 5, tpsPerUnit: 5, startupSeconds: 600 },
      pending: 36_000,
      input: { ...limits, maxUnits: 10 },
    });
    expect(cost.options.map((o) => o.units)).toEqual([1, 3, 4, 5, 6, 7, 10]);
    expect(cost.chosen).toEqual(cost.options.find((o) => o.units === 5));
    expect(cost.pricePerUnitHour).toBe(4);
  });

  it("shows the trade-off: more units finish sooner but pay more start-up", () => {
    const cost = estimateCost({
      sizing: { units: 3, tpsPerUnit: 5, startupSeconds: 600 },
      pending: 36_000,
      input: limits,
    });
    const [one, , , , five] = cost.options;
    expect(cost.options.map((o) => o.units)).toEqual([1, 2, 3, 4, 5]);
    // Start-up, 1 s of ramp-up, processing (no workers given: no tail; no stop given).
    expect(one).toEqual({ units: 1, durationSeconds: 7_801, inferenceHours: 2.1669, cost: 8.6678 });
    expect(five).toEqual({
      units: 5,
      durationSeconds: 2_041,
      inferenceHours: 2.8347,
      cost: 11.3389,
    });
    for (let i = 1; i < cost.options.length; i++) {
      const [before, after] = [cost.options[i - 1], cost.options[i]];
      expect(after?.durationSeconds).toBeLessThan(before?.durationSeconds ?? 0);
      expect(after?.cost).toBeGreaterThan(before?.cost ?? 0);
    }
  });

  it("keeps options within minUnits and maxInferenceUnits when auto-scaling", () => {
    const cost = estimateCost({
      sizing: { units: 2, tpsPerUnit: 5, startupSeconds: 600 },
      pending: 100,
      input: { ...limits, minUnits: 2, maxInferenceUnits: 3 },
    });
    expect(cost.options.map((o) => o.units)).toEqual([2, 3]);
  });
});

describe("renderCostTable", () => {
  it("renders aligned rows and marks the chosen one", () => {
    const cost = estimateCost({
      sizing: { units: 2, tpsPerUnit: 5, startupSeconds: 600 },
      pending: 36_000,
      input: { ...limits, maxUnits: 3 },
    });
    expect(renderCostTable(cost)).toBe(
      [
        "  units  duration    inference hours  cost (USD)",
        "      1  2 h 10 min            2.167        8.67",
        ">     2  1 h 10 min            2.334        9.34",
        "      3  50 min                2.501       10.00",
        "  at 4.00 USD per inference-unit hour; > = planned",
      ].join("\n"),
    );
  });

  it("formats durations for people", () => {
    expect(formatDuration(42, { coarse: true })).toBe("42 s");
    expect(formatDuration(600, { coarse: true })).toBe("10 min");
    expect(formatDuration(3_600 * 66 + 50 * 60, { coarse: true })).toBe("66 h 50 min");
    expect(formatDuration(3_600 + 5 * 60, { coarse: true })).toBe("1 h 05 min");
  });
});
