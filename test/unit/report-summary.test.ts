import { describe, expect, it } from "vitest";
import type { LearnedTps } from "../../src/learned-tps.ts";
import { buildRunSummary } from "../../src/report/build-summary.ts";
import { measureCapacity, nextLearnedTps } from "../../src/report/capacity.ts";
import type { FailedBatch } from "../../src/report/map-results.ts";
import type { RunSummaryInput } from "../../src/report/run-summary.ts";
import { learnedTpsFromSummary } from "../../src/report/summary.ts";
import {
  mergeTimelines,
  observeThroughput,
  percentile,
  unitSeconds,
} from "../../src/report/throughput.ts";
import type { SkippedObject } from "../../src/shapes.ts";
import { FakeClock } from "../support/fake-clock.ts";
import {
  iso,
  makeBatch,
  makePlan,
  PROJECT_VERSION_ARN,
  steadyTimeline,
  T0,
  unitMetricsRead,
} from "../support/report-fixtures.ts";

const skippedTwo: SkippedObject[] = [
  { key: "incoming/notes.txt", size: 12, reason: "unsupported-extension", detail: ".txt" },
  { key: "incoming/readme.md", size: 40, reason: "unsupported-extension", detail: ".md" },
];

const ownedModel = {
  action: "started",
  owned: true,
  status: "STARTING",
  startRequestedAt: iso(T0 + 10),
  units: 2,
};

function input(overrides: Partial<RunSummaryInput> = {}): RunSummaryInput {
  return {
    plan: makePlan(),
    batches: [
      makeBatch({
        items: 4,
        labels: { red: 3, blue: 1 },
        timeline: steadyTimeline(T0 + 300, 2, 2),
      }),
      makeBatch({
        items: 2,
        failures: [{ key: "incoming/bad.jpg", error: "InvalidImageFormat", message: "bad" }],
        labels: { red: 1, green: 1 },
        timeline: steadyTimeline(T0 + 301, 2, 1),
      }),
    ],
    mapRan: true,
    skipped: skippedTwo,
    model: ownedModel,
    check: { status: "RUNNING", checkedAt: iso(T0 + 250) },
    stop: { stopped: true, reason: "completed", stopRequestedAt: iso(T0 + 310) },
    clock: new FakeClock((T0 + 320) * 1000),
    ...overrides,
  };
}

describe("reconciliation", () => {
  it("reconciles the result parts' lines with the outcomes, and says where they differ", () => {
    const parts = (succeeded: number, failed: number) => ({
      prefix: "rekognition-results/runs/r/results/",
      parts: 2,
      lines: succeeded + failed,
      byStatus: { succeeded, failed, unreadable: 0 },
    });
    const whole = buildRunSummary(input({ resultParts: parts(5, 1) }));
    expect(whole.reconciled).toBe(true);
    expect(whole.resultParts).toMatchObject({ lines: 6, parts: 2 });
    expect(whole.checks.find((c) => c.name === "result parts")).toMatchObject({
      equation: "lines in the result parts 6 = succeeded 5 + failed 1 + unreadable 0",
      ok: true,
    });

    // A line written twice (or a part left over) is more lines than outcomes.
    const doubled = buildRunSummary(input({ resultParts: parts(6, 1) }));
    expect(doubled.reconciled).toBe(false);
    expect(doubled.outcome).toBe("incomplete");
    expect(doubled.discrepancies.join(" ")).toContain(
      "hold 7 lines for 6 finished images: succeeded 6 in the parts, 5 counted",
    );

    // As many lines, but one of the wrong status.
    const swapped = buildRunSummary(input({ resultParts: parts(6, 0) }));
    expect(swapped.reconciled).toBe(false);
    expect(swapped.checks.find((c) => c.name === "result part statuses")?.ok).toBe(false);

    // Parts that could not be read: nothing claimed about them.
    const unread = buildRunSummary(input());
    expect(unread.resultParts).toBeUndefined();
    expect(unread.checks.map((c) => c.name)).not.toContain("result parts");
  });

  it("reconciles a run where every pending image has an outcome", () => {
    const summary = buildRunSummary(input());
    expect(summary.counts).toMatchObject({
      listed: 10,
      pending: 6,
      skipped: 2,
      alreadyDone: 2,
      succeeded: 5,
      failed: 1,
      unaccounted: 0,
    });
    expect(summary.reconciled).toBe(true);
    expect(summary.checks.every((c) => c.ok)).toBe(true);
    expect(summary.discrepancies).toEqual([]);
    expect(summary.outcome).toBe("succeeded-with-failures");
    expect(summary.failures.images).toEqual([
      { key: "incoming/bad.jpg", error: "InvalidImageFormat", message: "bad" },
    ]);
    expect(summary.skipped.byReason).toEqual([{ reason: "unsupported-extension", count: 2 }]);
    expect(summary.skipped.list).toHaveLength(2);
  });

  it("says which items are missing when a batch failed", () => {
    const failed: FailedBatch = {
      name: "batch-3",
      status: "FAILED",
      error: "RetriesExhausted",
      cause: "calls kept failing",
      items: 3,
      keys: ["incoming/a.jpg", "incoming/b.jpg", "incoming/c.jpg"],
    };
    const plan = makePlan({ counts: { listed: 13, pending: 9, skipped: 2, alreadyDone: 2 } });
    const summary = buildRunSummary(input({ plan, failedBatches: [failed] }));
    expect(summary.reconciled).toBe(false);
    expect(summary.counts.unaccounted).toBe(3);
    expect(summary.counts.failedBatches).toBe(1);
    const pendingCheck = summary.checks.find((c) => c.name === "pending items");
    expect(pendingCheck).toMatchObject({ left: 9, right: 6, ok: false });
    expect(summary.discrepancies).toHaveLength(1);
    expect(summary.discrepancies[0]).toContain("3 pending images have no outcome");
    expect(summary.discrepancies[0]).toContain(
      "3 items were in 1 batch that did not succeed (RetriesExhausted)",
    );
    expect(summary.outcome).toBe("incomplete");
    expect(summary.failures.batches).toEqual([failed]);
  });

  it("names items no batch can explain, and a map that never ran", () => {
    const plan = makePlan({ counts: { listed: 12, pending: 8, skipped: 2, alreadyDone: 2 } });
    const lost = buildRunSummary(input({ plan }));
    expect(lost.discrepancies[0]).toContain("2 cannot be traced to any batch");

    const noMap = buildRunSummary(
      input({
        plan,
        batches: [],
        mapRan: false,
        failure: { Error: "ModelStartTimeout", Cause: "still STARTING after 30 min" },
      }),
    );
    expect(noMap.counts.unaccounted).toBe(8);
    expect(noMap.discrepancies[0]).toContain("the Distributed Map did not run");
    expect(noMap.outcome).toBe("failed");
    expect(noMap.outcomeNote).toContain("ModelStartTimeout");
  });

  it("writes a Lambda error's JSON cause into the note as errorType: errorMessage", () => {
    const plan = makePlan({ counts: { listed: 12, pending: 8, skipped: 2, alreadyDone: 2 } });
    const failed = buildRunSummary(
      input({
        plan,
        batches: [],
        mapRan: false,
        failure: {
          Error: "Sandbox.Timedout",
          Cause: JSON.stringify({
            errorType: "Sandbox.Timedout",
            errorMessage: "RequestId: 1f2e Error: Task timed out after 330.00 seconds",
          }),
        },
      }),
    );
    expect(failed.outcomeNote).toBe(
      "The workflow failed: Sandbox.Timedout (Sandbox.Timedout: RequestId: 1f2e Error: Task timed out after 330.00 seconds).",
    );
  });

  it("flags a skipped list that does not match the plan, and double counting", () => {
    const short = buildRunSummary(input({ skipped: skippedTwo.slice(0, 1) }));
    expect(short.reconciled).toBe(false);
    expect(short.checks.find((c) => c.name === "skipped list")?.ok).toBe(false);
    expect(short.discrepancies[0]).toContain("the skipped list holds 1");

    const plan = makePlan({ counts: { listed: 9, pending: 5, skipped: 2, alreadyDone: 2 } });
    const doubled = buildRunSummary(input({ plan }));
    expect(doubled.reconciled).toBe(false);
    expect(doubled.discrepancies[0]).toContain("1 more than there were");
  });

  it("checks the plan's own counts and every batch's totals", () => {
    const plan = makePlan({ counts: { listed: 11, pending: 6, skipped: 2, alreadyDone: 2 } });
    const summary = buildRunSummary(input({ plan }));
    expect(summary.checks.find((c) => c.name === "listed objects")).toMatchObject({
      left: 11,
      right: 10,
      ok: false,
    });
    const broken = makeBatch({ items: 4 });
    broken.succeeded = 3;
    const batchSummary = buildRunSummary(
      input({ batches: [broken, makeBatch({ items: 3 })], plan: makePlan() }),
    );
    expect(batchSummary.checks.find((c) => c.name === "batch totals")?.ok).toBe(false);
  });

  it("reports nothing to do without a model", () => {
    const plan = makePlan({ counts: { listed: 4, pending: 0, skipped: 2, alreadyDone: 2 } });
    const summary = buildRunSummary({
      plan,
      batches: [],
      mapRan: false,
      skipped: skippedTwo,
      clock: new FakeClock((T0 + 20) * 1000),
    });
    expect(summary.outcome).toBe("nothing-to-do");
    expect(summary.reconciled).toBe(true);
    expect(summary.billing.inferenceHours).toBe(0);
    expect(summary.billing.cost).toBe(0);
    expect(summary.billing.units).toBe(0);
    expect(summary.capacity).toBeUndefined();
  });
});

describe("a failure list capped by the batches", () => {
  // 6 pending: one batch of 4 all failed but named only 1 (its sample was
  // full), one of 2 that succeeded.
  const capped = () =>
    input({
      batches: [
        makeBatch({
          items: 4,
          failures: [
            { key: "incoming/bad-0.jpg", error: "InvalidS3ObjectException", message: "m" },
          ],
          failuresOmitted: 3,
          timeline: steadyTimeline(T0 + 300, 2, 2),
        }),
        makeBatch({ items: 2, labels: { red: 2 }, timeline: steadyTimeline(T0 + 301, 2, 1) }),
      ],
    });

  it("reconciles from the counts, not from the length of the list", () => {
    const summary = buildRunSummary(capped());
    expect(summary.counts).toMatchObject({ pending: 6, succeeded: 2, failed: 4, unaccounted: 0 });
    expect(summary.reconciled).toBe(true);
    expect(summary.checks.find((c) => c.name === "failure records")).toMatchObject({
      left: 4,
      right: 4,
      ok: true,
    });
    expect(summary.outcome).toBe("succeeded-with-failures");
  });

  it("says how many failed, how many it names, and where every failure is recorded", () => {
    const summary = buildRunSummary(capped());
    expect(summary.failures).toMatchObject({
      imagesTotal: 4,
      imagesTruncated: true,
      ledger: { bucket: makePlan().context.resultsBucket, prefix: "weekly/results/" },
    });
    expect(summary.failures.images).toHaveLength(1);
  });

  it("still catches a batch whose failures do not add up", () => {
    const broken = capped();
    const first = broken.batches[0];
    if (!first) throw new Error("fixture");
    broken.batches = [{ ...first, failuresOmitted: 1 }, ...broken.batches.slice(1)];
    const summary = buildRunSummary(broken);
    expect(summary.reconciled).toBe(false);
    expect(summary.discrepancies.join(" ")).toContain("4 images failed but 2 failures");
  });

  it("warns that the label counts are incomplete when batches left labels out", () => {
    const withOmitted = capped();
    const second = withOmitted.batches[1];
    if (!second) throw new Error("fixture");
    withOmitted.batches = [withOmitted.batches[0] as never, { ...second, labelsOmitted: 7 }];
    const summary = buildRunSummary(withOmitted);
    expect(summary.warnings.join(" ")).toContain("label counts are incomplete");
  });
});

describe("timeline merge", () => {
  it("sums calls of the same second across batches and zero-fills idle seconds", () => {
    const merged = mergeTimelines([
      [
        { t: 100, accepted: 3, throttled: 0 },
        { t: 101, accepted: 2, throttled: 1 },
      ],
      [
        { t: 101.4, accepted: 4, throttled: 0 },
        { t: 104, accepted: 1, throttled: 2 },
      ],
    ]);
    expect(merged).toEqual([
      { t: 100, accepted: 3, throttled: 0 },
      { t: 101, accepted: 6, throttled: 1 },
      { t: 102, accepted: 0, throttled: 0 },
      { t: 103, accepted: 0, throttled: 0 },
      { t: 104, accepted: 1, throttled: 2 },
    ]);
    expect(mergeTimelines([])).toEqual([]);
  });

  it("puts the limit (units x planned TPS per unit) on every chart point", () => {
    const summary = buildRunSummary(
      input({
        unitMetrics: unitMetricsRead([
          { t: T0, units: 2 },
          { t: T0 + 301, units: 1 },
        ]),
      }),
    );
    expect(summary.throughput.timeline.map((p) => [p.t - T0, p.accepted, p.limit])).toEqual([
      [300, 2, 10],
      [301, 3, 5],
      [302, 1, 5],
    ]);
  });
});

describe("observed throughput", () => {
  const limit = () => 10;
  const twoUnits = () => 2;

  it("takes the mean rate over the seconds from the first to the last accepted call", () => {
    const timeline = mergeTimelines([
      steadyTimeline(1000, 20, 10),
      [{ t: 990, accepted: 0, throttled: 3 }],
    ]);
    const observed = observeThroughput(timeline, limit, twoUnits);
    expect(observed.activeSeconds).toBe(20);
    expect(observed.acceptedCalls).toBe(200);
    expect(observed.meanTps).toBe(10);
    expect(observed.tpsPerUnit).toBe(5);
    expect(observed.shareOfLimit).toBe(1);
    expect(observed.throttledCalls).toBe(3);
    expect(observed.firstAcceptedAt).toBe(iso(1000));
    expect(observed.lastAcceptedAt).toBe(iso(1020));
  });

  it("counts idle seconds between batches against the mean, not against the p90", () => {
    const timeline = mergeTimelines([steadyTimeline(1000, 10, 10), steadyTimeline(1020, 10, 10)]);
    const observed = observeThroughput(timeline, limit, twoUnits);
    expect(observed.activeSeconds).toBe(30);
    expect(observed.meanTps).toBeCloseTo(200 / 30, 10);
    expect(observed.p90Tps).toBe(10);
    expect(observed.tpsPerUnit).toBeCloseTo(200 / 30 / 2, 10);
  });

  it("is all zeros when no call was accepted", () => {
    const observed = observeThroughput([], limit, twoUnits);
    expect(observed).toMatchObject({ activeSeconds: 0, meanTps: 0, tpsPerUnit: 0 });
  });

  it("reports calls, throttles and their ratio from the batches", () => {
    const summary = buildRunSummary(
      input({
        batches: [makeBatch({ items: 6, timeline: steadyTimeline(T0 + 300, 10, 9, 5) })],
        plan: makePlan(),
      }),
    );
    expect(summary.throughput.calls).toBe(92);
    expect(summary.throughput.throttled).toBe(2);
    expect(summary.throughput.throttledRatio).toBeCloseTo(2 / 92, 10);
    expect(summary.throughput.observed.tpsPerUnit).toBe(4.5);
    expect(percentile([5, 1, 3, 2, 4], 0.5)).toBe(3);
  });

  it("reports the tail: from the first worker without work to the last batch's end", () => {
    const summary = buildRunSummary(
      input({
        batches: [
          makeBatch({ items: 4, startedAt: iso(T0 + 300), endedAt: iso(T0 + 390) }),
          makeBatch({ items: 2, startedAt: iso(T0 + 300), endedAt: iso(T0 + 400) }),
        ],
      }),
    );
    expect(summary.throughput.tail).toMatchObject({
      startedAt: iso(T0 + 390),
      endedAt: iso(T0 + 400),
      seconds: 10,
      processingSeconds: 100,
      share: 0.1,
    });
  });
});

describe("billed inference hours", () => {
  it("multiplies the units by the time from start request to stop request", () => {
    const summary = buildRunSummary(
      input({
        model: { ...ownedModel, startRequestedAt: iso(T0) },
        stop: { stopped: true, reason: "completed", stopRequestedAt: iso(T0 + 1800) },
      }),
    );
    expect(summary.billing.owned).toBe(true);
    expect(summary.billing.billedSeconds).toBe(1800);
    expect(summary.billing.inferenceHours).toBe(1);
    expect(summary.billing.cost).toBe(4);
    expect(summary.billing.estimate).toBe(true);
    expect(summary.billing.note).toContain("Estimate");
  });

  it("integrates a units timeline (auto-scaling or a lost unit)", () => {
    const summary = buildRunSummary(
      input({
        model: { ...ownedModel, startRequestedAt: iso(T0) },
        stop: { stopped: true, reason: "completed", stopRequestedAt: iso(T0 + 1800) },
        unitMetrics: unitMetricsRead([
          { t: T0 + 900, units: 3 },
          { t: T0, units: 2 },
        ]),
      }),
    );
    expect(summary.billing.inferenceHours).toBe(1.25);
    expect(unitSeconds([], 0, 10, 2)).toBe(20);
  });

  it("is zero when the model was already running (not this run's)", () => {
    const summary = buildRunSummary(
      input({
        model: { action: "adopted", owned: false, status: "RUNNING", units: 2 },
        stop: { stopped: false, reason: "not ours" },
      }),
    );
    expect(summary.billing.inferenceHours).toBe(0);
    expect(summary.billing.cost).toBe(0);
    expect(summary.billing.note).toContain("already running");
    expect(summary.warnings).toEqual([]);
  });

  it("counts up to the report and warns when an owned model has no stop request", () => {
    const summary = buildRunSummary(input({ stop: { stopped: false, reason: "lease not ours" } }));
    expect(summary.billing.billedSeconds).toBe(310);
    expect(summary.warnings.join(" ")).toContain("may still be running");
  });

  it("gives an upper bound when auto-scaling without a units timeline", () => {
    const plan = makePlan();
    plan.sizing.maxInferenceUnits = 4;
    const summary = buildRunSummary(
      input({
        plan,
        model: { ...ownedModel, startRequestedAt: iso(T0) },
        stop: { stopped: true, reason: "completed", stopRequestedAt: iso(T0 + 900) },
      }),
    );
    expect(summary.billing.inferenceHours).toBe(0.5);
    expect(summary.billing.upperBoundInferenceHours).toBe(1);
  });
});

describe("phases and plan against actual", () => {
  it("times start-up, processing and the stop after the last image", () => {
    const summary = buildRunSummary(input({ executionStartedAt: iso(T0) }));
    const seconds = Object.fromEntries(summary.phases.map((p) => [p.name, p.seconds]));
    expect(seconds).toEqual({ plan: 5, start: 240, processing: 3, stop: 7, report: 10 });
    const row = (name: string) => summary.planVsActual.find((r) => r.name === name);
    expect(row("Start-up")).toMatchObject({ planned: 300, actual: 240 });
    expect(row("Processing")).toMatchObject({ planned: 600, actual: 3 });
  });

  it("merges and ranks the label histogram", () => {
    const summary = buildRunSummary(input());
    expect(summary.labels).toEqual([
      { label: "red", images: 4 },
      { label: "blue", images: 1 },
      { label: "green", images: 1 },
    ]);
  });
});

describe("learned TPS rule", () => {
  const units = () => 2;
  const limit = () => 10;

  it("measures capacity from the seconds in which the model throttled", () => {
    const timeline = [...steadyTimeline(0, 5, 12, 1), ...steadyTimeline(5, 20, 9)];
    const capacity = measureCapacity(timeline, units, limit);
    expect(capacity).toMatchObject({ kind: "measured", tpsPerUnit: 6, sampleSeconds: 5, units: 2 });
  });

  it("records a lower bound when the run held its own limit without throttling", () => {
    const capacity = measureCapacity(steadyTimeline(0, 30, 10), units, limit);
    expect(capacity).toMatchObject({ kind: "lower-bound", tpsPerUnit: 5, sampleSeconds: 30 });
  });

  it("yields nothing when the run never pushed the model to its limit", () => {
    expect(measureCapacity(steadyTimeline(0, 60, 7), units, limit)).toBeUndefined();
    // A few throttled seconds are a burst, not a measurement.
    expect(measureCapacity(steadyTimeline(0, 4, 7, 1), units, limit)).toBeUndefined();
  });

  const record = (over: Partial<LearnedTps>): LearnedTps => ({
    tpsPerUnit: 5,
    measured: true,
    basis: "",
    sampleSeconds: 10,
    units: 2,
    projectVersionArn: PROJECT_VERSION_ARN,
    runId: "r",
    measuredAt: iso(T0),
    ...over,
  });

  it("never lets a lower bound replace a measurement it does not contradict", () => {
    const measured = record({ tpsPerUnit: 6 });
    const lower = record({ tpsPerUnit: 5, measured: false });
    expect(nextLearnedTps(measured, lower)).toBeUndefined();
    const higher = record({ tpsPerUnit: 7, measured: false });
    expect(nextLearnedTps(measured, higher)).toBe(higher);
    const otherModel = { ...lower, projectVersionArn: `${PROJECT_VERSION_ARN}-other` };
    expect(nextLearnedTps(measured, otherModel)).toBe(otherModel);
    expect(nextLearnedTps(undefined, lower)).toBe(lower);
    // A record from before the flag existed is a measurement.
    const { measured: _, ...legacy } = measured;
    expect(nextLearnedTps(legacy, lower)).toBeUndefined();
  });

  it("always stores a new measurement, and nothing when there is none", () => {
    const old = record({ tpsPerUnit: 8 });
    const fresh = record({ tpsPerUnit: 4.5 });
    expect(nextLearnedTps(old, fresh)).toBe(fresh);
    expect(nextLearnedTps(old, undefined)).toBeUndefined();
  });

  it("turns a run that throttled into a measured record for the next plan", () => {
    const summary = buildRunSummary(
      input({
        batches: [
          makeBatch({ items: 3, timeline: steadyTimeline(T0 + 300, 6, 11, 1) }),
          makeBatch({ items: 3, timeline: steadyTimeline(T0 + 300, 6, 1) }),
        ],
      }),
    );
    const learned = learnedTpsFromSummary(summary);
    expect(learned).toMatchObject({
      tpsPerUnit: 6,
      measured: true,
      projectVersionArn: PROJECT_VERSION_ARN,
      runId: summary.runId,
    });
  });
});
