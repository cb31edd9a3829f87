import { listObjects } from "../../src/s3-listing.ts";
import type { TimelineSecond } from "../local/emulator/index.ts";
import { type LocalJobResult, runLocalJob } from "../local/local-job.ts";
import type { LocalStack } from "../local/local-stack.ts";
import { writeSampleImages } from "../local/sample-images.ts";
import type { JsonValue, WorkflowEvent } from "../local/workflow/index.ts";

/**
 * One run of our pipeline (the real definition and Lambdas through the local
 * engine) with what the benchmark needs recorded around it: phase times from
 * the workflow events, the emulator's per-second timeline and its billing.
 */

/** Phase times (epoch ms) taken from the workflow events. */
export interface PhaseTimes {
  startedAt: number;
  mapStartedAt?: number;
  mapEndedAt?: number;
  /** The StopModel state entered: the stop request goes out now. */
  stopRequestedAt?: number;
  endedAt: number;
}

export interface PipelineRun {
  status: string;
  images: number;
  succeeded: number;
  failed: number;
  units: number;
  tpsPerUnit: number;
  workers: number;
  concurrency: number;
  batchSize: number;
  phases: PhaseTimes;
  timeline: TimelineSecond[];
  unitSeconds: number;
  cost: number;
  job: LocalJobResult;
}

/** Seeds `count` sample images under `prefix` unless they are already there (reruns reuse them). */
export async function ensureImages(stack: LocalStack, prefix: string, count: number) {
  let existing = 0;
  for await (const _ of listObjects(stack.s3, { bucket: stack.imagesBucket, prefix })) existing++;
  if (existing >= count) return;
  // Small images only: the benchmark measures orchestration and rate control,
  // not the emulator decoding multi-megabyte pixels.
  await writeSampleImages({
    s3: stack.s3,
    bucket: stack.imagesBucket,
    prefix,
    count,
    largeImages: 0,
    concurrency: 8,
  });
}

export interface PipelineRunOptions {
  stack: LocalStack;
  imagesPrefix: string;
  resultsPrefix: string;
  input: Record<string, JsonValue>;
  /** Called once the map run starts, with its start time (fault scheduling). */
  onMapStarted?: (at: number) => void;
  onEvent?: (event: WorkflowEvent) => void;
}

export async function runPipeline(options: PipelineRunOptions): Promise<PipelineRun> {
  const { stack } = options;
  const phases: PhaseTimes = { startedAt: Date.now(), endedAt: 0 };
  const job = await runLocalJob({
    stack,
    input: options.input,
    environment: { IMAGES_PREFIX: options.imagesPrefix, RESULTS_PREFIX: options.resultsPrefix },
    onEvent: (event) => {
      options.onEvent?.(event);
      if (event.type === "MapRunStarted") {
        phases.mapStartedAt = event.timestamp;
        options.onMapStarted?.(event.timestamp);
      } else if (event.type === "MapRunSucceeded" || event.type === "MapRunFailed") {
        phases.mapEndedAt = event.timestamp;
      } else if (
        event.type === "StateEntered" &&
        event.state === "StopModel" &&
        !event.child &&
        phases.stopRequestedAt === undefined
      ) {
        phases.stopRequestedAt = event.timestamp;
      }
    },
  });
  phases.endedAt = Date.now();
  await waitForSettledModel(stack);
  const sizing = job.plan?.sizing;
  const billing = stack.emulator.admin.billing(stack.projectVersionArn);
  return {
    status: job.execution.status,
    images: job.summary?.counts.pending ?? 0,
    succeeded: job.summary?.counts.succeeded ?? 0,
    failed: job.summary?.counts.failed ?? 0,
    units: sizing?.units ?? 0,
    tpsPerUnit: sizing?.tpsPerUnit ?? 0,
    workers: sizing?.workers ?? 0,
    concurrency: sizing?.concurrency ?? 0,
    batchSize: sizing?.batchSize ?? 0,
    phases,
    timeline: stack.emulator.admin.timeline(stack.projectVersionArn),
    unitSeconds: billing.unitSeconds,
    cost: billing.cost,
    job,
  };
}

/** Waits (polling, with a deadline) until the model is no longer STARTING or STOPPING, so billing is final. */
export async function waitForSettledModel(stack: LocalStack, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const model = stack.emulator.admin
      .state()
      .models.find((candidate) => candidate.arn === stack.projectVersionArn);
    const status = model?.status ?? "unknown";
    if ((status !== "STOPPING" && status !== "STARTING") || Date.now() > deadline) return status;
    await new Promise((done) => setTimeout(done, 50));
  }
}
