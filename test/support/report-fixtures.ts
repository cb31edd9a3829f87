import type { UnitMetricsOutcome } from "../../src/report/unit-metrics.ts";
import { runFiles } from "../../src/result-keys.ts";
import type { BatchOutput, Plan, TimelinePoint } from "../../src/shapes.ts";

export const RUN_ID = "2026-01-05T06-00-00Z";
export const PROJECT_VERSION_ARN =
  "arn:aws:rekognition:us-east-1:123456789012:project/parts/version/parts.2025-12-01/1733000000000";
export const RESULTS_BUCKET = "results";
export const RESULTS_PREFIX = "weekly/";
/** 2026-01-05T06:00:00Z in epoch seconds. */
export const T0 = Date.UTC(2026, 0, 5, 6, 0, 0) / 1000;

export const iso = (epochSeconds: number) => new Date(epochSeconds * 1000).toISOString();

/** A plan as the Plan step writes it, with counts and sizing a test can override. */
export function makePlan(overrides: Partial<Plan> & { counts?: Plan["counts"] } = {}): Plan {
  const counts = overrides.counts ?? { listed: 10, pending: 6, skipped: 2, alreadyDone: 2 };
  return {
    runId: RUN_ID,
    executionId: `arn:aws:states:us-east-1:123456789012:execution:weekly-batch:${RUN_ID}`,
    plannedAt: iso(T0 + 5),
    context: {
      runId: RUN_ID,
      projectVersionArn: PROJECT_VERSION_ARN,
      imagesBucket: "images",
      resultsBucket: RESULTS_BUCKET,
      resultsPrefix: RESULTS_PREFIX,
      imageMode: "S3Object",
      perWorkerTps: 5,
      concurrency: 4,
    },
    imagesPrefix: "incoming/",
    counts,
    skippedByReason: { "unsupported-extension": counts.skipped },
    manifest: { bucket: RESULTS_BUCKET, key: runFiles.manifest(RESULTS_PREFIX, RUN_ID) },
    skippedList: { bucket: RESULTS_BUCKET, key: runFiles.skipped(RESULTS_PREFIX, RUN_ID) },
    mapResults: { bucket: RESULTS_BUCKET, prefix: runFiles.mapResults(RESULTS_PREFIX, RUN_ID) },
    sizing: {
      units: 2,
      tpsPerUnit: 5,
      tpsSource: "default",
      provisionedTps: 10,
      targetWindowMinutes: 60,
      expectedProcessingSeconds: 600,
      windowReachable: true,
      workers: 2,
      perWorkerTps: 5,
      batchSize: 50,
      concurrency: 4,
      expectedLatencyMs: 300,
      startupSeconds: 300,
    },
    cost: {
      pricePerUnitHour: 4,
      chosen: { units: 2, durationSeconds: 900, inferenceHours: 0.5, cost: 2 },
      options: [
        { units: 1, durationSeconds: 1500, inferenceHours: 0.417, cost: 1.67 },
        { units: 2, durationSeconds: 900, inferenceHours: 0.5, cost: 2 },
        { units: 3, durationSeconds: 700, inferenceHours: 0.583, cost: 2.33 },
      ],
    },
    toleratedFailurePercentage: 0,
    nothingToDo: counts.pending === 0,
    ...overrides,
  };
}

/** A steady timeline: `accepted` calls each second from `from` for `seconds` seconds. */
export function steadyTimeline(
  from: number,
  seconds: number,
  accepted: number,
  throttledEvery = 0,
): TimelinePoint[] {
  return Array.from({ length: seconds }, (_, i) => ({
    t: from + i,
    accepted,
    throttled: throttledEvery > 0 && i % throttledEvery === 0 ? 1 : 0,
  }));
}

/** A batch result; counts are derived from the failures and items given. */
export function makeBatch(opts: {
  items: number;
  failures?: BatchOutput["failures"];
  labels?: Record<string, number>;
  timeline?: TimelinePoint[];
  startedAt?: string;
  endedAt?: string;
  resumed?: number;
  /** Failed images the batch counted but did not name (its sample was full). */
  failuresOmitted?: number;
  labelsOmitted?: number;
}): BatchOutput {
  const failures = opts.failures ?? [];
  const failuresOmitted = opts.failuresOmitted ?? 0;
  const timeline = opts.timeline ?? [];
  const accepted = timeline.reduce((s, p) => s + p.accepted, 0);
  const throttled = timeline.reduce((s, p) => s + p.throttled, 0);
  return {
    runId: RUN_ID,
    items: opts.items,
    succeeded: opts.items - failures.length - failuresOmitted,
    failed: failures.length + failuresOmitted,
    resumed: opts.resumed ?? 0,
    failures,
    failuresOmitted,
    labels: opts.labels ?? {},
    labelsOmitted: opts.labelsOmitted ?? 0,
    calls: accepted + throttled,
    throttled,
    retried: throttled,
    startedAt: opts.startedAt ?? iso(timeline[0]?.t ?? T0 + 300),
    endedAt: opts.endedAt ?? iso((timeline[timeline.length - 1]?.t ?? T0 + 300) + 1),
    timeline,
  };
}

/**
 * A CloudWatch reading of the unit metrics holding exactly these datapoints
 * (InServiceInferenceUnits from `units`, DesiredInferenceUnits from `desired`).
 */
export function unitMetricsRead(
  points: readonly { t: number; units: number; desired?: number }[],
  periodSeconds = 60,
): UnitMetricsOutcome {
  const ts = points.map((p) => p.t);
  return {
    status: "read",
    reading: {
      periodSeconds,
      from: Math.min(...ts),
      to: Math.max(...ts) + periodSeconds,
      series: {
        inService: points.map((p) => ({ t: p.t, value: p.units })),
        desired: points.flatMap((p) =>
          p.desired === undefined ? [] : [{ t: p.t, value: p.desired }],
        ),
        min: [],
        max: [],
      },
      messages: [],
    },
  };
}
