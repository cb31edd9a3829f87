/**
 * The model version's own CloudWatch metrics: the inference units it has in
 * service, is scaling to, and was started with.
 *
 * Where the names come from (AWS documentation):
 * - Rekognition's CloudWatch metrics page ("CloudWatch metrics for
 *   Rekognition") lists, for Custom Labels models, `MinInferenceUnits` and
 *   `MaxInferenceUnits` ("specified during the StartProjectVersion request"),
 *   `DesiredInferenceUnits` ("the number of inference units to which
 *   Rekognition is scaling up or down") and `InServiceInferenceUnits`, all
 *   Unit: Count, in namespace `AWS/Rekognition`, per model with the
 *   dimensions `ProjectName` and `VersionName`.
 * - The Custom Labels guide, "Reporting running duration and inference units
 *   used": for models trained and started after August 2022, the
 *   `InServiceInferenceUnits` metric (dimensions ProjectName and VersionName)
 *   is how to "determine how many hours a model has run for and the number of
 *   inference units used during those hours". Each datapoint is one period
 *   in which the model ran, and its Average is the units it had in service
 *   then, so the inference hours billed are the sum over datapoints of
 *   Average x period (`inferenceHoursFromInService`).
 *
 * One GetMetricData call (paginated) reads all four. GetMetricData takes no
 * resource ARN: IAM grants `cloudwatch:GetMetricData` on Resource "*" only.
 */
import {
  type CloudWatchClient,
  type MetricDataQuery,
  paginateGetMetricData,
} from "@aws-sdk/client-cloudwatch";
import { matchProjectVersionArn } from "./model/model-ref.ts";

export const REKOGNITION_NAMESPACE = "AWS/Rekognition";

export const UNIT_METRICS = {
  inService: "InServiceInferenceUnits",
  desired: "DesiredInferenceUnits",
  min: "MinInferenceUnits",
  max: "MaxInferenceUnits",
} as const;

export type UnitMetric = keyof typeof UNIT_METRICS;

/** One datapoint: the period starting at `t` (epoch seconds) had this Average. */
export interface MetricPoint {
  t: number;
  value: number;
}

export interface UnitMetricsReading {
  periodSeconds: number;
  /** Epoch seconds, as asked. */
  from: number;
  to: number;
  series: Record<UnitMetric, MetricPoint[]>;
  /** CloudWatch's own notes (e.g. partial data), empty when it had none. */
  messages: string[];
}

/** The metric dimensions of a model version, from its ARN. */
export function modelMetricDimensions(projectVersionArn: string): {
  ProjectName: string;
  VersionName: string;
} {
  const parts = matchProjectVersionArn(projectVersionArn);
  if (!parts) {
    throw new Error(
      `projectVersionArn must look like arn:aws:rekognition:<region>:<account>:project/<project>/version/<version>/<digits>, got ${JSON.stringify(projectVersionArn)}`,
    );
  }
  return { ProjectName: parts.project, VersionName: parts.version };
}

/**
 * CloudWatch accepts 1, 5, 10, 30 or a multiple of 60 seconds. The model's
 * metrics are published per minute, so 60 is the default; a shorter period
 * only makes sense against a source that has finer data (the local stack).
 */
export function metricsPeriodFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.MODEL_METRICS_PERIOD_SECONDS;
  if (raw === undefined || raw === "") return 60;
  const period = Number(raw);
  if (!isValidPeriod(period)) {
    throw new Error(
      `MODEL_METRICS_PERIOD_SECONDS must be 1, 5, 10, 30 or a multiple of 60, got ${JSON.stringify(raw)}`,
    );
  }
  return period;
}

export function isValidPeriod(period: number): boolean {
  return (
    Number.isInteger(period) && period > 0 && ([1, 5, 10, 30].includes(period) || period % 60 === 0)
  );
}

/** The four queries, one per metric, each the Average over `periodSeconds`. */
export function unitMetricQueries(
  projectVersionArn: string,
  periodSeconds: number,
): MetricDataQuery[] {
  const { ProjectName, VersionName } = modelMetricDimensions(projectVersionArn);
  return (Object.keys(UNIT_METRICS) as UnitMetric[]).map((id) => ({
    Id: id,
    ReturnData: true,
    MetricStat: {
      Metric: {
        Namespace: REKOGNITION_NAMESPACE,
        MetricName: UNIT_METRICS[id],
        Dimensions: [
          { Name: "ProjectName", Value: ProjectName },
          { Name: "VersionName", Value: VersionName },
        ],
      },
      Period: periodSeconds,
      Stat: "Average",
      Unit: "Count",
    },
  }));
}

/**
 * Reads the four unit metrics of a model version between `from` and `to`
 * (epoch ms) with one paginated GetMetricData. Errors (no permission,
 * throttling) are the caller's to handle.
 */
export async function readUnitMetrics(opts: {
  cloudwatch: CloudWatchClient;
  projectVersionArn: string;
  fromMs: number;
  toMs: number;
  periodSeconds?: number;
}): Promise<UnitMetricsReading> {
  const periodSeconds = opts.periodSeconds ?? 60;
  if (!isValidPeriod(periodSeconds)) {
    throw new Error(`periodSeconds must be 1, 5, 10, 30 or a multiple of 60, got ${periodSeconds}`);
  }
  // Whole periods around the range, so the first and last minute are in.
  const from = Math.floor(opts.fromMs / 1000 / periodSeconds) * periodSeconds;
  const to = Math.max(
    from + periodSeconds,
    Math.ceil(opts.toMs / 1000 / periodSeconds) * periodSeconds,
  );
  const series: Record<UnitMetric, MetricPoint[]> = {
    inService: [],
    desired: [],
    min: [],
    max: [],
  };
  const messages: string[] = [];
  const pages = paginateGetMetricData(
    { client: opts.cloudwatch },
    {
      MetricDataQueries: unitMetricQueries(opts.projectVersionArn, periodSeconds),
      StartTime: new Date(from * 1000),
      EndTime: new Date(to * 1000),
      ScanBy: "TimestampAscending",
    },
  );
  for await (const page of pages) {
    for (const result of page.MetricDataResults ?? []) {
      const id = result.Id as UnitMetric;
      const target = series[id];
      if (!target) continue;
      const times = result.Timestamps ?? [];
      const values = result.Values ?? [];
      times.forEach((time, index) => {
        const value = values[index];
        if (value !== undefined) target.push({ t: Math.floor(time.getTime() / 1000), value });
      });
      if (result.StatusCode === "PartialData") {
        messages.push(`${UNIT_METRICS[id]}: CloudWatch returned partial data`);
      }
    }
    for (const message of page.Messages ?? []) {
      if (message.Value) messages.push(message.Value);
    }
  }
  for (const points of Object.values(series)) points.sort((a, b) => a.t - b.t);
  return { periodSeconds, from, to, series, messages };
}

/**
 * Inference hours from InServiceInferenceUnits datapoints (Average per
 * period): each datapoint is a period the model ran, at that many units.
 */
export function inferenceHoursFromInService(
  points: readonly MetricPoint[],
  periodSeconds: number,
): number {
  let unitSeconds = 0;
  for (const point of points) unitSeconds += Math.max(0, point.value) * periodSeconds;
  return unitSeconds / 3600;
}

/** The latest value of each metric (what `status` shows), undefined where there is none. */
export function latestUnitFigures(
  reading: UnitMetricsReading,
): Partial<Record<UnitMetric, { value: number; at: string }>> {
  const figures: Partial<Record<UnitMetric, { value: number; at: string }>> = {};
  for (const id of Object.keys(reading.series) as UnitMetric[]) {
    const last = reading.series[id][reading.series[id].length - 1];
    if (last) figures[id] = { value: last.value, at: new Date(last.t * 1000).toISOString() };
  }
  return figures;
}
