import { describe, expect, it } from "vitest";
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
  it("prices auto-scaling as start-up and ramp at Min, the rest at Max", () => {
    const auto = autoScalingOption(1, 4, backlog);
    // 60 s start-up + 60 s at 5 TPS (300 images) + 1200 images at 20 TPS (60 s).
    expect(auto.durationSeconds).toBe(180);
    // 1 unit x 120 s + 4 units x 60 s = 360 unit-seconds = 0.1 h.
    expect(auto.inferenceHours).toBe(0.1);
    expect(auto.cost).toBe(0.4);
    expect(fixedOption(1, backlog)).toMatchObject({ durationSeconds: 360, cost: 0.4 });
    expect(fixedOption(4, backlog)).toMatchObject({ durationSeconds: 135, cost: 0.6 });
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
    expect(comparison.reason).toContain("auto-scaling 1..4 units: about 3 min instead of 6 min");
    const text = renderStrategies(comparison);
    expect(text).toMatch(/> auto-scaling 1\.\.4/);
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
