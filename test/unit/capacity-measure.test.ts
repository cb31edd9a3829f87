import { describe, expect, it } from "vitest";
import { AdaptiveRateController } from "../../src/adaptive-rate-controller.ts";
import { measureCapacity } from "../../src/report/capacity.ts";
import type { TimelinePoint } from "../../src/shapes.ts";
import { FakeClock } from "../support/fake-clock.ts";
import recorded from "../support/misplan-slow-6000.timeline.json" with { type: "json" };
import { simulateWorkers } from "../support/rate-simulation.ts";

/**
 * The learned TPS per unit against the model's true figure, on per-second
 * series of accepted and throttled calls: workers planned at 20 TPS on 4
 * units sharing a model (a token bucket with one second of burst, as the
 * emulator's) that serves less or more than planned.
 */
async function learnedAgainstTrue(capacityTps: number, images: number) {
  const clock = new FakeClock();
  const controllers = [0, 1].map(() => new AdaptiveRateController({ plannedTps: 10, clock }));
  const run = await simulateWorkers({
    clock,
    capacityTps,
    controllers,
    items: [images / 2, images / 2],
    slots: 6,
    latencyMs: 100,
  });
  const timeline: TimelinePoint[] = run.perSecond.map((accepted, t) => ({
    t,
    accepted,
    throttled: run.throttledPerSecond[t] ?? 0,
  }));
  const capacity = measureCapacity(
    timeline,
    () => 4,
    () => 20,
  );
  return {
    capacity,
    error: Math.abs((capacity?.tpsPerUnit ?? 0) - capacityTps / 4) / (capacityTps / 4),
  };
}

describe("learned TPS per unit against the model's true figure", () => {
  it.each([
    [12, 1200],
    [12, 6000],
    [20, 1200],
    [20, 6000],
    [28, 1200],
    [28, 6000],
  ])("a model serving %i TPS, %i images: within 5 per cent", async (capacityTps, images) => {
    const { capacity, error } = await learnedAgainstTrue(capacityTps, images);
    expect(capacity?.kind).toBe("measured");
    expect(error).toBeLessThan(0.05);
  });

  it("a long lull between throttles bounds no span (the model's burst overflowed)", () => {
    // Throttled at a capacity of 10 for 10 s, then 30 s at half of it with no
    // throttle, then throttled at 10 again.
    const at = (t: number, accepted: number, throttled: number) => ({ t, accepted, throttled });
    const timeline = [
      ...Array.from({ length: 10 }, (_, i) => at(i, 10, 1)),
      ...Array.from({ length: 30 }, (_, i) => at(10 + i, 5, 0)),
      ...Array.from({ length: 10 }, (_, i) => at(40 + i, 10, 1)),
    ];
    const capacity = measureCapacity(
      timeline,
      () => 2,
      () => 10,
    );
    expect(capacity).toMatchObject({ kind: "measured", tpsPerUnit: 5, sampleSeconds: 20 });
  });
});

describe("learned TPS per unit on a recorded run", () => {
  it("a model 40 % slower than planned, 6,000 images: within 1 per cent", () => {
    const { accepted, throttled, units, trueTpsPerUnit } = recorded;
    const timeline = accepted.map((a, t) => ({ t, accepted: a, throttled: throttled[t] ?? 0 }));
    const capacity = measureCapacity(
      timeline,
      () => units,
      () => units * 5,
    );
    expect(capacity?.kind).toBe("measured");
    expect(Math.abs((capacity?.tpsPerUnit ?? 0) - trueTpsPerUnit) / trueTpsPerUnit).toBeLessThan(
      0.01,
    );
  });
});
