import type { RekognitionClient } from "@aws-sdk/client-rekognition";
import { describe, expect, it } from "vitest";
import { stepLoadProbe } from "../../src/calibration.ts";
import type { Clock } from "../../src/runtime.ts";

/**
 * The step-load probe against a model stand-in: a token bucket of `units x
 * tpsPerUnit` with one second of burst, on a clock that jumps to each
 * sleep's end, so every figure is exact.
 */

function jumpingClock(): Clock {
  let now = 0;
  return {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
  };
}

function tokenBucketModel(clock: Clock, tps: number, refused: Set<string> = new Set()) {
  let tokens = tps;
  let last = clock.now();
  const calls: string[] = [];
  const rekognition = {
    send: async (command: { input: { Image: { S3Object: { Name: string } } } }) => {
      const key = command.input.Image.S3Object.Name;
      calls.push(key);
      if (refused.has(key)) {
        throw Object.assign(new Error("bad image"), { name: "InvalidImageFormatException" });
      }
      tokens = Math.min(tps, tokens + ((clock.now() - last) / 1000) * tps);
      last = clock.now();
      if (tokens < 1) {
        throw Object.assign(new Error("over the limit"), {
          name: "ProvisionedThroughputExceededException",
        });
      }
      tokens -= 1;
      return { CustomLabels: [] };
    },
  } as unknown as RekognitionClient;
  return { rekognition, calls };
}

const ARN = "arn:aws:rekognition:us-east-1:123456789012:project/p/version/v/1";

describe("stepLoadProbe", () => {
  it("finds the limit although the burst lets one step above it pass clean", async () => {
    const clock = jumpingClock();
    const { rekognition } = tokenBucketModel(clock, 2 * 6);
    const result = await stepLoadProbe({
      rekognition,
      projectVersionArn: ARN,
      images: { bucket: "b", keys: ["a.jpg", "b.jpg"] },
      units: 2,
      clock,
      startTpsPerUnit: 4,
      stepSeconds: 3,
    });
    expect(result.steps.map((s) => s.tpsPerUnit)).toEqual([4, 5, 6, 7, 8]);
    expect(result.steps[3]?.throttled).toBe(0); // 7 passes on the burst
    expect(result.steps[4]?.throttledShare).toBeGreaterThan(0.02);
    expect(result).toMatchObject({ measured: true, units: 2 });
    // Read from the calls accepted while throttled, in whole calls.
    expect(result.tpsPerUnit).toBeCloseTo(6, 0);
    expect(result.tpsPerUnit).toBeLessThan(7);
    expect(result.stoppedBecause).toMatch(/throttled at 8 TPS per unit/);
  });

  it("is bounded: stops before passing maxCalls and reports a lower bound", async () => {
    const clock = jumpingClock();
    const { rekognition, calls } = tokenBucketModel(clock, 100);
    const result = await stepLoadProbe({
      rekognition,
      projectVersionArn: ARN,
      images: { bucket: "b", keys: ["a.jpg"] },
      units: 1,
      clock,
      stepSeconds: 2,
      maxCalls: 29,
    });
    // 2 + 4 + 6 + 8 = 20 calls; the 10-call step would pass 29.
    expect(calls).toHaveLength(20);
    expect(result).toMatchObject({ tpsPerUnit: 4, measured: false });
    expect(result.stoppedBecause).toMatch(/29-call bound/);
  });

  it("drops images the model refuses, and fails when every image is refused", async () => {
    const clock = jumpingClock();
    const refused = new Set(["bad.jpg"]);
    const { rekognition, calls } = tokenBucketModel(clock, 3, refused);
    const result = await stepLoadProbe({
      rekognition,
      projectVersionArn: ARN,
      images: { bucket: "b", keys: ["bad.jpg", "good.jpg"] },
      units: 1,
      clock,
      stepSeconds: 2,
    });
    expect(calls.filter((key) => key === "bad.jpg")).toHaveLength(1);
    expect(result.steps[0]?.rejectedImages).toBe(1);
    expect(result.tpsPerUnit).toBe(3);

    await expect(
      stepLoadProbe({
        rekognition,
        projectVersionArn: ARN,
        images: { bucket: "b", keys: ["bad.jpg"] },
        units: 1,
        clock,
      }),
    ).rejects.toThrow(/refused every image/);
  });
});
