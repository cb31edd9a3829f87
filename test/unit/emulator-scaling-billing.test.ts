import { describe, expect, it } from "vitest";
import { DemandScaler } from "../../harness/local/emulator/autoscaler.ts";
import { BillingMeter } from "../../harness/local/emulator/billing-meter.ts";
import { parseCommandLine } from "../../harness/local/emulator/command-line.ts";

const policy = {
  minUnits: 1,
  maxUnits: 4,
  tpsPerUnit: 5,
  demandWindowMs: 1000,
  scaleUpDelayMs: 2000,
  scaleDownDelayMs: 3000,
};

/** `rate` arrivals per second from `from` to `to` (ms). */
function arrive(scaler: DemandScaler, from: number, to: number, rate: number): void {
  for (let t = from; t < to; t += 1000 / rate) scaler.recordArrival(t);
}

describe("DemandScaler", () => {
  it("measures demand over the trailing window, throttled calls included", () => {
    const scaler = new DemandScaler(policy);
    arrive(scaler, 0, 1000, 12);
    expect(scaler.demand(999)).toBe(12);
    expect(scaler.target(999)).toBe(3);
    expect(scaler.demand(5000)).toBe(0);
  });

  it("clamps the target to min and max", () => {
    const scaler = new DemandScaler(policy);
    arrive(scaler, 0, 1000, 100);
    expect(scaler.target(999)).toBe(4);
    expect(scaler.target(10_000)).toBe(1);
  });

  it("raises desired only after demand stayed higher for the scale-up delay", () => {
    const scaler = new DemandScaler(policy);
    let desired = 1;
    const decisions: [number, number][] = [];
    let nextArrival = 0;
    for (let t = 0; t <= 4000; t += 100) {
      // 14 calls per second, evenly spaced: 3 units' worth at 5 TPS per unit.
      for (; nextArrival < t + 100; nextArrival += 1000 / 14) scaler.recordArrival(nextArrival);
      const next = scaler.decide(t + 99, desired);
      if (next !== desired) decisions.push([t + 99, next]);
      desired = next;
    }
    // Demand first exceeds one unit's worth at t = 399 (6 calls in the window);
    // it stays above from then on, so desired moves 2 s later, to the target then.
    expect(decisions).toEqual([[2399, 3]]);
  });

  it("lowers desired only after demand stayed lower for the scale-down delay, a blip resets it", () => {
    const scaler = new DemandScaler(policy);
    expect(scaler.decide(1000, 3)).toBe(3); // no demand: pending down since 1000
    expect(scaler.decide(3500, 3)).toBe(3);
    arrive(scaler, 3600, 4000, 40); // back up to 3 units' worth
    expect(scaler.decide(3999, 3)).toBe(3); // equal: pending cleared
    expect(scaler.decide(5100, 3)).toBe(3); // down again, since 5100
    expect(scaler.decide(8099, 3)).toBe(3);
    expect(scaler.decide(8100, 3)).toBe(1);
  });
});

describe("DemandScaler threshold", () => {
  it("sizes each unit for the threshold's share of its TPS, never outside Min..Max", () => {
    const scaler = new DemandScaler({ ...policy, threshold: 0.6 });
    arrive(scaler, 0, 1000, 5);
    // 5 calls/s against 3 per unit (60 % of 5): 2 units, where threshold 1 keeps 1.
    expect(scaler.target(999)).toBe(2);
    const plain = new DemandScaler(policy);
    arrive(plain, 0, 1000, 5);
    expect(plain.target(999)).toBe(1);
    arrive(scaler, 1000, 2000, 100);
    expect(scaler.target(1999)).toBe(4);
  });
});

describe("emulator auto-scaling flags", () => {
  it("sets the evaluation window and threshold, and refuses a threshold above 1", () => {
    expect(
      parseCommandLine(["--demand-window-ms", "2000", "--scaling-threshold", "0.8"]),
    ).toMatchObject({ demandWindowMs: 2000, scalingThreshold: 0.8 });
    expect(() => parseCommandLine(["--scaling-threshold", "1.5"])).toThrow(/--scaling-threshold/);
  });
});

describe("BillingMeter", () => {
  it("integrates units over time across changes and sessions", () => {
    const meter = new BillingMeter();
    meter.open(0, 2);
    meter.setUnits(10_000, 3); // 20 unit-s
    expect(meter.unitSeconds(15_000)).toBe(35);
    meter.close(20_000); // + 30 unit-s
    expect(meter.unitSeconds(99_000)).toBe(50);
    meter.setUnits(30_000, 5); // closed: ignored
    meter.open(100_000, 1);
    meter.close(103_600);
    expect(meter.unitSeconds(200_000)).toBeCloseTo(53.6, 9);
    expect(meter.sessionsAt(200_000)).toEqual([
      { startedAt: 0, endedAt: 20_000, unitSeconds: 50 },
      { startedAt: 100_000, endedAt: 103_600, unitSeconds: 3.6 },
    ]);
  });
});
