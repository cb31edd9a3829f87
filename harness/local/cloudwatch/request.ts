/**
 * Parsing of one CloudWatch API request, the only place that reads the wire.
 *
 * Protocol: the current `@aws-sdk/client-cloudwatch` and the AWS CLI
 * (botocore) both send the AWS JSON 1.0 protocol, query-compatible:
 * `POST /`, `Content-Type: application/x-amz-json-1.0`,
 * `X-Amz-Target: GraniteServiceVersion20100801.<Operation>`, timestamps as
 * epoch seconds (fractions allowed). The older query protocol (form-encoded
 * `Action=...`) and the RPC v2 CBOR protocol are refused with a clear error.
 * Signatures are not checked here (that is the IAM layer's business).
 */
import { z } from "zod";

export const CLOUDWATCH_TARGET_PREFIX = "GraniteServiceVersion20100801.";
export const JSON_10 = "application/x-amz-json-1.0";

/** A CloudWatch error as the query-compatible JSON protocol reports it. */
export class CloudWatchError extends Error {
  constructor(
    /** The JSON `__type`, e.g. InvalidParameterValueException. */
    readonly type: string,
    /** The query error code the SDK maps it to, e.g. InvalidParameterValue. */
    readonly queryCode: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = type;
  }
}

export function invalidParameter(message: string): CloudWatchError {
  return new CloudWatchError("InvalidParameterValueException", "InvalidParameterValue", message);
}

const epochSeconds = z.number().finite().min(0);
const dimension = z.object({
  Name: z.string().min(1).max(255),
  Value: z.string().min(1).max(1024),
});
const STATS = ["Average", "Sum", "Minimum", "Maximum", "SampleCount"] as const;

const metricDataQuery = z.object({
  Id: z
    .string()
    .regex(
      /^[a-z][a-zA-Z0-9_]*$/,
      "Id must start with a lowercase letter, then letters, digits or _",
    )
    .max(255),
  MetricStat: z
    .object({
      Metric: z.object({
        Namespace: z.string().min(1),
        MetricName: z.string().min(1),
        Dimensions: z.array(dimension).max(30).optional(),
      }),
      Period: z.number().int().positive(),
      Stat: z.string().min(1),
      Unit: z.string().optional(),
    })
    .optional(),
  Expression: z.string().optional(),
  Label: z.string().optional(),
  ReturnData: z.boolean().optional(),
  Period: z.number().int().positive().optional(),
  AccountId: z.string().optional(),
});

const getMetricDataInput = z.object({
  MetricDataQueries: z.array(metricDataQuery).min(1).max(500),
  StartTime: epochSeconds,
  EndTime: epochSeconds,
  NextToken: z.string().optional(),
  ScanBy: z.enum(["TimestampDescending", "TimestampAscending"]).optional(),
  MaxDatapoints: z.number().int().positive().optional(),
  LabelOptions: z.object({ Timezone: z.string().optional() }).optional(),
});

export type Stat = (typeof STATS)[number];

/** One metric query, checked: what the data source needs. */
export interface MetricQuery {
  id: string;
  label: string;
  returnData: boolean;
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  period: number;
  stat: Stat;
}

export interface GetMetricDataRequest {
  operation: "GetMetricData";
  /** The IAM action this request needs. */
  action: "cloudwatch:GetMetricData";
  queries: MetricQuery[];
  /** Epoch seconds. */
  startTime: number;
  endTime: number;
  nextToken?: string;
  scanBy: "TimestampDescending" | "TimestampAscending";
  maxDatapoints: number;
}

export type CloudWatchRequest = GetMetricDataRequest;

/** CloudWatch's default and largest MaxDatapoints. */
export const MAX_DATAPOINTS = 100_800;

/**
 * Turns an HTTP request (method, headers, body) into a checked CloudWatch
 * request, or throws a CloudWatchError naming what is wrong.
 */
export function parseCloudWatchRequest(http: {
  method?: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}): CloudWatchRequest {
  const contentType = String(http.headers["content-type"] ?? "");
  const target = http.headers["x-amz-target"];
  if (http.method !== "POST") {
    throw new CloudWatchError(
      "InvalidAction",
      "InvalidAction",
      `Method ${http.method} is not supported: POST / only.`,
    );
  }
  if (contentType.startsWith("application/x-www-form-urlencoded")) {
    throw new CloudWatchError(
      "InvalidAction",
      "InvalidAction",
      "The query protocol (Action=...) is not served here: use the AWS JSON 1.0 protocol (current AWS SDKs and the AWS CLI do).",
    );
  }
  if (typeof target !== "string" || !target.startsWith(CLOUDWATCH_TARGET_PREFIX)) {
    throw new CloudWatchError(
      "InvalidAction",
      "InvalidAction",
      `Missing or unknown X-Amz-Target header: expected ${CLOUDWATCH_TARGET_PREFIX}<Operation>.`,
    );
  }
  const operation = target.slice(CLOUDWATCH_TARGET_PREFIX.length);
  if (operation !== "GetMetricData") {
    throw new CloudWatchError(
      "InvalidAction",
      "InvalidAction",
      `Operation ${operation} is not supported by the local CloudWatch endpoint (GetMetricData only).`,
    );
  }
  let json: unknown;
  try {
    json = http.body.length === 0 ? {} : JSON.parse(http.body.toString("utf8"));
  } catch (error) {
    throw new CloudWatchError(
      "SerializationException",
      "SerializationException",
      `Request body is not JSON: ${(error as Error).message}`,
    );
  }
  const parsed = getMetricDataInput.safeParse(json);
  if (!parsed.success) {
    const problem = parsed.error.issues[0];
    const where = problem?.path.join(".") || "(body)";
    if (problem?.code === "invalid_type" && problem.input === undefined) {
      throw new CloudWatchError(
        "MissingRequiredParameterException",
        "MissingParameter",
        `${where} is required.`,
      );
    }
    throw invalidParameter(`${where}: ${problem?.message ?? "invalid"}`);
  }
  const input = parsed.data;
  if (input.EndTime <= input.StartTime) {
    throw invalidParameter("The parameter StartTime must be less than the parameter EndTime.");
  }
  const ids = new Set<string>();
  const queries = input.MetricDataQueries.map((query, index): MetricQuery => {
    const where = `MetricDataQueries.${index}`;
    if (ids.has(query.Id)) throw invalidParameter(`${where}.Id: the Id ${query.Id} is used twice.`);
    ids.add(query.Id);
    if (query.Expression !== undefined) {
      throw invalidParameter(
        `${where}.Expression: metric math is not supported by the local endpoint; use MetricStat.`,
      );
    }
    const stat = query.MetricStat;
    if (!stat) throw invalidParameter(`${where}: one of MetricStat or Expression is required.`);
    if (!(STATS as readonly string[]).includes(stat.Stat)) {
      throw invalidParameter(
        `${where}.MetricStat.Stat: ${stat.Stat} is not supported here (${STATS.join(", ")}).`,
      );
    }
    const period = stat.Period;
    if (!([1, 5, 10, 30].includes(period) || period % 60 === 0)) {
      throw invalidParameter(
        `${where}.MetricStat.Period must be 1, 5, 10, 30 or a multiple of 60, got ${period}.`,
      );
    }
    const dimensions: Record<string, string> = {};
    for (const { Name, Value } of stat.Metric.Dimensions ?? []) dimensions[Name] = Value;
    return {
      id: query.Id,
      label: query.Label ?? stat.Metric.MetricName,
      returnData: query.ReturnData ?? true,
      namespace: stat.Metric.Namespace,
      metricName: stat.Metric.MetricName,
      dimensions,
      period,
      stat: stat.Stat as Stat,
    };
  });
  return {
    operation: "GetMetricData",
    action: "cloudwatch:GetMetricData",
    queries,
    startTime: input.StartTime,
    endTime: input.EndTime,
    ...(input.NextToken ? { nextToken: input.NextToken } : {}),
    scanBy: input.ScanBy ?? "TimestampDescending",
    maxDatapoints: Math.min(input.MaxDatapoints ?? MAX_DATAPOINTS, MAX_DATAPOINTS),
  };
}
