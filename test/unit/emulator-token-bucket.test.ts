import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TokenBucket } from "../../harness/local/emulator/token-bucket.ts";

const T0 = 1_000_000;

function takeAll(bucket: TokenBucket, now: number, attempts: number): number {
  let taken = 0;
  for (let i = 0; i < attempts; i++) if (bucket.tryTake(now)) taken++;
  return taken;
}

describe("TokenBucket", () => {
  it("starts full with one second of capacity as burst", () => {
    const bucket = new TokenBucket(10, T0);
    expect(takeAll(bucket, T0, 40)).toBe(10);
  });

  it("refills continuously at the rate, never beyond one second of it", () => {
    const bucket = new TokenBucket(10, T0);
    takeAll(bucket, T0, 10);
    expect(bucket.tryTake(T0 + 99)).toBe(false);
    expect(bucket.tryTake(T0 + 100)).toBe(true);
    expect(takeAll(bucket, T0 + 350, 10)).toBe(2);
    expect(takeAll(bucket, T0 + 60_000, 100)).toBe(10);
  });

  it("drops tokens above the new burst when the rate falls, refills faster when it rises", () => {
    const bucket = new TokenBucket(10, T0);
    bucket.setRate(5, T0);
    expect(takeAll(bucket, T0, 40)).toBe(5);
    bucket.setRate(20, T0);
    expect(takeAll(bucket, T0 + 500, 40)).toBe(10);
  });

  it("never accepts more than burst + rate x elapsed over any run of calls", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 200 }),
        (rate, gaps) => {
          const bucket = new TokenBucket(rate, T0);
          let now = T0;
          let accepted = 0;
          for (const gap of gaps) {
            now += gap;
            if (bucket.tryTake(now)) accepted++;
          }
          return accepted <= rate + (rate * (now - T0)) / 1000 + 1e-9;
        },
      ),
    );
  });

  it("a zero rate accepts nothing", () => {
    const bucket = new TokenBucket(0, T0);
    expect(takeAll(bucket, T0 + 10_000, 5)).toBe(0);
  });
});
