import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  METRICS_NAMESPACE,
  modelVersionName,
  publishBatchMetrics,
  publishPlanMetrics,
  publishReportMetrics,
} from "../../src/metrics.ts";
import { buildRunSummary } from "../../src/report/build-summary.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { recordingLogger } from "../support/model-fakes.ts";
import {
  makeBatch,
  makePlan,
  PROJECT_VERSION_ARN,
  steadyTimeline,
  T0,
} from "../support/report-fixtures.ts";

interface EmfLine {
  _aws: {
    CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[];
  };
  [key: string]: unknown;
}

let written: string[];

/** The EMF lines Powertools wrote to stdout during `action`. */
function emfLines(): EmfLine[] {
  return written
    .flatMap((chunk) => chunk.split("\n"))
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as EmfLine);
}

function metricNames(line: EmfLine): string[] {
  return line._aws.CloudWatchMetrics.flatMap((m) => m.Metrics.map((metric) => metric.Name));
}

beforeEach(() => {
  written = [];
  vi.stubEnv("POWERTOOLS_METRICS_DISABLED", "false");
  vi.stubEnv("POWERTOOLS_DEV", "");
  vi.stubEnv("POWERTOOLS_METRICS_NAMESPACE", "");
  const original = process.stdout.write.bind(process.stdout);
  vi.spyOn(process.stdout, "write").mockImplementation(((chunk: unknown, ...rest: never[]) => {
    if (typeof chunk === "string" && chunk.includes('"_aws"')) {
      written.push(chunk);
      return true;
    }
    return original(chunk as string, ...rest);
  }) as typeof process.stdout.write);
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe("modelVersionName", () => {
  it("is <project>/<version> from the version ARN", () => {
    expect(modelVersionName(PROJECT_VERSION_ARN)).toBe("parts/parts.2025-12-01");
  });
});

describe("EMF output", () => {
  it("Plan prints one line with the backlog, the planned units and the estimate, under two dimensions", () => {
    const plan = makePlan();
    publishPlanMetrics(plan, recordingLogger());
    const [line, ...more] = emfLines();
    expect(more).toEqual([]);
    if (!line) throw new Error("no EMF line printed");
    const [directive] = line._aws.CloudWatchMetrics;
    expect(directive?.Namespace).toBe(METRICS_NAMESPACE);
    expect(directive?.Dimensions).toEqual([["service", "modelVersion"]]);
    expect(line.service).toBe("rekognition-weekly-batch");
    expect(line.modelVersion).toBe("parts/parts.2025-12-01");
    expect(line).toMatchObject({
      ImagesListed: 10,
      ImagesPending: 6,
      ImagesSkipped: 2,
      ImagesAlreadyDone: 2,
      PlannedInferenceUnits: plan.sizing.units,
      EstimatedCost: plan.cost.chosen.cost,
    });
  });

  it("ProcessBatch prints succeeded, failed, calls and throttled calls of the batch", () => {
    const batch = makeBatch({
      items: 3,
      failures: [{ key: "incoming/x.jpg", error: "InvalidImageFormat", message: "bad" }],
      timeline: steadyTimeline(T0, 3, 2, 2),
    });
    publishBatchMetrics(batch, makePlan().context, recordingLogger());
    const [line] = emfLines();
    expect(line).toMatchObject({
      ImagesSucceeded: 2,
      ImagesFailed: 1,
      DetectCalls: batch.calls,
      ThrottledCalls: 2,
      RetriedCalls: batch.retried,
    });
    expect(metricNames(line as EmfLine)).toContain("ThrottledCalls");
  });

  it("Report prints the run's counts, achieved TPS, TPS per unit, billed hours and cost", () => {
    const summary = buildRunSummary({
      plan: makePlan(),
      batches: [
        makeBatch({ items: 4, timeline: steadyTimeline(T0 + 300, 2, 2) }),
        makeBatch({ items: 2, timeline: steadyTimeline(T0 + 301, 2, 1) }),
      ],
      mapRan: true,
      skipped: ["notes.txt", "readme.md"].map((name) => ({
        key: `incoming/${name}`,
        size: 10,
        reason: "unsupported-extension" as const,
        detail: "not an image",
      })),
      model: {
        action: "started",
        owned: true,
        status: "STARTING",
        startRequestedAt: new Date((T0 + 10) * 1000).toISOString(),
        units: 2,
      },
      stop: {
        stopped: true,
        reason: "completed",
        stopRequestedAt: new Date((T0 + 310) * 1000).toISOString(),
      },
      clock: new FakeClock((T0 + 320) * 1000),
    });
    publishReportMetrics(summary, recordingLogger());
    const [line] = emfLines();
    expect(line).toMatchObject({
      RunImagesPending: 6,
      RunImagesSucceeded: 6,
      RunImagesFailed: 0,
      RunImagesSkipped: 2,
      AchievedTps: summary.throughput.observed.meanTps,
      ObservedTpsPerUnit: summary.throughput.observed.tpsPerUnit,
      BilledInferenceHours: summary.billing.inferenceHours,
      EstimatedRunCost: summary.billing.cost,
      RunReconciled: 1,
    });
    expect(summary.billing.inferenceHours).toBeGreaterThan(0);
    expect(summary.throughput.observed.meanTps).toBeGreaterThan(0);
  });

  it("prints nothing when POWERTOOLS_METRICS_DISABLED is true (the local runner's setting)", () => {
    vi.stubEnv("POWERTOOLS_METRICS_DISABLED", "true");
    publishPlanMetrics(makePlan(), recordingLogger());
    expect(emfLines()).toEqual([]);
  });

  it("flushes per call: a second call does not repeat the first call's values", () => {
    publishBatchMetrics(makeBatch({ items: 5 }), makePlan().context, recordingLogger());
    publishBatchMetrics(makeBatch({ items: 1 }), makePlan().context, recordingLogger());
    expect(emfLines().map((line) => line.ImagesSucceeded)).toEqual([5, 1]);
  });
});
