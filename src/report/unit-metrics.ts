/**
 * The report's view of the model's own unit metrics (see `model-metrics.ts`):
 * read once per report, turned into the units chart and the measured
 * inference hours. Reading them never fails the report: no permission, no
 * data yet (CloudWatch publishes with a few minutes' delay) or any other
 * error is said in the report, which then falls back to the estimate.
 */
import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { isPermissionDenied } from "../aws-errors.ts";
import {
  inferenceHoursFromInService,
  readUnitMetrics,
  type UnitMetricsReading,
} from "../model-metrics.ts";
import type { Logger } from "../runtime.ts";
import type { UnitsPoint } from "./throughput.ts";

/** What the report got from CloudWatch: a reading, or why there is none. */
export type UnitMetricsOutcome =
  | { status: "read"; reading: UnitMetricsReading }
  | { status: "unavailable"; reason: string };

/** Inference hours measured from InServiceInferenceUnits, beside the estimate. */
export interface MeasuredUsage {
  /** "measured": from the metric; "unavailable": see `note`, the estimate stands. */
  status: "measured" | "unavailable" | "not-this-run";
  inferenceHours?: number;
  cost?: number;
  periodSeconds?: number;
  /** Periods with an InServiceInferenceUnits datapoint. */
  datapoints?: number;
  /** False when CloudWatch's data ends before the model was stopped (it lags a few minutes). */
  complete?: boolean;
  note: string;
}

/** Reads the four unit metrics over the run, turning any failure into a reason. */
export async function readRunUnitMetrics(opts: {
  cloudwatch: CloudWatchClient;
  projectVersionArn: string;
  fromMs: number;
  toMs: number;
  periodSeconds: number;
  logger: Logger;
}): Promise<UnitMetricsOutcome> {
  try {
    const reading = await readUnitMetrics(opts);
    if (reading.series.inService.length === 0 && reading.series.desired.length === 0) {
      return {
        status: "unavailable",
        reason:
          "CloudWatch has no InServiceInferenceUnits data for this model over the run yet (it publishes a few minutes late)",
      };
    }
    return { status: "read", reading };
  } catch (error) {
    const name = (error as { name?: string } | null)?.name ?? "Error";
    const message = error instanceof Error ? error.message : String(error);
    opts.logger.warn("could not read the model's unit metrics", { error: `${name}: ${message}` });
    return {
      status: "unavailable",
      reason: isPermissionDenied(error)
        ? `no permission to read CloudWatch metrics (cloudwatch:GetMetricData): ${message}`
        : `CloudWatch GetMetricData failed (${name}: ${message})`,
    };
  }
}

/** Units in service (and desired) as a step timeline for the chart and the limit line. */
export function unitsTimelineFromMetrics(reading: UnitMetricsReading): UnitsPoint[] {
  const desiredAt = new Map(reading.series.desired.map((p) => [p.t, p.value]));
  const times = [
    ...new Set([...reading.series.inService.map((p) => p.t), ...desiredAt.keys()]),
  ].sort((a, b) => a - b);
  const inServiceAt = new Map(reading.series.inService.map((p) => [p.t, p.value]));
  let lastInService = 0;
  return times.map((t) => {
    lastInService = inServiceAt.get(t) ?? lastInService;
    const desired = desiredAt.get(t);
    return { t, units: lastInService, ...(desired !== undefined ? { desired } : {}) };
  });
}

/**
 * The measured inference hours (AWS's guide: InServiceInferenceUnits, Average
 * per period, summed over the periods the model ran), or why there are none.
 */
export function measuredUsage(opts: {
  outcome: UnitMetricsOutcome | undefined;
  owned: boolean;
  /** When the stop was requested (epoch ms); the data should reach it. */
  stopRequestedAtMs?: number;
  pricePerUnitHour: number;
}): MeasuredUsage {
  const { outcome } = opts;
  if (!opts.owned) {
    return {
      status: "not-this-run",
      note: "This run did not start the model, so its inference hours are not this run's.",
    };
  }
  if (!outcome) {
    return {
      status: "unavailable",
      note: "The model's metrics were not read: the estimate stands.",
    };
  }
  if (outcome.status === "unavailable") {
    return {
      status: "unavailable",
      note: `Not measured: ${outcome.reason}. The estimate stands; the metric can be read later in CloudWatch (AWS/Rekognition InServiceInferenceUnits).`,
    };
  }
  const { reading } = outcome;
  const points = reading.series.inService;
  const hours = inferenceHoursFromInService(points, reading.periodSeconds);
  const last = points[points.length - 1];
  const dataEndMs = last ? (last.t + reading.periodSeconds) * 1000 : undefined;
  // Allow one period of slack: the last period holds the stop request.
  const complete =
    opts.stopRequestedAtMs === undefined ||
    (dataEndMs !== undefined && dataEndMs + reading.periodSeconds * 1000 >= opts.stopRequestedAtMs);
  return {
    status: "measured",
    inferenceHours: hours,
    cost: hours * opts.pricePerUnitHour,
    periodSeconds: reading.periodSeconds,
    datapoints: points.length,
    complete,
    note:
      `Measured from CloudWatch: AWS/Rekognition InServiceInferenceUnits, Average per ${reading.periodSeconds} s, summed over the ${points.length} period(s) the model ran (how AWS's Custom Labels guide finds the hours billed).` +
      (complete
        ? ""
        : ` CloudWatch's data ends at ${dataEndMs ? new Date(dataEndMs).toISOString() : "?"}, before the stop request: it publishes a few minutes late, so this is a lower bound.`),
  };
}
