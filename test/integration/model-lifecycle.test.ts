/**
 * The model lifecycle against the real Rekognition emulator and a real S3
 * server (s3rver), both on loopback, through the real AWS SDK clients.
 *
 * Time is virtual: the emulator runs on a manual clock, and the code under
 * test gets a clock whose `sleep` advances it. A model therefore starts and
 * stops exactly when the code has waited long enough, however slow the
 * machine, and every wait has a deadline in that same virtual time.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RekognitionClient } from "@aws-sdk/client-rekognition";
import { S3Client } from "@aws-sdk/client-s3";
import { SFNClient } from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../harness/local/emulator/index.ts";
import {
  type EmbeddedS3,
  localS3ClientConfig,
  startS3Server,
} from "../../harness/local/s3-server.ts";
import { InferenceUnitQuotaExceededError, ModelStartFailedError } from "../../src/errors.ts";
import { readLease } from "../../src/lease.ts";
import { describeModel, type ModelStatus, waitUntilRunning } from "../../src/model/describe.ts";
import { ensureModelRunning } from "../../src/model/start.ts";
import { stopModelIfOwned } from "../../src/model/stop.ts";
import { reapStaleLease, safetyStop } from "../../src/reaper.ts";
import { type Clock, silentLogger } from "../../src/runtime.ts";
import { ManualClock } from "../support/emulator/manual-clock.ts";

const BUCKET = "results";
const EXECUTION_A = "arn:aws:states:us-east-1:123456789012:execution:weekly-batch:a";
const EXECUTION_B = "arn:aws:states:us-east-1:123456789012:execution:weekly-batch:b";
const POLL_MS = 500;
const DEADLINE_MS = 120_000;
const START_DELAY_MS = 3_000;
const STOP_DELAY_MS = 2_000;

const emulatorClock = new ManualClock(Date.parse("2025-01-06T02:00:00.000Z"));
/** The code under test's clock: waiting is what moves the emulator's time. */
const clock: Clock = {
  now: () => emulatorClock.now(),
  sleep: (ms) => emulatorClock.advance(ms),
};

let dataDir: string;
let s3Server: EmbeddedS3;
let emulator: Emulator;
let s3: S3Client;
let rekognition: RekognitionClient;
let sfn: SFNClient;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "model-lifecycle-"));
  s3Server = await startS3Server({ directory: dataDir, buckets: [BUCKET] });
  emulator = await startEmulator({
    port: 0,
    clock: emulatorClock,
    startDelayMs: START_DELAY_MS,
    stopDelayMs: STOP_DELAY_MS,
    latencyMs: 0,
    latencyJitterMs: 0,
    unitQuota: 5,
    s3Endpoint: s3Server.endpoint,
  });
  s3 = new S3Client(localS3ClientConfig(s3Server.endpoint));
  const credentials = { accessKeyId: "test", secretAccessKey: "test" };
  rekognition = new RekognitionClient({
    endpoint: emulator.endpoint,
    region: "us-east-1",
    credentials,
    maxAttempts: 1,
  });
  // Never called by these tests' decisions except where an ARN execution is
  // reaped; pointed at a closed port so an unexpected call fails loudly.
  sfn = new SFNClient({
    endpoint: "http://127.0.0.1:9",
    region: "us-east-1",
    credentials,
    maxAttempts: 1,
  });
});

afterAll(async () => {
  rekognition?.destroy();
  s3?.destroy();
  sfn?.destroy();
  await emulator?.close();
  await s3Server?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

let counter = 0;
/** A fresh model version and a results prefix of its own, so tests do not share leases. */
function freshModel(status: "STOPPED" | "RUNNING" | "TRAINING_COMPLETED", units?: number) {
  counter += 1;
  const { projectVersionArn } = emulator.admin.declareModel({
    project: "lifecycle",
    version: `v${counter}`,
    feature: "CLASSIFICATION",
    status,
    ...(units ? { minInferenceUnits: units } : {}),
  });
  const resultsPrefix = `case-${counter}/`;
  const common = {
    rekognition,
    s3,
    resultsBucket: BUCKET,
    resultsPrefix,
    projectVersionArn,
    clock,
    logger: silentLogger,
    pollMs: POLL_MS,
  };
  return {
    projectVersionArn,
    resultsPrefix,
    common,
    ensure: (executionId: string, overrides: { units?: number; maxRunMs?: number } = {}) =>
      ensureModelRunning({
        ...common,
        units: overrides.units ?? 2,
        executionId,
        runId: `run-${counter}`,
        maxRunMs: overrides.maxRunMs ?? 3_600_000,
      }),
    waitRunning: () =>
      waitUntilRunning({ ...common, deadlineMs: clock.now() + DEADLINE_MS, pollMs: POLL_MS }),
    stop: (executionId: string) =>
      stopModelIfOwned({ ...common, executionId, reason: "run finished" }),
    status: async () => (await describeModel(common)).status,
    lease: () => readLease({ s3, resultsBucket: BUCKET, resultsPrefix }),
  };
}

/** Polls the model until it reaches `wanted`, with a deadline. */
async function waitForStatus(model: ReturnType<typeof freshModel>, wanted: ModelStatus) {
  const deadline = clock.now() + DEADLINE_MS;
  let status = await model.status();
  while (status !== wanted) {
    if (clock.now() > deadline) throw new Error(`model still ${status}, wanted ${wanted}`);
    await clock.sleep(POLL_MS);
    status = await model.status();
  }
}

describe("model lifecycle against the emulator", () => {
  it("starts a STOPPED model, waits for RUNNING, stops it, and the stop is idempotent", async () => {
    const model = freshModel("STOPPED");
    const started = await model.ensure(EXECUTION_A, { units: 2 });
    expect(started).toMatchObject({ action: "started", status: "STARTING", owned: true, units: 2 });
    expect(await model.lease()).toMatchObject({ executionId: EXECUTION_A, units: 2 });

    const running = await model.waitRunning();
    expect(running).toMatchObject({ status: "RUNNING", ready: true, minInferenceUnits: 2 });
    expect(Date.parse(running.checkedAt)).toBeGreaterThanOrEqual(
      Date.parse(started.startRequestedAt ?? "") + START_DELAY_MS,
    );

    const stop = await model.stop(EXECUTION_A);
    expect(stop).toMatchObject({ stopped: true, status: "STOPPING", leaseReleased: true });
    await waitForStatus(model, "STOPPED");
    expect((await model.lease())?.releaseReason).toBe("run finished");

    const again = await model.stop(EXECUTION_A);
    expect(again).toMatchObject({ stopped: false, status: "STOPPED" });
    expect(again.reason).toMatch(/already released/);
  });

  it("passes MaxInferenceUnits when auto-scaling is asked for", async () => {
    const model = freshModel("TRAINING_COMPLETED");
    await ensureModelRunning({
      ...model.common,
      units: 1,
      maxInferenceUnits: 3,
      executionId: EXECUTION_A,
      runId: "autoscale",
      maxRunMs: 3_600_000,
    });
    const running = await model.waitRunning();
    expect(running).toMatchObject({ minInferenceUnits: 1, maxInferenceUnits: 3 });
    expect((await model.stop(EXECUTION_A)).stopped).toBe(true);
  });

  it("adopts a model someone else runs and leaves it running", async () => {
    const model = freshModel("RUNNING", 3);
    const adopted = await model.ensure(EXECUTION_A);
    expect(adopted).toMatchObject({ action: "adopted", owned: false, status: "RUNNING", units: 3 });
    expect(await model.lease()).toBeUndefined();

    const stop = await model.stop(EXECUTION_A);
    expect(stop).toMatchObject({ stopped: false, status: "RUNNING" });
    expect(await model.status()).toBe("RUNNING");
  });

  it("a failed start ends in ModelStartFailedError, and the stop tolerates it", async () => {
    const model = freshModel("STOPPED");
    emulator.admin.failNextStart(model.projectVersionArn, "No capacity for 2 units");
    await model.ensure(EXECUTION_A);
    const error = await model.waitRunning().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelStartFailedError);
    expect((error as Error).message).toContain("No capacity for 2 units");

    const stop = await model.stop(EXECUTION_A);
    expect(stop).toMatchObject({ stopped: false, status: "FAILED", leaseReleased: true });
  });

  it("waits for a STOPPING model to stop, then starts it", async () => {
    const model = freshModel("RUNNING");
    emulator.admin.forceStop(model.projectVersionArn);
    const stopRequestedAt = clock.now();
    expect(await model.status()).toBe("STOPPING");

    const started = await model.ensure(EXECUTION_A);
    expect(started).toMatchObject({ action: "started", owned: true });
    expect(Date.parse(started.startRequestedAt ?? "")).toBeGreaterThanOrEqual(
      stopRequestedAt + STOP_DELAY_MS,
    );
    await model.waitRunning();
    expect((await model.stop(EXECUTION_A)).stopped).toBe(true);
  });

  it("a retried step finds its own model: already ours, not started twice", async () => {
    const model = freshModel("STOPPED");
    await model.ensure(EXECUTION_A);
    expect(await model.ensure(EXECUTION_A)).toMatchObject({
      action: "waiting-for-start",
      owned: true,
    });
    await model.waitRunning();
    expect(await model.ensure(EXECUTION_A)).toMatchObject({ action: "already-ours", owned: true });
    // Another execution finds it running and does not own it.
    expect(await model.ensure(EXECUTION_B)).toMatchObject({ action: "adopted", owned: false });
    expect((await model.stop(EXECUTION_B)).stopped).toBe(false);
    expect((await model.stop(EXECUTION_A)).stopped).toBe(true);
  });

  it("too many units: the emulator's LimitExceededException becomes a named error", async () => {
    const model = freshModel("STOPPED");
    await expect(model.ensure(EXECUTION_A, { units: 6 })).rejects.toBeInstanceOf(
      InferenceUnitQuotaExceededError,
    );
    expect(await model.status()).toBe("STOPPED");
    expect((await model.lease())?.releasedAt).toBeDefined();
  });
});

describe("safety stop and reaper against the emulator", () => {
  it("the safety stop stops the model of the owning execution", async () => {
    const model = freshModel("STOPPED");
    await model.ensure(EXECUTION_A);
    await model.waitRunning();
    const result = await safetyStop({
      ...model.common,
      executionArn: EXECUTION_A,
      status: "ABORTED",
    });
    expect(result).toMatchObject({ stopped: true, projectVersionArn: model.projectVersionArn });
    await waitForStatus(model, "STOPPED");
  });

  it("the safety stop of a foreign execution leaves the model running", async () => {
    const model = freshModel("STOPPED");
    await model.ensure(EXECUTION_A);
    await model.waitRunning();
    const result = await safetyStop({
      ...model.common,
      executionArn: EXECUTION_B,
      status: "FAILED",
    });
    expect(result.stopped).toBe(false);
    expect(result.reason).toContain(EXECUTION_A);
    expect(await model.status()).toBe("RUNNING");
    expect((await model.stop(EXECUTION_A)).stopped).toBe(true);
  });

  it("the reaper stops the model of an expired local lease", async () => {
    const model = freshModel("STOPPED");
    await model.ensure("local-run-1", { maxRunMs: 1 });
    await model.waitRunning();
    const result = await reapStaleLease({ ...model.common, sfn });
    expect(result).toMatchObject({ action: "stopped", executionId: "local-run-1" });
    await waitForStatus(model, "STOPPED");
    expect(await reapStaleLease({ ...model.common, sfn })).toMatchObject({ action: "none" });
  });
});
