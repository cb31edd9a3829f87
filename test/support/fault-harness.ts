import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { expect } from "vitest";
import * as processBatchLambda from "../../functions/process-batch.ts";
import {
  type LocalJobOptions,
  type LocalJobResult,
  runLocalJob,
} from "../../harness/local/local-job.ts";
import {
  LOCAL_DEFAULTS,
  type LocalStack,
  startLocalStack,
} from "../../harness/local/local-stack.ts";
import { reconcile } from "../../harness/local/reconcile.ts";
import { type SampleSet, writeSampleImages } from "../../harness/local/sample-images.ts";
import type { LocalHandler } from "../../harness/local/workflow/index.ts";
import { listObjects } from "../../src/s3-listing.ts";
import type { ImageResultRecord } from "../../src/shapes.ts";

/**
 * The fault-injection fixture: a local stack in a throw-away folder with a
 * fast emulator, a seeded sample set, the real workflow run against it, and
 * the invariants every run must keep whatever went wrong.
 */

export const IMAGES_PREFIX = LOCAL_DEFAULTS.imagesPrefix;
export const RESULTS_PREFIX = LOCAL_DEFAULTS.resultsPrefix;

export interface FaultStack {
  stack: LocalStack;
  arn: string;
  close(): Promise<void>;
}

/** A local stack whose model starts and stops in a fraction of a second. */
export async function startFaultStack(
  emulator: NonNullable<Parameters<typeof startLocalStack>[0]>["emulator"] = {},
): Promise<FaultStack> {
  const dataDirectory = await mkdtemp(join(tmpdir(), "faults-"));
  const stack = await startLocalStack({
    dataDirectory,
    emulator: {
      startDelayMs: 300,
      stopDelayMs: 200,
      latencyMs: 20,
      tpsPerUnit: 100,
      unitReplaceDelayMs: 400,
      ...emulator,
    },
  });
  return {
    stack,
    arn: stack.projectVersionArn,
    async close() {
      await stack.close();
      await rm(dataDirectory, { recursive: true, force: true });
    },
  };
}

/** Seeds small sample images (no multi-megabyte ones: they only slow the suite down). */
export async function seedImages(
  stack: LocalStack,
  count: number,
  options: { badObjects?: boolean; oddKeys?: boolean; seed?: number; prefix?: string } = {},
): Promise<SampleSet> {
  return writeSampleImages({
    s3: stack.s3,
    bucket: stack.imagesBucket,
    prefix: options.prefix ?? IMAGES_PREFIX,
    count,
    largeImages: 0,
    concurrency: 8,
    ...options,
  });
}

/**
 * Runs the real workflow with short waits. `input` defaults give a few small
 * batches (a short sizing timeout) so faults land between batches.
 */
export async function runFaultJob(
  fixture: FaultStack,
  options: Partial<Omit<LocalJobOptions, "stack">> = {},
): Promise<LocalJobResult> {
  return runLocalJob({
    stack: fixture.stack,
    waitMs: 50,
    retryScale: 0.01,
    ...options,
    input: { lambdaTimeoutSeconds: 1, maxWorkers: 2, ...options.input },
  });
}

/** The real processBatch Lambda, for wrappers that inject faults around it. */
export const realProcessBatch = processBatchLambda.handler as LocalHandler;

/** Wraps the processBatch Lambda: `before` runs ahead of each invocation (1-based count). */
export function beforeEachBatch(
  before: (invocation: number) => void | Promise<void>,
  real: LocalHandler = realProcessBatch,
): LocalHandler {
  let invocations = 0;
  return async (event, context) => {
    invocations += 1;
    await before(invocations);
    return real(event, context);
  };
}

/** Every object under `prefix` of `bucket` (key and size). */
export async function listAll(
  s3: S3Client,
  bucket: string,
  prefix: string,
): Promise<{ key: string; size: number }[]> {
  const objects: { key: string; size: number }[] = [];
  for await (const object of listObjects(s3, { bucket, prefix })) {
    objects.push({ key: object.key, size: object.size });
  }
  return objects;
}

/** Every ledger record under the results prefix, by image key. */
export async function readLedger(stack: LocalStack): Promise<Map<string, ImageResultRecord>> {
  return (await reconcileStack(stack, [])).ledger;
}

/** Reconciles the stack's images against its ledger and the given runs' skipped lists. */
export function reconcileStack(stack: LocalStack, runIds: readonly string[]) {
  return reconcile({
    s3: stack.s3,
    imagesBucket: stack.imagesBucket,
    imagesPrefix: IMAGES_PREFIX,
    resultsBucket: stack.resultsBucket,
    resultsPrefix: RESULTS_PREFIX,
    runIds,
  });
}

export interface InvariantExpectations {
  /** The execution's end status. */
  status: "SUCCEEDED" | "FAILED" | "ABORTED" | "TIMED_OUT";
  /** The error name the execution failed with. */
  error?: string;
  /** The model's status after the run (and its safety stop). */
  modelStatus: string;
  /**
   * true: every listed object must be accounted for (result, failure with
   * reason, or skip with reason). false: the run failed before finishing, so
   * only the absence of duplicates and of unexplained failures is checked.
   */
  complete: boolean;
  /** Wall-clock ms the run took; billed unit-seconds must stay within units x this. */
  elapsedMs: number;
  /** Inference units billed at most at any time (the plan's, or MaxInferenceUnits). */
  maxUnits: number;
  /** Runs whose skipped lists count (default: the run of `result`). */
  runIds?: readonly string[];
}

export interface InvariantReport {
  listed: number;
  succeeded: number;
  failed: number;
  skipped: number;
  unitSeconds: number;
}

/** Allowance for the time between the emulator's clock and ours, in billed seconds per unit. */
export const BILLING_MARGIN_SECONDS = 1;

/**
 * The invariants of every run, whatever the fault: the execution's outcome
 * and error name, the model's final status and nothing billed any more when
 * it is stopped, billed unit-seconds within the units the run may use for
 * the time it took, and every listed object accounted for exactly once.
 */
export async function assertRunInvariants(
  fixture: FaultStack,
  result: LocalJobResult,
  expected: InvariantExpectations,
): Promise<InvariantReport> {
  const { stack, arn } = fixture;
  const { execution } = result;
  expect(execution.status, `${execution.error}: ${execution.cause}`).toBe(expected.status);
  if (expected.error !== undefined) expect(execution.error, execution.cause).toBe(expected.error);

  await waitForModelStatus(fixture, expected.modelStatus);
  const billing = stack.emulator.admin.billing(arn);
  if (expected.modelStatus === "STOPPED") expect(billing.billingUnits).toBe(0);
  const bound = expected.maxUnits * (expected.elapsedMs / 1000 + BILLING_MARGIN_SECONDS);
  expect(billing.unitSeconds).toBeLessThanOrEqual(bound);

  const runIds = expected.runIds ?? (result.plan ? [result.plan.runId] : []);
  const books = await reconcileStack(stack, runIds);
  expect(books.duplicateEntries, "images with two ledger entries").toEqual([]);
  expect(books.doubleCounted, "objects both analysed and skipped").toEqual([]);
  expect(books.unlisted, "ledger entries for unlisted objects").toEqual([]);
  expect(books.unexplained, "failures or skips without a reason").toEqual([]);
  if (expected.complete) {
    expect(books.missing, "listed objects not accounted for").toEqual([]);
    expect(books.exact).toBe(true);
    if (result.summary) expect(result.summary.counts.listed).toBe(books.listed);
  }
  return {
    listed: books.listed,
    succeeded: books.succeeded,
    failed: books.failed,
    skipped: books.skipped,
    unitSeconds: billing.unitSeconds,
  };
}

/**
 * Runs the job and checks the invariants of a clean finish: SUCCEEDED, the
 * model it started STOPPED, every object accounted for.
 */
export async function runToCleanFinish(
  fixture: FaultStack,
  options: Partial<Omit<LocalJobOptions, "stack">> = {},
): Promise<{ result: LocalJobResult; report: InvariantReport }> {
  const { value: result, elapsedMs } = await timed(() => runFaultJob(fixture, options));
  const report = await assertRunInvariants(fixture, result, {
    status: "SUCCEEDED",
    modelStatus: "STOPPED",
    complete: true,
    elapsedMs,
    maxUnits: Math.max(result.plan?.sizing.units ?? 1, result.plan?.sizing.maxInferenceUnits ?? 0),
  });
  return { result, report };
}

/** The model's status as the emulator reports it. */
export function modelStatus(fixture: FaultStack): string {
  const model = fixture.stack.emulator.admin
    .state()
    .models.find((version) => version.arn === fixture.arn);
  return model?.status ?? "UNKNOWN";
}

/** Polls `condition` every 20 ms until it holds; throws naming `what` after the deadline. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Polls until the model reaches `status` (a stop takes the emulator's stop delay). */
export async function waitForModelStatus(fixture: FaultStack, status: string): Promise<void> {
  await waitFor(
    () => modelStatus(fixture) === status,
    `model status ${status} (it is ${modelStatus(fixture)})`,
  );
}

/** Sum of the DetectCustomLabels calls the emulator let through (not throttled). */
export function acceptedCalls(fixture: FaultStack): number {
  return fixture.stack.emulator.admin
    .timeline(fixture.arn)
    .reduce((sum, second) => sum + second.accepted, 0);
}

/** Error names the failed states of a run reported (children of the Map included). */
export function failedStateErrors(result: LocalJobResult): Set<string> {
  return new Set(
    result.execution.events.flatMap((event) => (event.type === "StateFailed" ? [event.error] : [])),
  );
}

/** Runs `body` and measures its wall-clock duration. */
export async function timed<T>(body: () => Promise<T>): Promise<{ value: T; elapsedMs: number }> {
  const started = Date.now();
  const value = await body();
  return { value, elapsedMs: Date.now() - started };
}
