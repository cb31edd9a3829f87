import { describe, expect, it } from "vitest";
import {
  benchRuns,
  emulatedSeconds,
  estimatePlan,
  QUICK_BUDGET_SECONDS,
  RUN_OVERHEAD_SECONDS,
  settingsBanner,
} from "../../harness/bench/bench-plan.ts";
import { FULL_SETTINGS, QUICK_SETTINGS } from "../../harness/bench/scenarios.ts";

const key = (run: { scenario: string; runner: string }) => `${run.scenario}/${run.runner}`;

describe("the bench's plan of runs", () => {
  it("counts each run's start-up, processing at its rate and stop", () => {
    const settings = { ...FULL_SETTINGS, startDelayMs: 3000, stopDelayMs: 1000 };
    const run = { scenario: "s", runner: "ours", images: 1200, callsPerSecond: 20 };
    expect(emulatedSeconds(settings, run)).toBe(3 + 60 + 1);
    const only = estimatePlan({ ...settings, images: 1200 }, "saturation");
    // ours 60 s, the naive loop 300 images at 5 TPS, fixed concurrency at most 60 s.
    expect(only.runs).toBe(3);
    expect(only.emulatedSeconds).toBe(3 * 4 + 60 + 60 + 60);
    expect(only.seconds).toBe(only.emulatedSeconds + 3 * RUN_OVERHEAD_SECONDS);
  });

  it("keeps --quick within the budget on the emulator's clock, with room left for a loaded machine", () => {
    const quick = estimatePlan(QUICK_SETTINGS);
    // The emulated seconds cannot go faster on any machine; the per-run
    // overhead is CPU and grows with the load: keep a fifth of the budget for that.
    expect(quick.seconds).toBeLessThanOrEqual(QUICK_BUDGET_SECONDS * 0.8);
    expect(quick.emulatedSeconds).toBeLessThanOrEqual(QUICK_BUDGET_SECONDS / 2);
  });

  it("makes every run of the full bench in --quick too, so that every figure is smoke-tested", () => {
    const full = benchRuns(FULL_SETTINGS).map(key);
    const quick = benchRuns(QUICK_SETTINGS).map(key);
    expect(new Set(quick)).toEqual(new Set(full));
    // The full bench runs misplan at two counts, quick at one.
    expect(full.filter((k) => k.startsWith("misplan-"))).toHaveLength(6);
    expect(quick.filter((k) => k.startsWith("misplan-"))).toHaveLength(3);
  });

  it("leaves the full bench as it was: 6,000 images on 4 units x 5 TPS, misplan at 1,200 and 6,000", () => {
    expect(FULL_SETTINGS).toMatchObject({
      mode: "full",
      images: 6000,
      tpsPerUnit: 5,
      units: 4,
      latencyMs: 100,
      latencyJitterMs: 30,
      startDelayMs: 3000,
      stopDelayMs: 1000,
      naiveLimit: 300,
      fixedConcurrency: 64,
      ceilingImages: 6000,
      misplanImages: [1200, 6000],
    });
    // Far beyond the quick budget: the sizing above is what makes quick fit.
    expect(estimatePlan(FULL_SETTINGS).seconds).toBeGreaterThan(QUICK_BUDGET_SECONDS * 3);
  });

  it("says first whether the figures are quick or full, with the settings", () => {
    const quick = settingsBanner(QUICK_SETTINGS);
    expect(quick).toMatch(/^QUICK bench: .*NOT the full figures/);
    expect(quick).toContain(`${QUICK_SETTINGS.images} images per scenario`);
    expect(quick).toContain(`${QUICK_SETTINGS.units} units x ${QUICK_SETTINGS.tpsPerUnit} TPS`);
    expect(quick).toContain("start-up 1 s");
    expect(settingsBanner(FULL_SETTINGS, "misplan")).toMatch(
      /^Full bench: .*; 6 runs, planned at most about/,
    );
  });
});
