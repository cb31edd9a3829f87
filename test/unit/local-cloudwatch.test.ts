import { describe, expect, it } from "vitest";
import {
  getMetricData,
  type MetricSample,
} from "../../harness/local/cloudwatch/get-metric-data.ts";
import {
  type GetMetricDataRequest,
  parseCloudWatchRequest,
} from "../../harness/local/cloudwatch/request.ts";

/** The local CloudWatch endpoint: request parsing (one place) and GetMetricData's answers. */

const T = 1_800_000_000;
const HEADERS = {
  "content-type": "application/x-amz-json-1.0",
  "x-amz-target": "GraniteServiceVersion20100801.GetMetricData",
};

function query(id: string, metricName: string, period = 1, stat = "Average") {
  return {
    Id: id,
    MetricStat: {
      Metric: {
        Namespace: "AWS/Rekognition",
        MetricName: metricName,
        Dimensions: [
          { Name: "ProjectName", Value: "p" },
          { Name: "VersionName", Value: "v1" },
        ],
      },
      Period: period,
      Stat: stat,
    },
  };
}

function parse(body: unknown, headers: Record<string, string> = HEADERS, method = "POST") {
  return parseCloudWatchRequest({
    method,
    headers,
    body: Buffer.from(typeof body === "string" ? body : JSON.stringify(body)),
  });
}

describe("parseCloudWatchRequest", () => {
  it("reads what the AWS CLI sends (JSON 1.0, epoch seconds) into checked queries and the IAM action", () => {
    const request = parse({
      MetricDataQueries: [query("m1", "InServiceInferenceUnits", 60)],
      StartTime: T,
      EndTime: T + 3600.5,
    });
    expect(request).toEqual({
      operation: "GetMetricData",
      action: "cloudwatch:GetMetricData",
      queries: [
        {
          id: "m1",
          label: "InServiceInferenceUnits",
          returnData: true,
          namespace: "AWS/Rekognition",
          metricName: "InServiceInferenceUnits",
          dimensions: { ProjectName: "p", VersionName: "v1" },
          period: 60,
          stat: "Average",
        },
      ],
      startTime: T,
      endTime: T + 3600.5,
      scanBy: "TimestampDescending",
      maxDatapoints: 100_800,
    });
  });

  it.each([
    [
      "the query protocol",
      { "content-type": "application/x-www-form-urlencoded" },
      "Action=GetMetricData",
      /query protocol .* is not served here/,
    ],
    [
      "no target",
      { "content-type": "application/x-amz-json-1.0" },
      "{}",
      /Missing or unknown X-Amz-Target/,
    ],
    [
      "another operation",
      { ...HEADERS, "x-amz-target": "GraniteServiceVersion20100801.PutMetricData" },
      "{}",
      /Operation PutMetricData is not supported/,
    ],
    ["a body that is not JSON", HEADERS, "{oops", /Request body is not JSON/],
  ])("refuses %s with a clear error", (_what, headers, body, message) => {
    expect(() => parse(body, headers)).toThrow(message);
  });

  it.each([
    [
      { StartTime: T, EndTime: T + 60 },
      "MissingRequiredParameterException",
      /MetricDataQueries is required/,
    ],
    [
      { MetricDataQueries: [query("m1", "X")], StartTime: T + 60, EndTime: T },
      "InvalidParameterValueException",
      /StartTime must be less than the parameter EndTime/,
    ],
    [
      { MetricDataQueries: [query("m1", "X", 45)], StartTime: T, EndTime: T + 60 },
      "InvalidParameterValueException",
      /MetricDataQueries\.0\.MetricStat\.Period must be 1, 5, 10, 30 or a multiple of 60, got 45/,
    ],
    [
      { MetricDataQueries: [query("M1", "X")], StartTime: T, EndTime: T + 60 },
      "InvalidParameterValueException",
      /MetricDataQueries\.0\.Id: Id must start with a lowercase letter/,
    ],
    [
      { MetricDataQueries: [query("m1", "X"), query("m1", "Y")], StartTime: T, EndTime: T + 60 },
      "InvalidParameterValueException",
      /the Id m1 is used twice/,
    ],
    [
      { MetricDataQueries: [{ Id: "e1", Expression: "SUM(m1)" }], StartTime: T, EndTime: T + 60 },
      "InvalidParameterValueException",
      /metric math is not supported/,
    ],
    [
      { MetricDataQueries: [query("m1", "X", 60, "p99")], StartTime: T, EndTime: T + 60 },
      "InvalidParameterValueException",
      /Stat: p99 is not supported here/,
    ],
  ])("names the bad field: %j", (body, type, message) => {
    let thrown: unknown;
    try {
      parse(body);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ type, message: expect.stringMatching(message) });
  });
});

describe("getMetricData", () => {
  const samples: MetricSample[] = [
    // 1 unit for seconds 0-89, 3 for 90-119: minute 0 averages 1, minute 1 averages 2.
    ...Array.from({ length: 90 }, (_, i) => ({ t: T + i, value: 1 })),
    ...Array.from({ length: 30 }, (_, i) => ({ t: T + 90 + i, value: 3 })),
  ];
  const request = (over: Partial<GetMetricDataRequest> = {}): GetMetricDataRequest => ({
    ...parse({
      MetricDataQueries: [
        query("avg", "InServiceInferenceUnits", 60),
        query("peak", "InServiceInferenceUnits", 60, "Maximum"),
      ],
      StartTime: T,
      EndTime: T + 3600,
      ScanBy: "TimestampAscending",
    }),
    ...over,
  });

  it("aggregates the samples per period with the asked statistic, periods without samples left out", () => {
    const output = getMetricData(request(), () => samples);
    expect(output.MetricDataResults).toEqual([
      {
        Id: "avg",
        Label: "InServiceInferenceUnits",
        Timestamps: [T, T + 60],
        Values: [1, 2],
        StatusCode: "Complete",
      },
      {
        Id: "peak",
        Label: "InServiceInferenceUnits",
        Timestamps: [T, T + 60],
        Values: [1, 3],
        StatusCode: "Complete",
      },
    ]);
    expect(output.NextToken).toBeUndefined();
  });

  it("answers newest first by default and keeps to [StartTime, EndTime)", () => {
    const output = getMetricData(
      request({ scanBy: "TimestampDescending", startTime: T + 60 }),
      () => samples,
    );
    expect(output.MetricDataResults[0]).toMatchObject({ Timestamps: [T + 60], Values: [2] });
  });

  it("pages by MaxDatapoints with a NextToken that only the same request accepts", () => {
    const first = getMetricData(request({ maxDatapoints: 3 }), () => samples);
    expect(first.MetricDataResults.map((r) => [r.Id, r.Values, r.StatusCode])).toEqual([
      ["avg", [1, 2], "Complete"],
      ["peak", [1], "PartialData"],
    ]);
    expect(first.NextToken).toEqual(expect.any(String));
    const second = getMetricData(
      request({ maxDatapoints: 3, nextToken: first.NextToken as string }),
      () => samples,
    );
    expect(second.MetricDataResults.map((r) => [r.Id, r.Values, r.StatusCode])).toEqual([
      ["avg", [], "Complete"],
      ["peak", [3], "Complete"],
    ]);
    expect(second.NextToken).toBeUndefined();
    expect(() =>
      getMetricData(
        request({ startTime: T - 60, nextToken: first.NextToken as string }),
        () => samples,
      ),
    ).toThrow(/NextToken is not valid for this request/);
  });
});
