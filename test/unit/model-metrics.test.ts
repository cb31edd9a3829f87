import { CloudWatchClient, GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import {
  inferenceHoursFromInService,
  latestUnitFigures,
  metricsPeriodFromEnv,
  modelMetricDimensions,
  readUnitMetrics,
} from "../../src/model-metrics.ts";

/** The model's unit metrics read with GetMetricData (CloudWatch mocked at the SDK). */

const ARN =
  "arn:aws:rekognition:eu-west-1:123456789012:project/shelf-audit/version/v7/1700000000000";
const cloudwatchMock = mockClient(CloudWatchClient);
const cloudwatch = new CloudWatchClient({
  region: "eu-west-1",
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
});
const at = (seconds: number) => new Date(seconds * 1000);
const T = 1_800_000_000; // a multiple of 60

afterEach(() => cloudwatchMock.reset());

describe("readUnitMetrics", () => {
  it("asks for the four metrics of the version in one call: AWS/Rekognition, ProjectName + VersionName, Average per period", async () => {
    cloudwatchMock.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    await readUnitMetrics({
      cloudwatch,
      projectVersionArn: ARN,
      fromMs: (T + 10) * 1000,
      toMs: (T + 130) * 1000,
    });
    const calls = cloudwatchMock.commandCalls(GetMetricDataCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]?.args[0].input;
    // Whole minutes around the range.
    expect(input?.StartTime).toEqual(at(T));
    expect(input?.EndTime).toEqual(at(T + 180));
    expect(input?.ScanBy).toBe("TimestampAscending");
    expect(input?.MetricDataQueries?.map((q) => [q.Id, q.MetricStat?.Metric?.MetricName])).toEqual([
      ["inService", "InServiceInferenceUnits"],
      ["desired", "DesiredInferenceUnits"],
      ["min", "MinInferenceUnits"],
      ["max", "MaxInferenceUnits"],
    ]);
    for (const query of input?.MetricDataQueries ?? []) {
      expect(query.MetricStat).toMatchObject({
        Metric: {
          Namespace: "AWS/Rekognition",
          Dimensions: [
            { Name: "ProjectName", Value: "shelf-audit" },
            { Name: "VersionName", Value: "v7" },
          ],
        },
        Period: 60,
        Stat: "Average",
      });
    }
  });

  it("follows NextToken and merges the pages of each metric in time order", async () => {
    cloudwatchMock
      .on(GetMetricDataCommand)
      .resolvesOnce({
        MetricDataResults: [
          {
            Id: "inService",
            Timestamps: [at(T), at(T + 60)],
            Values: [1, 2],
            StatusCode: "PartialData",
          },
          { Id: "desired", Timestamps: [at(T)], Values: [2], StatusCode: "Complete" },
        ],
        NextToken: "page-2",
      })
      .resolvesOnce({
        MetricDataResults: [
          { Id: "inService", Timestamps: [at(T + 120)], Values: [4], StatusCode: "Complete" },
          { Id: "max", Timestamps: [at(T + 120)], Values: [4], StatusCode: "Complete" },
        ],
      });
    const reading = await readUnitMetrics({
      cloudwatch,
      projectVersionArn: ARN,
      fromMs: T * 1000,
      toMs: (T + 180) * 1000,
    });
    const calls = cloudwatchMock.commandCalls(GetMetricDataCommand);
    expect(calls).toHaveLength(2);
    expect(calls[1]?.args[0].input.NextToken).toBe("page-2");
    expect(reading.series.inService).toEqual([
      { t: T, value: 1 },
      { t: T + 60, value: 2 },
      { t: T + 120, value: 4 },
    ]);
    expect(reading.series.desired).toEqual([{ t: T, value: 2 }]);
    expect(latestUnitFigures(reading)).toEqual({
      inService: { value: 4, at: at(T + 120).toISOString() },
      desired: { value: 2, at: at(T).toISOString() },
      max: { value: 4, at: at(T + 120).toISOString() },
    });
  });

  it("passes CloudWatch's errors (no permission) to the caller", async () => {
    cloudwatchMock.on(GetMetricDataCommand).rejects(
      Object.assign(new Error("not authorized to perform: cloudwatch:GetMetricData"), {
        name: "AccessDenied",
      }),
    );
    await expect(
      readUnitMetrics({ cloudwatch, projectVersionArn: ARN, fromMs: 0, toMs: 60_000 }),
    ).rejects.toMatchObject({ name: "AccessDenied" });
  });

  it("refuses a period CloudWatch would refuse, before calling it", async () => {
    await expect(
      readUnitMetrics({
        cloudwatch,
        projectVersionArn: ARN,
        fromMs: 0,
        toMs: 1,
        periodSeconds: 45,
      }),
    ).rejects.toThrow(/periodSeconds must be 1, 5, 10, 30 or a multiple of 60, got 45/);
    expect(cloudwatchMock.commandCalls(GetMetricDataCommand)).toHaveLength(0);
  });
});

describe("inferenceHoursFromInService", () => {
  it("sums Average x period over the periods the model ran", () => {
    // 30 minutes at 1 unit, then 15 at 3, then 15 at 2: 0.5 + 0.75 + 0.5 hours.
    const points = [
      ...Array.from({ length: 30 }, (_, i) => ({ t: T + i * 60, value: 1 })),
      ...Array.from({ length: 15 }, (_, i) => ({ t: T + (30 + i) * 60, value: 3 })),
      ...Array.from({ length: 15 }, (_, i) => ({ t: T + (45 + i) * 60, value: 2 })),
    ];
    expect(inferenceHoursFromInService(points, 60)).toBeCloseTo(1.75, 12);
  });

  it("counts a period's Average, so a unit added halfway through a minute is half a unit-minute", () => {
    expect(inferenceHoursFromInService([{ t: T, value: 1.5 }], 60)).toBeCloseTo(1.5 / 60, 12);
  });

  it("is zero without datapoints, and hourly datapoints count whole hours", () => {
    expect(inferenceHoursFromInService([], 60)).toBe(0);
    expect(
      inferenceHoursFromInService(
        [
          { t: T, value: 2 },
          { t: T + 3600, value: 2 },
        ],
        3600,
      ),
    ).toBe(4);
  });
});

describe("dimensions and settings", () => {
  it("takes ProjectName and VersionName from the version ARN, and names a bad ARN", () => {
    expect(modelMetricDimensions(ARN)).toEqual({ ProjectName: "shelf-audit", VersionName: "v7" });
    expect(() => modelMetricDimensions("arn:aws:rekognition:eu-west-1:1:project/p/1")).toThrow(
      /projectVersionArn must look like .*got "arn:aws:rekognition:eu-west-1:1:project\/p\/1"/,
    );
  });

  it("reads MODEL_METRICS_PERIOD_SECONDS: 60 by default, CloudWatch's periods only", () => {
    expect(metricsPeriodFromEnv({})).toBe(60);
    expect(metricsPeriodFromEnv({ MODEL_METRICS_PERIOD_SECONDS: "1" })).toBe(1);
    expect(metricsPeriodFromEnv({ MODEL_METRICS_PERIOD_SECONDS: "300" })).toBe(300);
    expect(() => metricsPeriodFromEnv({ MODEL_METRICS_PERIOD_SECONDS: "90" })).toThrow(
      /MODEL_METRICS_PERIOD_SECONDS must be 1, 5, 10, 30 or a multiple of 60, got "90"/,
    );
  });
});
