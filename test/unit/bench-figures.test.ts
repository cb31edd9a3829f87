import { describe, expect, it } from "vitest";
import {
  availableUtilization,
  callCounts,
  idleTailSeconds,
  minimumUnitSeconds,
  ratio,
  settleSeconds,
  utilization,
} from "../../harness/bench/figures.ts";
import { textTable } from "../../harness/bench/render.ts";
import {
  AWS_SETTINGS,
  PAPER_SIZES,
  paperRun,
  planListingCapacity,
  planShardCount,
  SERVICE_LIMITS,
} from "../../harness/bench/scale-on-paper.ts";
import type { TimelineSecond } from "../../harness/local/emulator/index.ts";

/** Seconds from epoch second 1000 on, each `[accepted, throttled, inServiceUnits]`. */
function timeline(seconds: [number, number, number][]): TimelineSecond[] {
  return seconds.map(([accepted, throttled, units], i) => ({
    t: 1000 + i,
    accepted,
    throttled,
    desiredUnits: units,
    inServiceUnits: units,
  }));
}

describe("benchmark figures", () => {
  const steady = timeline([
    [5, 0, 4],
    [100, 2, 4],
    [98, 0, 4],
    [100, 1, 4],
    [40, 0, 4],
  ]);

  it("counts calls and the throttle ratio over the whole timeline", () => {
    expect(callCounts(steady)).toEqual({
      accepted: 343,
      throttled: 3,
      calls: 346,
      throttleRatio: 3 / 346,
    });
    expect(callCounts([]).throttleRatio).toBe(0);
  });

  it("measures utilization over whole seconds only, ignoring partial edge seconds", () => {
    // Span 1000.5 s .. 1004.2 s: whole seconds 1001, 1002, 1003.
    const used = utilization(steady, { from: 1_000_500, to: 1_004_200 }, 100);
    expect(used.seconds).toBe(3);
    expect(used.acceptedPerSecond).toBeCloseTo(298 / 3, 10);
    expect(used.ratio).toBeCloseTo(298 / 300, 10);
  });

  it("measures utilization of the capacity available each second", () => {
    const halved = timeline([
      [100, 0, 4],
      [50, 5, 2],
      [45, 0, 2],
    ]);
    const used = availableUtilization(
      halved,
      { from: 1_000_000, to: 1_003_000 },
      (s) => s.inServiceUnits * 25,
    );
    expect(used.ratio).toBeCloseTo(195 / 200, 10);
  });

  it("finds when the accepted rate settles after a change, or that it never does", () => {
    const recovering = timeline([
      [100, 0, 4],
      [20, 30, 2],
      [30, 10, 2],
      [46, 1, 2],
      [48, 0, 2],
      [49, 0, 2],
      [50, 0, 2],
    ]);
    const capacity = (s: TimelineSecond) => s.inServiceUnits * 25;
    // Change at 1001.0 s; seconds 1003-1005 are the first three in a row >= 90 %.
    expect(settleSeconds(recovering, 1_001_000, capacity)).toBe(2);
    expect(settleSeconds(recovering, 1_001_000, capacity, { until: 1_004_000 })).toBeUndefined();
  });

  it("bounds the idle tail by the last second with an accepted call", () => {
    expect(idleTailSeconds(steady, 1_004_800)).toBeCloseTo(0.8, 10);
    expect(idleTailSeconds(timeline([[0, 3, 1]]), 1_000_000)).toBeUndefined();
  });

  it("prices the minimum: every unit through start-up, exact-rate processing and the stop", () => {
    // 6,000 images at 4 x 25 TPS = 60 s; 4 units x (3 + 60 + 1) s.
    expect(
      minimumUnitSeconds({
        images: 6000,
        units: 4,
        tpsPerUnit: 25,
        startupSeconds: 3,
        stopSeconds: 1,
      }),
    ).toBe(256);
    expect(ratio(269, 256)).toBeCloseTo(1.0508, 3);
    expect(ratio(1, 0)).toBeUndefined();
  });

  it("lays out a text table with aligned columns", () => {
    expect(
      textTable(
        ["name", "n"],
        [
          ["a", "10"],
          ["bb", "2"],
        ],
      ).split("\n"),
    ).toEqual(["name   n", "----  --", "a     10", "bb     2"]);
  });
});

describe("scale on paper", () => {
  const runs = PAPER_SIZES.map((images) => paperRun(images));

  it("sizes every backlog within the quota and every service limit, the Plan's included", () => {
    for (const run of runs) {
      expect(run.units).toBe(5);
      expect(run.provisionedTps).toBe(25);
      expect(run.batches * run.batchSize).toBeGreaterThanOrEqual(run.images);
      expect(run.batchBytes).toBeLessThanOrEqual(SERVICE_LIMITS.batchBytes);
      expect(run.batchSeconds).toBeLessThan(SERVICE_LIMITS.lambdaTimeoutSeconds);
      const over = run.limits.filter((limit) => !limit.ok).map((limit) => limit.name);
      expect(over).toEqual([]);
    }
  });

  it("checks the Plan's time and memory, one Lambda or sharded: time per shard stays bounded", () => {
    const [small, million, large] = runs;
    const limitOf = (run: typeof small, name: string) =>
      run?.limits.find((limit) => limit.name === name);
    for (const name of ["plan seconds", "plan shard seconds", "merge plan seconds"]) {
      expect(limitOf(small, name)?.limit).toBe(900);
    }
    expect(limitOf(small, "plan memory MB")?.limit).toBe(1024);
    expect(limitOf(small, "plan shard memory MB")?.limit).toBe(1024);
    expect(limitOf(small, "plan shards")?.limit).toBe(1000);
    // 100,000 images and as many results: one Plan lists them all, as before.
    expect(small?.plan.shards).toBe(1);
    expect(small?.plan.seconds).toBeCloseTo(
      AWS_SETTINGS.otherLambdaSeconds + 200 * AWS_SETTINGS.planSecondsPerThousand,
      6,
    );
    // 1 M and 10 M: one shard per 500,000 listed objects.
    expect(million?.plan.shards).toBe(4);
    expect(large?.plan.listedObjects).toBe(20_000_000);
    expect(large?.plan.shards).toBe(40);
    // Each shard lists 500,000 objects and reads the snapshot up to its range (the last: all).
    expect(large?.plan.shardSeconds).toBeCloseTo(
      AWS_SETTINGS.otherLambdaSeconds +
        500 * AWS_SETTINGS.planSecondsPerThousand +
        10_000 * AWS_SETTINGS.snapshotSkipSecondsPerThousand,
      6,
    );
    // The merge copies the 10 M-line manifest and the snapshot once.
    expect(large?.plan.mergeSeconds).toBeCloseTo(
      AWS_SETTINGS.otherLambdaSeconds +
        (10_000_000 * (AWS_SETTINGS.itemBytes + AWS_SETTINGS.snapshotBytesPerEntry)) /
          1e6 /
          AWS_SETTINGS.mergeCopyMbPerSecond,
      6,
    );
    // 40 shards run in one wave of the Map's 40.
    expect(large?.plan.wallSeconds).toBeCloseTo(
      (large?.plan.seconds ?? 0) +
        (large?.plan.shardSeconds ?? 0) +
        (large?.plan.mergeSeconds ?? 0),
      6,
    );
    expect(large?.plan.memoryMb).toBe(small?.plan.memoryMb);
    // A shard's budget sits well inside what one Lambda lists in its timeout.
    expect(AWS_SETTINGS.planShardObjects).toBeLessThan(planListingCapacity() * 2 * 0.5);
    expect(planShardCount(AWS_SETTINGS.planShardObjects)).toBe(1);
    expect(planShardCount(AWS_SETTINGS.planShardObjects + 1)).toBe(2);
  });

  it("finds where sharding meets its own wall: the snapshot each shard reads from its start", () => {
    // More images, more shards: each lists the same share, but the last one reads the whole
    // snapshot before its range, which reaches a Lambda's 900 s between 50 M and 200 M.
    const over = (images: number) =>
      paperRun(images)
        .limits.filter((limit) => !limit.ok)
        .map((limit) => limit.name);
    expect(over(50_000_000)).toEqual([]);
    expect(over(200_000_000)).toEqual(["plan shard seconds"]);
  });

  it("takes start-up plus images / provisioned TPS, and bills Rekognition for it", () => {
    const [hundredThousand] = runs;
    // 100,000 / 25 TPS = 4,000 s, plus 15 min start-up.
    expect(hundredThousand?.durationSeconds).toBe(4900);
    // Billed: 5 units x (900 s start-up + 1 s ramp-up + 4,000 s + the tail's idle
    // shares, half a batch of 4 % of 4,000 s x 2/3 workers, + 60 s stop)
    // = 6.965 inference hours x USD 4.
    expect(hundredThousand?.cost.rekognition).toBeCloseTo(27.86, 2);
  });

  it("counts one Lambda per batch plus the fixed ones, and S3 requests per image", () => {
    const run = paperRun(1_000_000);
    // plan + start + 30 checks (15 min / 30 s) + batches + stop + report, and the
    // sharded Plan's 4 shards (2 M listed objects) and its merge.
    expect(run.lambda.invocations).toBe(2 + 30 + run.batches + 2 + 4 + 1);
    // Per image: Rekognition's GET of it; per batch: the HEAD of its started mark.
    expect(run.s3.reads).toBe(1_000_000 + 2 * run.batches);
    // Per image its result; per batch its started mark.
    expect(run.s3.writes).toBeGreaterThanOrEqual(1_000_000 + run.batches);
    expect(run.cost.total).toBeCloseTo(
      run.cost.rekognition + run.cost.lambda + run.cost.s3 + run.cost.stepFunctions,
      10,
    );
  });

  it("keeps the parent's history constant while map children grow with the backlog", () => {
    // 1 M and 10 M images: both sharded Plans (the shards are map children too).
    const [, small, large] = runs;
    expect(large?.stepFunctions.parentHistoryEvents).toBe(small?.stepFunctions.parentHistoryEvents);
    expect(large?.stepFunctions.transitions).toBeGreaterThan(small?.stepFunctions.transitions ?? 0);
  });
});
