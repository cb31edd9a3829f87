import { describe, expect, it } from "vitest";
import {
  AdaptiveRateController,
  checkOutRateController,
  type RateController,
} from "../../src/rate-controller.ts";
import { FakeClock, settle } from "../support/fake-clock.ts";

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
    // No probing in this test: pacing only.
    const rate = new AdaptiveRateController({ plannedTps: 10, clock, burst: 1, quietMs: 60_000 });
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
    const rate = new AdaptiveRateController({ plannedTps: 10, clock });
    queueAcquirers(rate, 10_000);
    await clock.advance(100);
    rate.onThrottle();
    expect(rate.stats()).toMatchObject({ rateTps: 8, throttledAtTps: 10 });
    await clock.advance(900);
    expect(rate.stats()).toMatchObject({ rateTps: 8, probes: 0 });
    // From 1 s after the throttle, one probe per second: halfway (but at least
    // 5 % of planned) back to 95 % of the throttled rate, then 5 % of a step
    // at a time up to the throttled rate, then full steps.
    const rates: number[] = [];
    for (let second = 0; second < 5; second += 1) {
      // Sampled half a second after each probe is due.
      await clock.advance(second === 0 ? 600 : 1000);
      rates.push(rate.stats().rateTps);
    }
    expect(rates.map((r) => r.toFixed(3))).toEqual(["8.750", "9.250", "9.500", "9.525", "9.550"]);
    await clock.advance(18_000); // through the band below the throttled rate
    expect(rate.stats().rateTps).toBeCloseTo(10, 6);
    await clock.advance(2000);
    expect(rate.stats().rateTps).toBeCloseTo(11, 6);
    await clock.advance(60_000);
    expect(rate.stats().rateTps).toBe(20);
    const { probes } = rate.stats();
    await clock.advance(10_000);
    expect(rate.stats()).toMatchObject({ rateTps: 20, probes });
  });

  it("probes in full steps when it has never been throttled", async () => {
    const clock = new FakeClock();
    const rate = new AdaptiveRateController({ plannedTps: 10, clock });
    queueAcquirers(rate, 10_000);
    await clock.advance(3500);
    expect(rate.stats()).toMatchObject({ rateTps: 11.5, probes: 3 });
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
