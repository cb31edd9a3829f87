import { describe, expect, it } from "vitest";
import { AdaptiveRateController } from "../../src/adaptive-rate-controller.ts";
import { autoScalingPace } from "../../src/auto-scaling-pace.ts";
import { checkOutRateController, type RateController } from "../../src/rate-controller.ts";
import { FakeClock, settle } from "../support/fake-clock.ts";

/** Runs `action` once the fake clock has advanced `ms`. */
function setTimeoutOn(clock: FakeClock, ms: number, action: () => void): void {
  void clock.sleep(ms).then(action);
}

/** Queues `count` acquirers and records when each was granted. */
function queueAcquirers(rate: RateController, count: number, signal?: AbortSignal) {
  const grants: number[] = [];
  const rejections: unknown[] = [];
  for (let i = 0; i < count; i += 1) {
    rate.acquire(signal).then(
      (t) => grants.push(t),
      (reason) => rejections.push(reason),
    );
  }
  return { grants, rejections };
}

describe("AdaptiveRateController", () => {
  it("grants exactly the planned rate plus the burst, spaced evenly", async () => {
    const clock = new FakeClock();
    const start = clock.now();
    const rate = new AdaptiveRateController({ plannedTps: 10, clock, burst: 1, ceilingFactor: 1 });
    const { grants } = queueAcquirers(rate, 200);
    await settle();
    expect(grants).toHaveLength(1);
    await clock.advance(5000);
    expect(grants).toHaveLength(51);
    expect(grants.slice(0, 4).map((t) => t - start)).toEqual([0, 100, 200, 300]);
    // No window of one second holds more than rate + burst grants.
    for (const t of grants) {
      expect(grants.filter((g) => g >= t && g < t + 1000).length).toBeLessThanOrEqual(11);
    }
    expect(rate.stats()).toMatchObject({ granted: 51, rateTps: 10, cuts: 0, probes: 0 });
  });

  it("holds a small burst only: after a long idle spell, at most `burst` calls go at once", async () => {
    const clock = new FakeClock();
    const rate = new AdaptiveRateController({ plannedTps: 50, clock });
    await clock.advance(60_000);
    const { grants } = queueAcquirers(rate, 100);
    await settle();
    expect(grants).toHaveLength(5); // a tenth of a second's worth
  });

  it("cuts the rate on a throttle and paces the waiters at the new rate", async () => {
    const clock = new FakeClock();
    // No probing in this test: pacing only; the first cut as any other.
    const rate = new AdaptiveRateController({
      plannedTps: 10,
      clock,
      burst: 1,
      quietMs: 60_000,
      modelBurstSeconds: 0,
    });
    const { grants } = queueAcquirers(rate, 100);
    await clock.advance(1000);
    expect(grants).toHaveLength(11);
    rate.onThrottle(grants.at(-1));
    expect(rate.stats()).toMatchObject({ rateTps: 8, cuts: 1, throttles: 1 });
    const before = grants.length;
    await clock.advance(1000);
    // Saved tokens are dropped at a cut; 8 per second afterwards (one every 125 ms).
    expect(grants.length - before).toBe(8);
    await clock.advance(1000);
    expect(grants.length - before).toBe(16);
  });

  it("cuts at most once per window, and not for calls sent before the last cut", async () => {
    const clock = new FakeClock();
    const rate = new AdaptiveRateController({ plannedTps: 10, clock });
    const sentEarly = clock.now();
    await clock.advance(500);
    for (let i = 0; i < 5; i += 1) rate.onThrottle();
    expect(rate.stats()).toMatchObject({ cuts: 1, throttles: 5, rateTps: 8 });
    await clock.advance(400);
    rate.onThrottle();
    expect(rate.stats().cuts).toBe(1);
    await clock.advance(1000);
    // The window is over, but this call left before the cut: same congestion.
    rate.onThrottle(sentEarly);
    expect(rate.stats().cuts).toBe(1);
    rate.onThrottle(clock.now());
    expect(rate.stats()).toMatchObject({ cuts: 2, throttles: 8 });
    expect(rate.stats().rateTps).toBeCloseTo(6.4, 10);
  });

  it("never cuts below the floor", () => {
    const clock = new FakeClock();
    const rate = new AdaptiveRateController({
      plannedTps: 10,
      clock,
      cutWindowMs: 0,
      floorFactor: 0.2,
    });
    for (let i = 0; i < 50; i += 1) rate.onThrottle();
    expect(rate.stats().rateTps).toBe(2);
  });

  it("probes upward after a quiet period while there is demand, up to the ceiling", async () => {
    const clock = new FakeClock();
    const rate = new AdaptiveRateController({ plannedTps: 10, clock, modelBurstSeconds: 0 });
    queueAcquirers(rate, 10_000);
    await clock.advance(100);
    rate.onThrottle();
    expect(rate.stats()).toMatchObject({ rateTps: 8, throttledAtTps: 10 });
    await clock.advance(900);
    expect(rate.stats()).toMatchObject({ rateTps: 8, probes: 0 });
    // From 1 s after the throttle, one probe per second: halfway (but at least
    // 5 % of planned) back to 90 % of the throttled rate, then 5 % of a step
    // at a time up to the throttled rate, then full steps.
    const rates: number[] = [];
    for (let second = 0; second < 5; second += 1) {
      // Sampled half a second after each probe is due.
      await clock.advance(second === 0 ? 600 : 1000);
      rates.push(rate.stats().rateTps);
    }
    expect(rates.map((r) => r.toFixed(3))).toEqual(["8.500", "9.000", "9.025", "9.050", "9.075"]);
    // The band below the throttled rate holds for 15 s without a throttle
    // (staleAfterMs), then that rate is old news: steps double again.
    await clock.advance(13_000);
    expect(rate.stats().rateTps).toBeLessThan(10);
    expect(rate.stats().throttledAtTps).toBe(10);
    await clock.advance(5000);
    expect(rate.stats().throttledAtTps).toBeUndefined();
    await clock.advance(60_000);
    expect(rate.stats().rateTps).toBe(20);
    const { probes } = rate.stats();
    await clock.advance(10_000);
    expect(rate.stats()).toMatchObject({ rateTps: 20, probes });
  });

  it("doubles its step with every probe in a row when it has never been throttled, up to a quarter of the rate", async () => {
    const clock = new FakeClock();
    const rate = new AdaptiveRateController({ plannedTps: 10, clock });
    queueAcquirers(rate, 10_000);
    const rates: string[] = [];
    for (let second = 0; second < 6; second += 1) {
      await clock.advance(second === 0 ? 1500 : 1000);
      rates.push(rate.stats().rateTps.toFixed(3));
    }
    // +0.5, +1, +2, then 25 % of the rate (13.5 -> 16.875), then the ceiling (2x).
    expect(rates).toEqual(["10.500", "11.500", "13.500", "16.875", "20.000", "20.000"]);
  });

  it("after a throttle, starts its doubling over from one step", async () => {
    const clock = new FakeClock();
    const rate = new AdaptiveRateController({ plannedTps: 10, clock, staleAfterMs: 0 });
    queueAcquirers(rate, 10_000);
    await clock.advance(3500); // 13.5 after three probes in a row
    rate.onThrottle();
    expect(rate.stats().rateTps).toBeCloseTo(10.8, 6);
    // Back towards 95 % of 13.5 (12.825) halfway per step, then (band stale at once) one step.
    await clock.advance(1500);
    await clock.advance(1000);
    await clock.advance(1000);
    const before = rate.stats().rateTps;
    await clock.advance(1000);
    expect(rate.stats().rateTps - before).toBeLessThanOrEqual(1.000001);
  });

  it("cuts deeper than its cut factor when most calls since the last cut were throttled", async () => {
    const clock = new FakeClock();
    const rate = new AdaptiveRateController({
      plannedTps: 20,
      clock,
      burst: 1,
      modelBurstSeconds: 0,
    });
    const { grants } = queueAcquirers(rate, 10_000);
    await clock.advance(100);
    rate.onThrottle(grants.at(-1)); // the first throttle: 20 -> 16, nothing measured yet
    expect(rate.stats().rateTps).toBeCloseTo(16, 6);
    const cutAt = clock.now();
    // Within the cut window, 2 of every 5 calls granted since the cut come back throttled.
    let granted = 0;
    for (let step = 0; step < 9; step += 1) {
      await clock.advance(100);
      const sinceCut = grants.filter((t) => t >= cutAt);
      for (const t of sinceCut.slice(granted)) {
        granted += 1;
        if (granted % 5 === 1 || granted % 5 === 3) {
          rate.onThrottle(t);
        }
      }
    }
    expect(rate.stats().cuts).toBe(1); // one cut per window
    expect(granted).toBeGreaterThanOrEqual(10);
    await clock.advance(100);
    rate.onThrottle(grants.at(-1));
    // The rate becomes what got through, about 60 % of 16 (a fixed cut would leave 12.8).
    expect(rate.stats().rateTps).toBeGreaterThan(16 * 0.5);
    expect(rate.stats().rateTps).toBeLessThan(16 * 0.6);
    expect(rate.stats().cuts).toBe(2);
  });

  it("does not probe while nobody waits for a token", async () => {
    const clock = new FakeClock();
    const rate = new AdaptiveRateController({ plannedTps: 10, clock });
    await clock.advance(30_000);
    await rate.acquire();
    expect(rate.stats()).toMatchObject({ rateTps: 10, probes: 0 });
  });

  it("does not raise a rate that callers wait on but use only half of (another bottleneck sets the pace)", async () => {
    const clock = new FakeClock();
    const rate = new AdaptiveRateController({ plannedTps: 10, clock });
    // Two calls at once every 400 ms: 5 calls/s, and the second of each pair waits for a token.
    for (let i = 0; i < 25; i += 1) {
      queueAcquirers(rate, 2);
      await clock.advance(400);
    }
    expect(rate.stats()).toMatchObject({ rateTps: 10, probes: 0, granted: 50 });
    // Once demand uses the rate, probing resumes.
    queueAcquirers(rate, 10_000);
    await clock.advance(3500);
    expect(rate.stats().probes).toBeGreaterThan(0);
  });

  it("a throttle resets the quiet period", async () => {
    const clock = new FakeClock();
    const rate = new AdaptiveRateController({ plannedTps: 10, clock });
    queueAcquirers(rate, 10_000);
    for (let i = 0; i < 5; i += 1) {
      await clock.advance(900);
      rate.onThrottle(clock.now());
    }
    expect(rate.stats().probes).toBe(0);
    // Cuts at 0.9 s, 2.7 s and 4.5 s; the throttles between fell inside a cut window.
    expect(rate.stats().cuts).toBe(3);
  });

  it("an aborted acquire rejects with the reason and takes no token", async () => {
    const clock = new FakeClock();
    const rate = new AdaptiveRateController({ plannedTps: 10, clock, burst: 1, ceilingFactor: 1 });
    await rate.acquire(); // empties the bucket
    const controller = new AbortController();
    const aborted = queueAcquirers(rate, 3, controller.signal);
    const other = queueAcquirers(rate, 1);
    await clock.advance(50);
    const reason = new Error("stop");
    controller.abort(reason);
    await settle();
    expect(aborted.rejections).toEqual([reason, reason, reason]);
    await clock.advance(50);
    expect(other.grants).toHaveLength(1);
    await expect(rate.acquire(controller.signal)).rejects.toBe(reason);
    expect(rate.stats().granted).toBe(2);
  });

  it.each([
    { model: "strict (no burst)", burst: 1, planned: 1 },
    { model: "strict (no burst)", burst: 1, planned: 2 },
    { model: "one second of burst", burst: 5, planned: 1 },
    { model: "one second of burst", burst: 5, planned: 2 },
  ])(
    "settles just under the capacity of a $model model when planned at x$planned: most of its throughput, few throttles",
    async ({ burst, planned }) => {
      // The model: a token bucket of `capacity` calls per second holding `burst` tokens.
      const clock = new FakeClock();
      const capacity = 5;
      let modelTokens = burst;
      let modelAt = clock.now();
      const modelAdmits = () => {
        const now = clock.now();
        modelTokens = Math.min(burst, modelTokens + ((now - modelAt) / 1000) * capacity);
        modelAt = now;
        if (modelTokens < 1) return false;
        modelTokens -= 1;
        return true;
      };
      const rate = new AdaptiveRateController({ plannedTps: planned * capacity, clock });
      let accepted = 0;
      let throttled = 0;
      let running = true;
      const worker = async () => {
        while (running) {
          const grantedAt = await rate.acquire();
          if (modelAdmits()) accepted += 1;
          else {
            throttled += 1;
            rate.onThrottle(grantedAt);
          }
        }
      };
      const workers = [worker(), worker(), worker(), worker()];
      const seconds = 600;
      await clock.advance(seconds * 1000);
      running = false;
      await clock.advance(2000);
      await Promise.all(workers);

      const throughput = accepted / seconds / capacity;
      const throttleRatio = throttled / (accepted + throttled);
      expect(throughput).toBeGreaterThan(0.93);
      expect(throttleRatio).toBeLessThan(0.02);
    },
  );

  it("with a ceiling (auto-scaling), probes past twice the plan up to the ceiling", async () => {
    const clock = new FakeClock();
    const rate = new AdaptiveRateController({ plannedTps: 5, clock, ...autoScalingPace(5, 20) });
    queueAcquirers(rate, 100_000);
    await clock.advance(60_000);
    expect(rate.stats()).toMatchObject({ rateTps: 20, ceilingTps: 20 });
  });

  it("lets a tolerated share of throttles hold the rate, and cuts beyond it", async () => {
    const clock = new FakeClock();
    const rate = new AdaptiveRateController({ plannedTps: 10, clock, toleratedThrottleShare: 0.3 });
    queueAcquirers(rate, 100_000);
    await clock.advance(2000); // about 20 grants in the share window
    rate.onThrottle();
    rate.onThrottle();
    expect(rate.stats()).toMatchObject({ cuts: 0, throttles: 2 });
    const held = rate.stats().rateTps;
    await clock.advance(500); // the throttles keep it from probing
    expect(rate.stats().rateTps).toBe(held);
    for (let i = 0; i < 10; i += 1) rate.onThrottle();
    expect(rate.stats().cuts).toBe(1);
  });

  it("with auto-scaling, drives a model that adds units on excess demand to its maximum, throttles kept few", async () => {
    // The model: starts with 1 unit of 5 TPS (a second's worth of burst); while the calls arriving over the
    // last second exceed what is in service for 3 s, it adds a unit, which
    // serves 2 s later; at most 4 units.
    const clock = new FakeClock();
    const tpsPerUnit = 5;
    let units = 1;
    let adding = false;
    let excessSince: number | undefined;
    const arrivals: number[] = [];
    let modelTokens = 1;
    let modelAt = clock.now();
    const modelAdmits = () => {
      const now = clock.now();
      arrivals.push(now);
      while ((arrivals[0] as number) <= now - 1000) arrivals.shift();
      if (!adding && units < 4 && arrivals.length > units * tpsPerUnit) {
        excessSince ??= now;
        if (now - excessSince >= 3000) {
          adding = true;
          excessSince = undefined;
          setTimeoutOn(clock, 2000, () => {
            units += 1;
            adding = false;
          });
        }
      } else if (arrivals.length <= units * tpsPerUnit) excessSince = undefined;
      // A second's worth of burst, as the emulator's bucket holds.
      const capacity = units * tpsPerUnit;
      modelTokens = Math.min(capacity, modelTokens + ((now - modelAt) / 1000) * capacity);
      modelAt = now;
      if (modelTokens < 1) return false;
      modelTokens -= 1;
      return true;
    };
    // One worker, planned at the one unit, allowed the four.
    const rate = new AdaptiveRateController({ plannedTps: 5, clock, ...autoScalingPace(5, 20) });
    let accepted = 0;
    let throttled = 0;
    let running = true;
    const worker = async () => {
      while (running) {
        const grantedAt = await rate.acquire();
        if (modelAdmits()) accepted += 1;
        else {
          throttled += 1;
          rate.onThrottle(grantedAt);
        }
      }
    };
    const workers = [worker(), worker(), worker()];
    await clock.advance(120_000);
    const acceptedAtTwoMinutes = accepted;
    await clock.advance(60_000);
    running = false;
    await clock.advance(5000);
    await Promise.all(workers);

    expect(units).toBe(4);
    // The last minute at (nearly) the four units' 20 TPS.
    expect((accepted - acceptedAtTwoMinutes) / 60).toBeGreaterThan(18);
    expect(throttled / (accepted + throttled)).toBeLessThan(0.05);
  });

  it("rejects a rate that is not positive", () => {
    expect(() => new AdaptiveRateController({ plannedTps: 0, clock: new FakeClock() })).toThrow(
      /plannedTps/,
    );
  });

  it("hands a warm process's controller to its next batch, but a separate one to a concurrent batch", () => {
    const clock = new FakeClock();
    const key = { runId: "r1", projectVersionArn: "arn:a", plannedTps: 5 };
    const first = checkOutRateController(key, clock);
    const concurrent = checkOutRateController({ ...key }, clock);
    expect(concurrent.controller).not.toBe(first.controller);
    first.release();
    first.release();
    const next = checkOutRateController({ ...key }, clock);
    expect(next.controller).toBe(first.controller);
    expect(checkOutRateController({ ...key }, clock).controller).not.toBe(first.controller);
    next.release();
    concurrent.release();
    expect(checkOutRateController({ ...key, runId: "r2" }, clock).controller).not.toBe(
      first.controller,
    );
  });

  it("checks out a controller of another algorithm when given its factory", async () => {
    const clock = new FakeClock();
    const granted: number[] = [];
    // A fixed pace: lets every call through at once and ignores throttles.
    const fixed = ({ plannedTps }: { plannedTps: number }): RateController => ({
      acquire: async () => {
        granted.push(clock.now());
        return clock.now();
      },
      onThrottle: () => {},
      stats: () => ({ plannedTps, rateTps: plannedTps, granted: granted.length, throttles: 0 }),
    });
    const key = { runId: "r-fixed", projectVersionArn: "arn:a", plannedTps: 3 };
    const lease = checkOutRateController(key, clock, fixed);
    expect(lease.controller).not.toBeInstanceOf(AdaptiveRateController);
    await Promise.all([1, 2, 3, 4].map(() => lease.controller.acquire()));
    expect(lease.controller.stats()).toEqual({
      plannedTps: 3,
      rateTps: 3,
      granted: 4,
      throttles: 0,
    });
    lease.release();
  });
});

describe("AdaptiveRateController, the first throttle of a fresh controller", () => {
  // The model holds a second of burst: a plan over its capacity is throttled
  // only once that is spent, by then at capacity x (elapsed + 1 s) admitted.
  it("cuts straight to the share the model admitted when throttled within seconds of its start", async () => {
    const clock = new FakeClock();
    const rate = new AdaptiveRateController({ plannedTps: 10, clock, burst: 1, quietMs: 60_000 });
    const { grants } = queueAcquirers(rate, 100);
    await clock.advance(1400);
    expect(grants).toHaveLength(15);
    rate.onThrottle(grants.at(-1));
    // 15 calls over 1.4 s + 1 s of burst: 6.25 of the 10 calls/s fit, not 8.
    expect(rate.stats().rateTps).toBeCloseTo(6.25, 6);
    // As if cut by 0.8 from a throttled rate of 7.8: the climb back stops well below 10.
    expect(rate.stats().throttledAtTps).toBeCloseTo(6.25 / 0.8, 6);
  });

  it("cuts by the usual factor once the plan has held for seconds, and never below deepestCutFactor", async () => {
    const clock = new FakeClock();
    const late = new AdaptiveRateController({ plannedTps: 10, clock, burst: 1, quietMs: 60_000 });
    const { grants } = queueAcquirers(late, 100);
    await clock.advance(6000);
    late.onThrottle(grants.at(-1)); // 61 calls over 7 s: 0.87 of the rate, over cutFactor
    expect(late.stats()).toMatchObject({ rateTps: 8, throttledAtTps: 10 });

    const early = new AdaptiveRateController({ plannedTps: 10, clock, burst: 1 });
    queueAcquirers(early, 100);
    await clock.advance(100);
    early.onThrottle();
    expect(early.stats().rateTps).toBeCloseTo(5, 6);
  });

  it("leaves an auto-scaling model's first cut alone: its capacity in service is no limit", async () => {
    const clock = new FakeClock();
    const rate = new AdaptiveRateController({
      plannedTps: 10,
      clock,
      burst: 1,
      quietMs: 60_000,
      ...autoScalingPace(10, 20),
    });
    const { grants } = queueAcquirers(rate, 100);
    await clock.advance(1400);
    // The 5th throttle of 15 calls is over the tolerated share: the usual
    // cut, to what got through (not to 15 / (2.4 s x 10) = 0.625 of the rate).
    for (let i = 0; i < 6; i += 1) rate.onThrottle(grants.at(-1));
    expect(rate.stats().cuts).toBe(1);
    expect(rate.stats().rateTps).toBeCloseTo(10 * (1 - 5 / 15), 6);
  });
});
