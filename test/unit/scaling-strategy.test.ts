import { describe, expect, it } from "vitest";
import { estimateCost, renderCostTable } from "../../src/cost.ts";
import {
  autoScalingOption,
  compareStrategies,
  fixedOption,
  planScaling,
  renderStrategies,
} from "../../src/scaling-strategy.ts";

const backlog = {
  pending: 1500,
  tpsPerUnit: 5,
  startupSeconds: 60,
  scaleUpSeconds: 60,
  pricePerUnitHour: 4,
  windowSeconds: 3600,
};

describe("scaling strategies", () => {
  it("prices auto-scaling as start-up at Min, one unit more per start-up, the rest at Max", () => {
    const auto = autoScalingOption(1, 4, backlog);
    // 60 s start-up and 1 s ramp-up, then 60 s each at 5, 10 and 15 TPS
    // (1,800 images' worth: the 1,500 run out after 300 + 600 images and 40 s
    // at 15 TPS).
    expect(auto.durationSeconds).toBe(61 + 60 + 60 + 40);
    // 1 x 61 + 1 x 60 + 2 x 60 + 3 x 40 = 361 unit-seconds = 0.1003 h.
    expect(auto.inferenceHours).toBe(0.1003);
    expect(auto.cost).toBe(0.4011);
    const large = autoScalingOption(1, 4, { ...backlog, pending: 6000 });
    // 300 + 600 + 900 images while units are added, 4,200 at 20 TPS (210 s).
    expect(large.durationSeconds).toBe(61 + 180 + 210);
    expect(fixedOption(1, backlog)).toMatchObject({ durationSeconds: 361, cost: 0.4011 });
    expect(fixedOption(4, backlog)).toMatchObject({ durationSeconds: 136, cost: 0.6044 });
  });

  it("a backlog that Min finishes before the units come costs what Min fixed units cost", () => {
    const small = { ...backlog, pending: 100 };
    expect(autoScalingOption(1, 4, small)).toMatchObject({
      durationSeconds: fixedOption(1, small).durationSeconds,
      cost: fixedOption(1, small).cost,
    });
    const comparison = compareStrategies({
      backlog: small,
      units: 1,
      maxUnits: 4,
      autoScalingAsked: true,
    });
    expect(comparison.chosen.strategy).toBe("fixed");
    expect(comparison.reason).toContain("would not grow the model");
  });

  it("chooses auto-scaling when asked for and it is as cheap and faster, and says why", () => {
    const comparison = compareStrategies({
      backlog,
      units: 1,
      maxUnits: 4,
      autoScalingAsked: true,
    });
    expect(comparison.options.map((o) => [o.strategy, o.units])).toEqual([
      ["fixed", 1],
      ["fixed", 4],
      ["auto-scaling", 1],
    ]);
    expect(comparison.chosen.strategy).toBe("auto-scaling");
    expect(comparison.reason).toContain("auto-scaling 1..4 units: about 4 min instead of 6 min");
    const text = renderStrategies(comparison);
    expect(text).toMatch(/> auto-scaling 1\.\.4/);
  });

  it("chooses between the planned units and auto-scaling; fixed max units is shown, not chosen", () => {
    // Start-up so short that max fixed units is about as cheap, and a little faster.
    const quick = { ...backlog, pending: 6000, startupSeconds: 3, scaleUpSeconds: 3 };
    const comparison = compareStrategies({
      backlog: quick,
      units: 1,
      maxUnits: 4,
      autoScalingAsked: true,
    });
    const fixedMax = comparison.options[1];
    expect(fixedMax?.durationSeconds).toBeLessThan(comparison.chosen.durationSeconds);
    expect(comparison.chosen.strategy).toBe("auto-scaling");
  });

  it("without maxInferenceUnits keeps fixed units and shows what auto-scaling would give", () => {
    const comparison = compareStrategies({
      backlog,
      units: 1,
      maxUnits: 5,
      autoScalingAsked: false,
    });
    expect(comparison.chosen).toMatchObject({ strategy: "fixed", units: 1 });
    expect(comparison.reason).toContain("set maxInferenceUnits");
  });

  it("sizes again without MaxInferenceUnits when fixed units are chosen", () => {
    const calls: unknown[] = [];
    const { sizing, strategy } = planScaling({
      input: {
        maxInferenceUnits: 4,
        maxUnits: 5,
        minUnits: 1,
        pricePerUnitHour: 4,
        targetWindowMinutes: 60,
      },
      pending: 100,
      tpsPerUnit: 5,
      size: (scaling) => {
        calls.push(scaling);
        return { units: scaling.minUnits, startupSeconds: 60, ...scaling };
      },
    });
    expect(strategy.chosen.strategy).toBe("fixed");
    expect(calls).toEqual([
      { maxInferenceUnits: 4, minUnits: 1 },
      { maxInferenceUnits: undefined, minUnits: 1 },
    ]);
    expect(sizing.maxInferenceUnits).toBeUndefined();
  });
});

describe("one cost model for the plan's table and the strategy comparison", () => {
  // A run as `npm run local` plans it: 1,200 images, 2 units x 20 TPS, 10 s
  // start-up, 6 s stop, 4 workers at 10 TPS each.
  const sizing = {
    units: 2,
    tpsPerUnit: 20,
    startupSeconds: 10,
    stopSeconds: 6,
    perWorkerTps: 10,
  };
  const input = { minUnits: 1, maxUnits: 5, pricePerUnitHour: 4, targetWindowMinutes: 60 };

  it("prices fixed units with the ramp-up, the tail and the stop, as the cost table does", () => {
    const table = estimateCost({ sizing, pending: 1200, input });
    const { strategy } = planScaling({
      input,
      pending: 1200,
      tpsPerUnit: 20,
      size: () => sizing,
    });
    expect(strategy.chosen.strategy).toBe("fixed");
    expect(strategy.chosen).toMatchObject({
      units: table.chosen.units,
      durationSeconds: table.chosen.durationSeconds,
      inferenceHours: table.chosen.inferenceHours,
      cost: table.chosen.cost,
    });
    const fixedMax = strategy.options.find((o) => o.strategy === "fixed" && o.units === 5);
    const tableMax = table.options.find((o) => o.units === 5);
    expect(fixedMax?.cost).toBe(tableMax?.cost);
    expect(fixedMax?.durationSeconds).toBe(tableMax?.durationSeconds);
    // The reason quotes the same figure the plan's estimate gives.
    expect(strategy.reason).toContain(`instead of ${table.chosen.cost.toFixed(2)}`);
  });

  it("prices auto-scaling with the same ramp-up, tail and stop", () => {
    const basis = { ...backlog, stopSeconds: 30, perWorkerTps: 5 };
    const bare = autoScalingOption(1, 4, backlog);
    const full = autoScalingOption(1, 4, basis);
    // 1 unit for the 1 s ramp-up, 3 units for the stop, and a tail at 3 units
    // whose 3 workers leave up to 5 % x 2/3 of the last step idle.
    expect(full.durationSeconds).toBeGreaterThanOrEqual(bare.durationSeconds + 1 + 30);
    expect(full.inferenceHours * 3600).toBeGreaterThanOrEqual(
      bare.inferenceHours * 3600 + 1 + 3 * 30 - 2,
    );
  });

  it("the plan's estimate of an auto-scaling run is the auto-scaling figure", () => {
    // One worker, no stop: auto-scaling costs what 1 fixed unit does, and is faster.
    const auto = { units: 1, maxInferenceUnits: 4, tpsPerUnit: 5, startupSeconds: 60 };
    const { sizing: planned, strategy } = planScaling({
      input: { ...input, maxInferenceUnits: 4 },
      pending: 1500,
      tpsPerUnit: 5,
      size: () => auto,
    });
    expect(strategy.chosen.strategy).toBe("auto-scaling");
    const table = estimateCost({ sizing: planned, pending: 1500, input, strategy });
    expect(table.chosen).toMatchObject({
      units: 1,
      maxInferenceUnits: 4,
      durationSeconds: strategy.chosen.durationSeconds,
      cost: strategy.chosen.cost,
    });
    expect(renderCostTable(table)).toMatch(/> auto-scaling 1\.\.4/);
  });
});
