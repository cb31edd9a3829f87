import { describe, expect, it } from "vitest";
import { startToDone, strategyRows, strategyTable } from "../../src/report/strategy.ts";
import { compareStrategies } from "../../src/scaling-strategy.ts";

const comparison = compareStrategies({
  backlog: {
    pending: 1500,
    tpsPerUnit: 5,
    startupSeconds: 60,
    scaleUpSeconds: 60,
    pricePerUnitHour: 4,
    windowSeconds: 3600,
  },
  units: 1,
  maxUnits: 4,
  autoScalingAsked: true,
});

describe("the report's strategy, planned against actual", () => {
  it("sets the most units in service and the time to done against the chosen strategy", () => {
    expect(strategyRows(comparison, { peakUnits: 4, startToDoneSeconds: 250 })).toEqual([
      { name: "Units in service (most)", planned: 4, actual: 4, unit: "" },
      {
        name: "Start-up and processing (auto-scaling)",
        planned: comparison.chosen.durationSeconds,
        actual: 250,
        unit: "s",
      },
    ]);
  });

  it("adds start-up and processing only when both are known", () => {
    const phase = (name: "start" | "processing", seconds: number | null) => ({
      name,
      label: name,
      seconds,
    });
    expect(startToDone([phase("start", 60), phase("processing", 190)])).toBe(250);
    expect(startToDone([phase("start", 60), phase("processing", null)])).toBeNull();
  });

  it("shows every option and says which was chosen and why", () => {
    const text = String(strategyTable(comparison));
    expect(text).toContain("auto-scaling 1..4");
    expect(text).toContain("fixed 4 unit(s)");
    expect(text).toContain(`Chosen: ${comparison.reason}`);
  });
});
