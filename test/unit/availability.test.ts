import { describe, expect, it } from "vitest";
import { singleUnitRisk } from "../../src/availability.ts";
import { estimateCost } from "../../src/cost.ts";
import { buildRunSummary } from "../../src/report/build-summary.ts";
import { renderReportHtml } from "../../src/report/html.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { makePlan, T0 } from "../support/report-fixtures.ts";

/** A one-unit plan says what a unit failure would cost and how to choose two. */

const sizing = { units: 1, tpsPerUnit: 5, startupSeconds: 600 };

describe("singleUnitRisk", () => {
  it("prices a failure as one start-up of waiting at one unit, and compares two units", () => {
    // 9,000 images at 5 TPS: 1 unit = 600 s start-up + 1 s ramp-up + 1,800 s; 2 units = 601 + 900 s.
    const risk = singleUnitRisk({ sizing, pending: 9000, pricePerUnitHour: 4 });
    expect(risk).toMatchObject({
      assumedReplacementSeconds: 600,
      extraSeconds: 600,
      extraCost: 0.67,
      oneUnit: { units: 1, durationSeconds: 2401, cost: 2.6678 },
      twoUnits: { units: 2, durationSeconds: 1501, cost: 3.3356 },
    });
    expect(risk?.note).toContain("the run waits rather than fails");
    expect(risk?.note).toContain("cost about USD 0.67 more");
    expect(risk?.note).toContain("AWS advises at least 2 units for production models");
    expect(risk?.note).toContain("minUnits=2 (--min-units 2");
    expect(risk?.note).toContain(
      "this run would take about 25 min for USD 3.34 instead of 40 min for USD 2.67",
    );
  });

  it("prices one and two units as the plan's cost table does (ramp-up, tail, stop)", () => {
    const full = { ...sizing, stopSeconds: 60, perWorkerTps: 2.5 };
    const risk = singleUnitRisk({ sizing: full, pending: 9000, pricePerUnitHour: 4 });
    const table = estimateCost({
      sizing: full,
      pending: 9000,
      input: { minUnits: 1, maxUnits: 2, pricePerUnitHour: 4 },
    });
    expect(risk?.oneUnit).toEqual(table.options.find((o) => o.units === 1));
    expect(risk?.twoUnits).toEqual(table.options.find((o) => o.units === 2));
  });

  it("says nothing for two or more units, or when nothing is pending", () => {
    expect(
      singleUnitRisk({ sizing: { ...sizing, units: 2 }, pending: 9000, pricePerUnitHour: 4 }),
    ).toBeUndefined();
    expect(singleUnitRisk({ sizing, pending: 0, pricePerUnitHour: 4 })).toBeUndefined();
  });

  it("notes that auto-scaling from one unit only adds units after demand is seen", () => {
    const risk = singleUnitRisk({
      sizing: { ...sizing, maxInferenceUnits: 4 },
      pending: 10,
      pricePerUnitHour: 4,
    });
    expect(risk?.note).toContain("auto-scaling may add units");
  });
});

describe("the report of a one-unit run", () => {
  it("carries the risk in summary.json and on the page", () => {
    const plan = makePlan();
    const summary = buildRunSummary({
      plan: { ...plan, sizing: { ...plan.sizing, units: 1 } },
      batches: [],
      mapRan: false,
      skipped: [],
      clock: new FakeClock(T0 * 1000),
    });
    expect(summary.singleUnitRisk?.note).toContain("the run waits rather than fails");
    expect(renderReportHtml(summary)).toContain('id="single-unit-risk"');
  });
});
