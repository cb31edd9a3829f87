import { CloudWatchError, type GetMetricDataRequest, type MetricQuery } from "./request.ts";

/** One raw sample of a metric: its value during second `t` (epoch seconds). */
export interface MetricSample {
  t: number;
  value: number;
}

/** Where the samples come from: every sample of the query's metric, in any order. */
export type MetricSource = (query: MetricQuery) => readonly MetricSample[];

export interface MetricDataResult {
  Id: string;
  Label: string;
  /** Epoch seconds, as the JSON protocol sends timestamps. */
  Timestamps: number[];
  Values: number[];
  StatusCode: "Complete" | "PartialData";
}

export interface GetMetricDataOutput {
  MetricDataResults: MetricDataResult[];
  NextToken?: string;
  Messages: { Code: string; Value: string }[];
}

/**
 * Answers GetMetricData from raw samples: one datapoint per period (aligned
 * on multiples of the period) in [StartTime, EndTime) that holds samples,
 * with the asked statistic. Periods without samples have no datapoint, as in
 * CloudWatch. At most MaxDatapoints datapoints per page; the rest come with
 * NextToken (queries in order, each query's datapoints in ScanBy order).
 */
export function getMetricData(
  request: GetMetricDataRequest,
  source: MetricSource,
): GetMetricDataOutput {
  const computed = request.queries
    .filter((query) => query.returnData)
    .map((query) => ({ query, points: aggregate(query, request, source(query)) }));
  const fingerprint = JSON.stringify([
    request.startTime,
    request.endTime,
    request.scanBy,
    request.queries.map((q) => [q.id, q.period, q.stat]),
  ]);
  const offset = request.nextToken ? decodeToken(request.nextToken, fingerprint) : 0;
  const total = computed.reduce((n, c) => n + c.points.length, 0);
  const end = Math.min(total, offset + request.maxDatapoints);

  let position = 0;
  const results: MetricDataResult[] = computed.map(({ query, points }) => {
    const from = Math.max(0, offset - position);
    const to = Math.max(0, Math.min(points.length, end - position));
    position += points.length;
    const page = from < to ? points.slice(from, to) : [];
    return {
      Id: query.id,
      Label: query.label,
      Timestamps: page.map((p) => p.t),
      Values: page.map((p) => p.value),
      StatusCode: to < points.length ? "PartialData" : "Complete",
    };
  });
  return {
    MetricDataResults: results,
    ...(end < total ? { NextToken: encodeToken(end, fingerprint) } : {}),
    Messages: [],
  };
}

function aggregate(
  query: MetricQuery,
  request: GetMetricDataRequest,
  samples: readonly MetricSample[],
): MetricSample[] {
  const buckets = new Map<number, number[]>();
  for (const sample of samples) {
    if (sample.t < request.startTime || sample.t >= request.endTime) continue;
    const start = Math.floor(sample.t / query.period) * query.period;
    const bucket = buckets.get(start);
    if (bucket) bucket.push(sample.value);
    else buckets.set(start, [sample.value]);
  }
  const points = [...buckets].map(([t, values]) => ({ t, value: statistic(query.stat, values) }));
  points.sort((a, b) => a.t - b.t);
  if (request.scanBy === "TimestampDescending") points.reverse();
  return points;
}

function statistic(stat: MetricQuery["stat"], values: readonly number[]): number {
  const sum = values.reduce((n, v) => n + v, 0);
  switch (stat) {
    case "Sum":
      return sum;
    case "Minimum":
      return Math.min(...values);
    case "Maximum":
      return Math.max(...values);
    case "SampleCount":
      return values.length;
    case "Average":
      return sum / values.length;
  }
}

function encodeToken(offset: number, fingerprint: string): string {
  return Buffer.from(JSON.stringify({ offset, fingerprint })).toString("base64url");
}

function decodeToken(token: string, fingerprint: string): number {
  try {
    const decoded = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as {
      offset?: unknown;
      fingerprint?: unknown;
    };
    if (
      typeof decoded.offset === "number" &&
      Number.isInteger(decoded.offset) &&
      decoded.offset >= 0 &&
      decoded.fingerprint === fingerprint
    ) {
      return decoded.offset;
    }
  } catch {
    // fall through to the error below
  }
  throw new CloudWatchError(
    "InvalidNextToken",
    "InvalidNextToken",
    "NextToken is not valid for this request (it must come from the previous page of the same query).",
  );
}
