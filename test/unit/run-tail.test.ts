import { describe, expect, it } from "vitest";
import { resultLine, runFigures } from "../../harness/bench/figures.ts";
import type { TimelineSecond } from "../../harness/local/emulator/index.ts";
import { tailOf } from "../../src/report/tail.ts";

const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1) + seconds * 1000).toISOString();
const batch = (from: number, to: number) => ({ startedAt: at(from), endedAt: at(to) });

describe("tailOf", () => {
  it("starts the tail at the first end after the last batch started", () => {
    // Two workers: batches 0-30 and 0-35, then 30-58 and 35-60. The last
    // batch starts at 35; the first end after it is 58.
    const tail = tailOf([batch(0, 30), batch(0, 35), batch(30, 58), batch(35, 60)]);
    expect(tail).toMatchObject({
      startedAt: at(58),
      endedAt: at(60),
      seconds: 2,
      processingSeconds: 60,
    });
    expect(tail?.share).toBeCloseTo(2 / 60, 10);
  });

  it("counts a worker that ends its only batch early as idle from then on", () => {
    const tail = tailOf([batch(0, 40), batch(0, 50)]);
    expect(tail).toMatchObject({ seconds: 10, processingSeconds: 50 });
    expect(tail?.share).toBeCloseTo(0.2, 10);
  });

  it("counts a worker that ends while the last batch is still starting elsewhere", () => {
    // Two workers. A: 0-10, then 10.5-20.5 (half a second between its end
    // and the next batch's start: the child's start, the invocation). B ends
    // its last batch at 10.2, after A was handed the last batch but before
    // that batch began: B is idle from 10.2 on.
    const tail = tailOf([batch(0, 10), batch(0, 10.2), batch(10.5, 20.5)]);
    expect(tail?.startedAt).toBe(at(10.2));
    expect(tail?.seconds).toBeCloseTo(10.3, 10);
  });

  it("starts the tail at the end that left a worker with nothing, with many short batches", () => {
    // Three workers, batches of about 2 s, 0.4 s from a worker's end to its
    // next batch's start. B is handed the last batch at 4.6, which begins at
    // 5; C ends its last (short) batch at 4.7, in between, and is idle.
    const a = [batch(0, 2), batch(2.4, 4.4), batch(4.8, 6.8)];
    const b = [batch(0, 2.1), batch(2.5, 4.6), batch(5, 7.1)];
    const c = [batch(0, 1.9), batch(2.3, 4.1), batch(4.5, 4.7)];
    const tail = tailOf([...a, ...b, ...c]);
    expect(tail?.startedAt).toBe(at(4.7));
    expect(tail?.seconds).toBeCloseTo(2.4, 10);
  });

  it("has no tail with a single batch, and nothing without batches or with unreadable times", () => {
    expect(tailOf([batch(0, 30)])).toMatchObject({ seconds: 0, share: 0 });
    expect(tailOf([])).toBeUndefined();
    expect(tailOf([{ startedAt: "soon", endedAt: at(3) }])).toBeUndefined();
  });
});

/** Seconds from epoch second 1000 on, each `[accepted, throttled]`, 4 units in service. */
function timeline(seconds: [number, number][]): TimelineSecond[] {
  return seconds.map(([accepted, throttled], i) => ({
    t: 1000 + i,
    accepted,
    throttled,
    desiredUnits: 4,
    inServiceUnits: 4,
  }));
}

describe("bench run figures", () => {
  const steady = timeline([
    [3, 0],
    [12, 1],
    [12, 0],
    [11, 0],
    [5, 0],
  ]);
  const base = {
    timeline: steady,
    // The whole seconds 1001-1003 lie inside the map run.
    map: { from: 1_000_500, to: 1_004_200 },
    capacityTps: 12,
    tailShare: 0.031,
    billedUnitSeconds: 102,
    estimatedUnitSeconds: 100,
    learnedTpsPerUnit: 2.94,
    learnedMeasured: true,
    trueTpsPerUnit: 3,
  };

  it("measures utilization against the model's real capacity and the rest as ratios", () => {
    const figures = runFigures(base);
    expect(figures.utilization).toBeCloseTo(35 / 3 / 12, 10);
    expect(figures.throttled).toBeCloseTo(1 / 44, 10);
    expect(figures.tail).toBe(0.031);
    expect(figures.costRatio).toBeCloseTo(1.02, 10);
    expect(figures.learnedTpsError).toBeCloseTo(0.02, 10);
    expect(figures.learnedMeasured).toBe(true);
  });

  it("leaves out what a run could not yield", () => {
    const figures = runFigures({
      ...base,
      map: { from: 0, to: 0 },
      tailShare: undefined,
      estimatedUnitSeconds: undefined,
      learnedTpsPerUnit: undefined,
      learnedMeasured: undefined,
    });
    expect(figures).toEqual({ throttled: 1 / 44 });
  });

  it("prints one RESULT line a script can split on spaces and '='", () => {
    expect(
      resultLine("misplan-slow", 1200, "ours", {
        utilization: 0.9623,
        throttled: 0.0181,
        tail: 0.0314,
        costRatio: 1.0204,
        learnedTpsError: 0.0213,
      }),
    ).toBe(
      "RESULT scenario=misplan-slow images=1200 runner=ours utilization=0.962 throttled=0.018 tail=0.031 costRatio=1.02 learnedTpsError=0.02",
    );
    expect(resultLine("saturation", 100, "naive", { utilization: 0.99, throttled: 0.14 })).toBe(
      "RESULT scenario=saturation images=100 runner=naive utilization=0.990 throttled=0.140 tail=- costRatio=- learnedTpsError=-",
    );
  });
});
