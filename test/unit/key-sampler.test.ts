import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KeySampler } from "../../src/key-sampler.ts";

describe("KeySampler", () => {
  it("keeps every key of a short stream, and evenly spaced keys of a long one", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5_000 }), fc.integer({ min: 2, max: 64 }), (n, max) => {
        const sampler = new KeySampler(max);
        const keys = Array.from({ length: n }, (_, i) => String(i).padStart(5, "0"));
        for (const key of keys) sampler.add(key);
        const samples = sampler.samples;
        expect(sampler.count).toBe(n);
        if (n <= max) expect(samples).toEqual(keys);
        else {
          expect(samples.length).toBeGreaterThan(max / 2);
          expect(samples.length).toBeLessThanOrEqual(max);
          // Every stride-th key from the first: evenly spaced by position.
          const stride = Number(samples[1]) - Number(samples[0]);
          expect(samples).toEqual(samples.map((_, i) => String(i * stride).padStart(5, "0")));
          expect(n - Number(samples.at(-1))).toBeLessThanOrEqual(stride);
        }
      }),
    );
  });
});
