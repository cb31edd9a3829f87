/**
 * CloudWatch metrics in Embedded Metric Format, through Powertools: one
 * function per workflow step that takes the step's result. Each call builds,
 * fills and flushes its own `Metrics`, so every invocation prints exactly one
 * EMF line and nothing is carried over to the next warm invocation.
 *
 * `POWERTOOLS_METRICS_DISABLED=true` turns the output off (the local runner
 * sets it); `POWERTOOLS_METRICS_NAMESPACE` overrides the namespace.
 */
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { matchProjectVersionArn } from "./model/model-ref.ts";
import type { RunSummary } from "./report/summary.ts";
import { type Logger, SERVICE_NAME } from "./runtime.ts";
import type { BatchContext, BatchOutput, Plan } from "./shapes.ts";

export const METRICS_NAMESPACE = "RekognitionWeeklyBatch";
export const METRICS_SERVICE = SERVICE_NAME;

/**
 * The one dimension besides `service`: `<project>/<version>` from the version
 * ARN, so dashboards can tell models apart while the dimension count stays at two.
 */
export function modelVersionName(projectVersionArn: string): string {
  const parts = matchProjectVersionArn(projectVersionArn);
  return parts ? `${parts.project}/${parts.version}` : projectVersionArn;
}

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];
type MetricValues = Record<string, { unit: Unit; value: number | undefined }>;

/** Adds the finite values and flushes once; a metrics fault is logged, never fails the step. */
function publish(projectVersionArn: string, values: MetricValues, logger: Logger): void {
  try {
    const metrics = new Metrics({
      namespace: process.env.POWERTOOLS_METRICS_NAMESPACE || METRICS_NAMESPACE,
      serviceName: METRICS_SERVICE,
      defaultDimensions: { modelVersion: modelVersionName(projectVersionArn) },
    });
    let added = 0;
    for (const [name, { unit, value }] of Object.entries(values)) {
      if (value === undefined || !Number.isFinite(value)) continue;
      metrics.addMetric(name, unit, value);
      added += 1;
    }
    // An empty flush only prints a Powertools warning.
    if (added > 0) metrics.publishStoredMetrics();
  } catch (error) {
    logger.warn("metrics not published", {
      error: error instanceof Error ? error.message : String(error),
    });
  }
}

/** Plan: the backlog it found and what it expects the run to cost. */
export function publishPlanMetrics(plan: Plan, logger: Logger): void {
  publish(
    plan.context.projectVersionArn,
    {
      ImagesListed: { unit: MetricUnit.Count, value: plan.counts.listed },
      ImagesPending: { unit: MetricUnit.Count, value: plan.counts.pending },
      ImagesSkipped: { unit: MetricUnit.Count, value: plan.counts.skipped },
      ImagesAlreadyDone: { unit: MetricUnit.Count, value: plan.counts.alreadyDone },
      PlannedInferenceUnits: {
        unit: MetricUnit.Count,
        value: plan.nothingToDo ? 0 : plan.sizing.units,
      },
      EstimatedCost: {
        unit: MetricUnit.NoUnit,
        value: plan.nothingToDo ? 0 : plan.cost.chosen.cost,
      },
    },
    logger,
  );
}

/** ProcessBatch: what one batch did, so throttling shows up while the run is still going. */
export function publishBatchMetrics(
  output: BatchOutput,
  context: BatchContext,
  logger: Logger,
): void {
  publish(
    context.projectVersionArn,
    {
      ImagesSucceeded: { unit: MetricUnit.Count, value: output.succeeded },
      ImagesFailed: { unit: MetricUnit.Count, value: output.failed },
      DetectCalls: { unit: MetricUnit.Count, value: output.calls },
      ThrottledCalls: { unit: MetricUnit.Count, value: output.throttled },
      RetriedCalls: { unit: MetricUnit.Count, value: output.retried },
    },
    logger,
  );
}

/** Report: the run's totals, its achieved throughput and what it cost. */
export function publishReportMetrics(summary: RunSummary, logger: Logger): void {
  const { counts, throughput, billing } = summary;
  publish(
    summary.projectVersionArn,
    {
      RunImagesPending: { unit: MetricUnit.Count, value: counts.pending },
      RunImagesSucceeded: { unit: MetricUnit.Count, value: counts.succeeded },
      RunImagesFailed: { unit: MetricUnit.Count, value: counts.failed },
      RunImagesSkipped: { unit: MetricUnit.Count, value: counts.skipped },
      RunImagesUnaccounted: { unit: MetricUnit.Count, value: counts.unaccounted },
      RunThrottledCalls: { unit: MetricUnit.Count, value: throughput.throttled },
      AchievedTps: { unit: MetricUnit.CountPerSecond, value: throughput.observed.meanTps },
      ObservedTpsPerUnit: {
        unit: MetricUnit.CountPerSecond,
        value: throughput.observed.tpsPerUnit,
      },
      BilledInferenceHours: { unit: MetricUnit.NoUnit, value: billing.inferenceHours },
      EstimatedRunCost: { unit: MetricUnit.NoUnit, value: billing.cost },
      RunReconciled: { unit: MetricUnit.Count, value: summary.reconciled ? 1 : 0 },
    },
    logger,
  );
}
