import { CloudWatchClient, GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { buildRunSummary } from "../../src/report/build-summary.ts";
import { unitsLine } from "../../src/report/end-of-run.ts";
import type { RunSummaryInput } from "../../src/report/run-summary.ts";
import { type RunSummary, writeRunReport } from "../../src/report/summary.ts";
import { measuredUsage, readRunUnitMetrics } from "../../src/report/unit-metrics.ts";
import { silentLogger } from "../../src/runtime.ts";
import { FakeClock } from "../support/fake-clock.ts";
import {
  iso,
  makeBatch,
  makePlan,
  steadyTimeline,
  T0,
  unitMetricsRead,
} from "../support/report-fixtures.ts";

/** The report's use of the model's CloudWatch unit metrics, and its fallbacks. */

const cloudwatchMock = mockClient(CloudWatchClient);
const s3Mock = mockClient(S3Client);
const credentials = { accessKeyId: "test", secretAccessKey: "test" };
const cloudwatch = new CloudWatchClient({ region: "us-east-1", credentials });
afterEach(() => {
  cloudwatchMock.reset();
  s3Mock.reset();
});

const ownedModel = {
  action: "started",
  owned: true,
  status: "STARTING",
  startRequestedAt: iso(T0),
  units: 1,
};

function input(overrides: Partial<RunSummaryInput> = {}): RunSummaryInput {
  return {
    plan: makePlan(),
    batches: [
      makeBatch({ items: 4, labels: { red: 4 }, timeline: steadyTimeline(T0 + 300, 2, 2) }),
    ],
    mapRan: true,
    skipped: [],
    model: ownedModel,
    stop: { stopped: true, reason: "completed", stopRequestedAt: iso(T0 + 600) },
    clock: new FakeClock((T0 + 620) * 1000),
    ...overrides,
  };
}

/** One InServiceInferenceUnits datapoint a minute: `units[i]` in minute i from T0. */
function perMinute(units: number[], desired?: number[]) {
  return unitMetricsRead(
    units.map((u, i) => ({
      t: T0 + i * 60,
      units: u,
      ...(desired ? { desired: desired[i] } : {}),
    })),
    60,
  );
}

describe("readRunUnitMetrics", () => {
  const read = () =>
    readRunUnitMetrics({
      cloudwatch,
      projectVersionArn: makePlan().context.projectVersionArn,
      fromMs: T0 * 1000,
      toMs: (T0 + 600) * 1000,
      periodSeconds: 60,
      logger: silentLogger,
    });

  it("turns a refused GetMetricData into a reason naming the permission", async () => {
    cloudwatchMock
      .on(GetMetricDataCommand)
      .rejects(Object.assign(new Error("User is not authorized"), { name: "AccessDenied" }));
    expect(await read()).toEqual({
      status: "unavailable",
      reason: expect.stringContaining(
        "no permission to read CloudWatch metrics (cloudwatch:GetMetricData)",
      ),
    });
  });

  it("says when CloudWatch has no data yet", async () => {
    cloudwatchMock.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    expect(await read()).toEqual({
      status: "unavailable",
      reason: expect.stringContaining(
        "no InServiceInferenceUnits data for this model over the run yet",
      ),
    });
  });
});

describe("measured inference hours", () => {
  it("sums InServiceInferenceUnits per period: 5 minutes at 1, 5 at 3 = 20 unit-minutes", () => {
    const usage = measuredUsage({
      outcome: perMinute([1, 1, 1, 1, 1, 3, 3, 3, 3, 3]),
      owned: true,
      stopRequestedAtMs: (T0 + 600) * 1000,
      pricePerUnitHour: 4,
    });
    expect(usage).toMatchObject({
      status: "measured",
      datapoints: 10,
      complete: true,
      periodSeconds: 60,
    });
    expect(usage.inferenceHours).toBeCloseTo(20 / 60, 12);
    expect(usage.cost).toBeCloseTo((20 / 60) * 4, 12);
  });

  it("flags data that ends well before the stop (CloudWatch lags) as a lower bound", () => {
    const usage = measuredUsage({
      outcome: perMinute([1, 1, 1]),
      owned: true,
      stopRequestedAtMs: (T0 + 600) * 1000,
      pricePerUnitHour: 4,
    });
    expect(usage.complete).toBe(false);
    expect(usage.note).toContain("publishes a few minutes late, so this is a lower bound");
  });

  it("measures nothing for a model this run did not start", () => {
    expect(
      measuredUsage({ outcome: perMinute([2]), owned: false, pricePerUnitHour: 4 }).status,
    ).toBe("not-this-run");
  });
});

describe("the summary with the model's metrics", () => {
  it("charts units in service and desired from the metrics, and puts estimate and measured side by side", () => {
    const summary = buildRunSummary(
      input({
        plan: makePlan({ sizing: { ...makePlan().sizing, maxInferenceUnits: 4 } }),
        unitMetrics: perMinute([1, 1, 2, 4, 4, 4, 4, 4, 2, 1], [1, 2, 4, 4, 4, 4, 4, 4, 1, 1]),
      }),
    );
    expect(summary.units.source).toBe("cloudwatch");
    expect(summary.units.metrics.status).toBe("read");
    expect(summary.units.timeline.slice(0, 4)).toEqual([
      { t: T0, units: 1, desired: 1 },
      { t: T0 + 60, units: 1, desired: 2 },
      { t: T0 + 120, units: 2, desired: 4 },
      { t: T0 + 180, units: 4, desired: 4 },
    ]);
    expect(summary.billing.measured.inferenceHours).toBeCloseTo(27 / 60, 12);
    const rows = Object.fromEntries(summary.planVsActual.map((r) => [r.name, r.actual]));
    expect(rows["Inference hours (measured, CloudWatch)"]).toBeCloseTo(27 / 60, 12);
    expect(rows["Inference hours (estimate from request times)"]).toBe(
      summary.billing.inferenceHours,
    );
    expect(unitsLine(summary)).toBe("1 -> 4 in service (auto-scaling, max 4), desired peak 4");
  });

  it("falls back to the estimate and says why when the metrics could not be read", () => {
    const summary = buildRunSummary(
      input({
        unitMetrics: { status: "unavailable", reason: "no permission to read CloudWatch metrics" },
      }),
    );
    expect(summary.units.source).toBe("constant");
    expect(summary.units.metrics).toEqual({
      status: "unavailable",
      note: "Not read: no permission to read CloudWatch metrics.",
    });
    expect(summary.billing.measured.status).toBe("unavailable");
    expect(summary.billing.inferenceHours).toBeCloseTo(600 / 3600, 12);
    expect(summary.warnings.join(" ")).toContain(
      "Not measured: no permission to read CloudWatch metrics",
    );
    expect(unitsLine(summary)).toBe(
      "1 (started with; Not read: no permission to read CloudWatch metrics.)",
    );
  });

  it("prints a fixed-units run as N in service", () => {
    expect(unitsLine(buildRunSummary(input({ unitMetrics: perMinute([2, 2, 2]) })))).toBe(
      "2 in service",
    );
  });
});

describe("writeRunReport with CloudWatch refusing", () => {
  it("still writes summary.json and report.html, saying the hours were not measured", async () => {
    cloudwatchMock.on(GetMetricDataCommand).rejects(
      Object.assign(new Error("not authorized to perform cloudwatch:GetMetricData"), {
        name: "AccessDenied",
      }),
    );
    s3Mock.on(ListObjectsV2Command).resolves({});
    s3Mock.on(GetObjectCommand).rejects(Object.assign(new Error("missing"), { name: "NoSuchKey" }));
    s3Mock.on(PutObjectCommand).resolves({});
    const plan = makePlan({ counts: { listed: 0, pending: 0, skipped: 0, alreadyDone: 0 } });
    await writeRunReport({
      s3: new S3Client({ region: "us-east-1", credentials }),
      cloudwatch,
      state: {
        plan,
        model: ownedModel,
        stop: { stopped: true, reason: "completed", stopRequestedAt: iso(T0 + 600) },
      },
      clock: new FakeClock((T0 + 620) * 1000),
      logger: silentLogger,
    });
    expect(cloudwatchMock.commandCalls(GetMetricDataCommand)).toHaveLength(1);
    const puts = s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    const summaryPut = puts.find((p) => p.Key?.endsWith("summary.json"));
    const summary = JSON.parse(String(summaryPut?.Body)) as RunSummary;
    expect(summary.billing.measured.status).toBe("unavailable");
    expect(summary.billing.measured.note).toContain("cloudwatch:GetMetricData");
    const page = String(puts.find((p) => p.Key?.endsWith("report.html"))?.Body);
    expect(page).toContain("Inference hours: planned, estimated, measured");
    expect(page).toContain("Not measured: no permission to read CloudWatch metrics");
  });
});
