import {
  DescribeProjectsCommand,
  DescribeProjectVersionsCommand,
  InternalServerError,
  LimitExceededException,
  StartProjectVersionCommand,
  StopProjectVersionCommand,
  ThrottlingException,
} from "@aws-sdk/client-rekognition";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  AccessDeniedError,
  ControlPlaneUnavailableError,
  InferenceUnitQuotaExceededError,
  InvalidRunInputError,
  ModelNotUsableError,
  ModelStartFailedError,
  ModelStartTimeoutError,
  ResourceNotFoundError,
} from "../../src/errors.ts";
import { checkModel, describeModel, waitUntilRunning } from "../../src/model/describe.ts";
import { parseProjectVersionArn } from "../../src/model/model-ref.ts";
import {
  decideStart,
  type EnsureModelRunningInput,
  ensureModelRunning,
} from "../../src/model/start.ts";
import { type StopModelInput, stopModelIfOwned } from "../../src/model/stop.ts";
import {
  AccessDeniedException,
  EXECUTION_ARN,
  type FakeAws,
  fakeAws,
  LEASE_KEY,
  leaseFor,
  type ManualClock,
  MODEL_ARN,
  manualClock,
  OTHER_EXECUTION_ARN,
  OTHER_MODEL_ARN,
  RESULTS_BUCKET,
  RESULTS_PREFIX,
  type RecordingLogger,
  ResourceInUseException,
  ResourceNotFoundException,
  recordingLogger,
  rekognitionError,
  serviceError,
} from "../support/model-fakes.ts";

const HOUR = 3_600_000;
let aws: FakeAws;
let clock: ManualClock;
let logger: RecordingLogger;

beforeEach(() => {
  aws = fakeAws();
  clock = manualClock();
  logger = recordingLogger();
});
afterEach(() => aws.restore());

function ensureInput(overrides: Partial<EnsureModelRunningInput> = {}): EnsureModelRunningInput {
  return {
    rekognition: aws.rekognition,
    s3: aws.s3,
    resultsBucket: RESULTS_BUCKET,
    resultsPrefix: RESULTS_PREFIX,
    projectVersionArn: MODEL_ARN,
    units: 2,
    executionId: EXECUTION_ARN,
    runId: "run-2025-01-06",
    maxRunMs: 6 * HOUR,
    clock,
    logger,
    pollMs: 10_000,
    ...overrides,
  };
}

function stopInput(overrides: Partial<StopModelInput> = {}): StopModelInput {
  return {
    rekognition: aws.rekognition,
    s3: aws.s3,
    resultsBucket: RESULTS_BUCKET,
    resultsPrefix: RESULTS_PREFIX,
    projectVersionArn: MODEL_ARN,
    executionId: EXECUTION_ARN,
    clock,
    logger,
    reason: "run finished",
    pollMs: 10_000,
    ...overrides,
  };
}

const startCalls = () => aws.rekognitionMock.commandCalls(StartProjectVersionCommand);
const stopCalls = () => aws.rekognitionMock.commandCalls(StopProjectVersionCommand);
const leasePuts = () =>
  aws.s3Mock.commandCalls(PutObjectCommand).filter((call) => call.args[0].input.Key === LEASE_KEY);

describe("parseProjectVersionArn", () => {
  it("splits a model version ARN", () => {
    expect(parseProjectVersionArn(MODEL_ARN)).toEqual({
      partition: "aws",
      region: "us-east-1",
      account: "123456789012",
      project: "flowers",
      version: "flowers.2025-01-06",
    });
  });

  it.each([
    "arn:aws:rekognition:us-east-1:123456789012:project/flowers/1690000000000",
    "arn:aws:s3:::bucket",
    "flowers",
  ])("rejects %s, naming the field", (arn) => {
    expect(() => parseProjectVersionArn(arn)).toThrow(InvalidRunInputError);
    expect(() => parseProjectVersionArn(arn)).toThrow(/projectVersionArn/);
  });
});

describe("describeModel", () => {
  it("finds the project by name, then describes just this version", async () => {
    aws.model.status = "RUNNING";
    aws.model.minInferenceUnits = 2;
    aws.model.maxInferenceUnits = 4;
    expect(
      await describeModel({ rekognition: aws.rekognition, projectVersionArn: MODEL_ARN }),
    ).toEqual({
      status: "RUNNING",
      minInferenceUnits: 2,
      maxInferenceUnits: 4,
    });
    expect(aws.rekognitionMock.commandCalls(DescribeProjectsCommand)[0]?.args[0].input).toEqual({
      ProjectNames: ["flowers"],
    });
    expect(
      aws.rekognitionMock.commandCalls(DescribeProjectVersionsCommand)[0]?.args[0].input,
    ).toEqual({
      ProjectArn: "arn:aws:rekognition:us-east-1:123456789012:project/flowers/1690000000000",
      VersionNames: ["flowers.2025-01-06"],
    });
  });

  it("looks the project up once per client", async () => {
    const ref = { rekognition: aws.rekognition, projectVersionArn: MODEL_ARN };
    await describeModel(ref);
    await describeModel(ref);
    expect(aws.rekognitionMock.commandCalls(DescribeProjectsCommand)).toHaveLength(1);
    expect(aws.rekognitionMock.commandCalls(DescribeProjectVersionsCommand)).toHaveLength(2);
  });

  it("uses a given project ARN without looking it up", async () => {
    await describeModel({
      rekognition: aws.rekognition,
      projectVersionArn: MODEL_ARN,
      projectArn: "arn:aws:rekognition:us-east-1:123456789012:project/flowers/1690000000000",
    });
    expect(aws.rekognitionMock.commandCalls(DescribeProjectsCommand)).toHaveLength(0);
  });

  it("reports the status message", async () => {
    aws.model.status = "FAILED";
    aws.model.statusMessage = "Insufficient capacity";
    const model = await describeModel({
      rekognition: aws.rekognition,
      projectVersionArn: MODEL_ARN,
    });
    expect(model).toEqual({ status: "FAILED", statusMessage: "Insufficient capacity" });
  });

  it("names the ARN when the project does not exist", async () => {
    const arn = MODEL_ARN.replaceAll("flowers", "trees");
    const error = await describeModel({
      rekognition: aws.rekognition,
      projectVersionArn: arn,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResourceNotFoundError);
    expect((error as Error).message).toContain(arn);
  });

  it("names the ARN when the version does not exist", async () => {
    const error = await describeModel({
      rekognition: aws.rekognition,
      projectVersionArn: OTHER_MODEL_ARN,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResourceNotFoundError);
    expect((error as Error).message).toContain(OTHER_MODEL_ARN);
  });

  it("maps AccessDeniedException and ResourceNotFoundException", async () => {
    const ref = { rekognition: aws.rekognition, projectVersionArn: MODEL_ARN };
    aws.model.describeErrorOnce = rekognitionError(AccessDeniedException, "no", 400);
    await expect(describeModel(ref)).rejects.toBeInstanceOf(AccessDeniedError);
    aws.model.describeErrorOnce = rekognitionError(ResourceNotFoundException, "gone", 400);
    await expect(describeModel(ref)).rejects.toBeInstanceOf(ResourceNotFoundError);
    aws.rekognitionMock
      .on(DescribeProjectsCommand)
      .rejects(rekognitionError(AccessDeniedException, "no", 400));
    await expect(
      describeModel({ rekognition: aws.rekognition, projectVersionArn: OTHER_MODEL_ARN }),
    ).rejects.toBeInstanceOf(AccessDeniedError);
  });
});

describe("decideStart", () => {
  it.each([
    ["STOPPED", false, "start"],
    ["STOPPED", true, "start"],
    ["TRAINING_COMPLETED", false, "start"],
    ["RUNNING", false, "adopt"],
    ["RUNNING", true, "already-ours"],
    ["STARTING", false, "adopt"],
    ["STARTING", true, "waiting-for-start"],
    ["STOPPING", false, "wait-for-stop"],
    ["STOPPING", true, "wait-for-stop"],
    ["FAILED", false, "unusable"],
    ["TRAINING_FAILED", false, "unusable"],
    ["TRAINING_IN_PROGRESS", false, "unusable"],
    ["DELETING", true, "unusable"],
    ["EXPIRED", false, "unusable"],
    ["DEPRECATED", false, "unusable"],
    ["COPYING_IN_PROGRESS", false, "unusable"],
    ["COPYING_COMPLETED", false, "unusable"],
    ["COPYING_FAILED", false, "unusable"],
  ] as const)("%s (lease ours: %s) -> %s", (status, ours, decision) => {
    expect(decideStart(status, ours)).toBe(decision);
  });
});

describe("ensureModelRunning", () => {
  it("STOPPED: writes the lease first, then starts with the planned units", async () => {
    const result = await ensureModelRunning(ensureInput({ units: 3 }));
    expect(result).toEqual({
      action: "started",
      status: "STARTING",
      owned: true,
      startRequestedAt: "2025-01-06T02:00:00.000Z",
      units: 3,
    });
    const putIndex = aws.events.indexOf(`put ${LEASE_KEY}`);
    const startIndex = aws.events.findIndex((event) => event.startsWith("start"));
    expect(putIndex).toBeGreaterThanOrEqual(0);
    expect(putIndex).toBeLessThan(startIndex);
    expect(startCalls()[0]?.args[0].input).toEqual({
      ProjectVersionArn: MODEL_ARN,
      MinInferenceUnits: 3,
    });
    expect(aws.storedLease()).toEqual({
      projectVersionArn: MODEL_ARN,
      executionId: EXECUTION_ARN,
      runId: "run-2025-01-06",
      startedAt: "2025-01-06T02:00:00.000Z",
      units: 3,
      expiresAt: "2025-01-06T08:00:00.000Z",
    });
  });

  it("TRAINING_COMPLETED with auto-scaling: passes MaxInferenceUnits", async () => {
    aws.model.status = "TRAINING_COMPLETED";
    const result = await ensureModelRunning(ensureInput({ units: 2, maxInferenceUnits: 5 }));
    expect(result).toMatchObject({
      action: "started",
      owned: true,
      units: 2,
      maxInferenceUnits: 5,
    });
    expect(startCalls()[0]?.args[0].input).toEqual({
      ProjectVersionArn: MODEL_ARN,
      MinInferenceUnits: 2,
      MaxInferenceUnits: 5,
    });
    expect(aws.storedLease()?.maxInferenceUnits).toBe(5);
  });

  it("RUNNING without a lease: adopts it, not owned, never starts or writes a lease", async () => {
    aws.model.status = "RUNNING";
    aws.model.minInferenceUnits = 4;
    const result = await ensureModelRunning(ensureInput({ units: 2 }));
    expect(result).toEqual({ action: "adopted", status: "RUNNING", owned: false, units: 4 });
    expect(startCalls()).toHaveLength(0);
    expect(leasePuts()).toHaveLength(0);
  });

  it("RUNNING under another execution's lease: adopts it and leaves the lease alone", async () => {
    aws.model.status = "RUNNING";
    const theirs = leaseFor(OTHER_EXECUTION_ARN);
    aws.putLease(theirs);
    const result = await ensureModelRunning(ensureInput());
    expect(result).toMatchObject({ action: "adopted", owned: false });
    expect(aws.storedLease()).toEqual(theirs);
  });

  it("RUNNING under our own lease (a retried step): ours", async () => {
    aws.model.status = "RUNNING";
    aws.putLease(leaseFor(EXECUTION_ARN, { units: 3 }));
    const result = await ensureModelRunning(ensureInput());
    expect(result).toEqual({
      action: "already-ours",
      status: "RUNNING",
      owned: true,
      startRequestedAt: "2025-01-06T01:00:00.000Z",
      units: 3,
    });
    expect(startCalls()).toHaveLength(0);
  });

  it("RUNNING under our lease released earlier: not ours any more", async () => {
    aws.model.status = "RUNNING";
    aws.putLease(leaseFor(EXECUTION_ARN, { releasedAt: "2025-01-06T01:30:00.000Z" }));
    expect(await ensureModelRunning(ensureInput())).toMatchObject({
      action: "adopted",
      owned: false,
    });
  });

  it("RUNNING under our execution's lease for another model: adopted", async () => {
    aws.model.status = "RUNNING";
    aws.putLease(leaseFor(EXECUTION_ARN, { projectVersionArn: OTHER_MODEL_ARN }));
    expect(await ensureModelRunning(ensureInput())).toMatchObject({ owned: false });
  });

  it("STARTING under our lease: ours, keep waiting", async () => {
    aws.model.status = "STARTING";
    aws.putLease(leaseFor(EXECUTION_ARN));
    expect(await ensureModelRunning(ensureInput())).toMatchObject({
      action: "waiting-for-start",
      status: "STARTING",
      owned: true,
    });
    expect(startCalls()).toHaveLength(0);
  });

  it("STARTING by someone else: adopted", async () => {
    aws.model.status = "STARTING";
    expect(await ensureModelRunning(ensureInput())).toMatchObject({
      action: "adopted",
      status: "STARTING",
      owned: false,
    });
    expect(startCalls()).toHaveLength(0);
  });

  it("STOPPING: waits until STOPPED, then starts", async () => {
    aws.model.status = "STOPPING";
    clock.onSleep = (_now, sleeps) => {
      if (sleeps === 3) aws.model.status = "STOPPED";
    };
    const result = await ensureModelRunning(ensureInput());
    expect(result).toMatchObject({ action: "started", owned: true });
    expect(clock.sleeps).toEqual([10_000, 10_000, 10_000]);
    expect(startCalls()).toHaveLength(1);
    expect(aws.storedLease()?.startedAt).toBe("2025-01-06T02:00:30.000Z");
  });

  it("STOPPING: polls through a transient describe error", async () => {
    aws.model.status = "STOPPING";
    clock.onSleep = (_now, sleeps) => {
      if (sleeps === 1) aws.model.describeErrorOnce = serviceError("ThrottlingException", 400);
      if (sleeps === 2) aws.model.status = "STOPPED";
    };
    expect(await ensureModelRunning(ensureInput())).toMatchObject({ action: "started" });
  });

  it("STOPPING past the deadline: ModelStartTimeoutError, nothing started", async () => {
    aws.model.status = "STOPPING";
    const error = await ensureModelRunning(ensureInput({ stoppingTimeoutMs: 25_000 })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ModelStartTimeoutError);
    expect((error as Error).message).toMatch(/still STOPPING after 25 s/);
    expect(clock.sleeps).toEqual([10_000, 10_000, 5_000]);
    expect(startCalls()).toHaveLength(0);
    expect(leasePuts()).toHaveLength(0);
  });

  it.each([
    "FAILED",
    "TRAINING_FAILED",
    "TRAINING_IN_PROGRESS",
    "DELETING",
    "EXPIRED",
    "DEPRECATED",
    "COPYING_IN_PROGRESS",
    "COPYING_COMPLETED",
    "COPYING_FAILED",
  ])("%s: ModelNotUsableError with the status and message, model untouched", async (status) => {
    aws.model.status = status;
    aws.model.statusMessage = "the reason AWS gives";
    const error = await ensureModelRunning(ensureInput()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelNotUsableError);
    expect((error as Error).name).toBe("ModelNotUsable");
    expect((error as Error).message).toContain(status);
    expect((error as Error).message).toContain("the reason AWS gives");
    expect(startCalls()).toHaveLength(0);
    expect(stopCalls()).toHaveLength(0);
    expect(leasePuts()).toHaveLength(0);
  });

  it("start race (ResourceInUseException): releases our lease, looks again, adopts", async () => {
    // Someone else's start lands between our describe and our start.
    aws.rekognitionMock.on(StartProjectVersionCommand).callsFake(() => {
      aws.events.push("start");
      aws.model.status = "STARTING";
      throw rekognitionError(ResourceInUseException, "in use");
    });
    const result = await ensureModelRunning(ensureInput());
    expect(result).toMatchObject({ action: "adopted", status: "STARTING", owned: false });
    expect(aws.storedLease()).toMatchObject({
      executionId: EXECUTION_ARN,
      releaseReason: "start refused: ResourceInUseException",
    });
    expect(aws.storedLease()?.releasedAt).toBeDefined();
  });

  it("start race: gives back another execution's active lease as it was", async () => {
    const theirs = leaseFor(OTHER_EXECUTION_ARN);
    aws.putLease(theirs);
    aws.rekognitionMock.on(StartProjectVersionCommand).callsFake(() => {
      aws.model.status = "RUNNING";
      throw rekognitionError(ResourceInUseException, "in use");
    });
    expect(await ensureModelRunning(ensureInput())).toMatchObject({ owned: false });
    expect(aws.storedLease()).toEqual(theirs);
  });

  it("unit quota (LimitExceededException): named error, lease released, nothing stopped", async () => {
    aws.model.startError = rekognitionError(LimitExceededException, "quota of 5 units");
    const error = await ensureModelRunning(ensureInput({ units: 8 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InferenceUnitQuotaExceededError);
    expect((error as Error).name).toBe("InferenceUnitQuotaExceeded");
    expect((error as Error).message).toMatch(/8 inference unit\(s\).*quota of 5 units/);
    expect(aws.storedLease()?.releasedAt).toBeDefined();
    expect(stopCalls()).toHaveLength(0);
  });

  it("access denied on start: AccessDeniedError, lease released", async () => {
    aws.model.startError = rekognitionError(AccessDeniedException, "not allowed");
    await expect(ensureModelRunning(ensureInput())).rejects.toBeInstanceOf(AccessDeniedError);
    expect(aws.storedLease()?.releaseReason).toBe("start refused: AccessDeniedException");
  });

  it("start outcome unknown (5xx): ControlPlaneUnavailable, and the lease stays active", async () => {
    const boom = serviceError("InternalServerError", 500);
    aws.model.startError = boom;
    await expect(ensureModelRunning(ensureInput())).rejects.toMatchObject({
      name: "ControlPlaneUnavailable",
      cause: boom,
    });
    expect(aws.storedLease()).toMatchObject({ executionId: EXECUTION_ARN });
    expect(aws.storedLease()?.releasedAt).toBeUndefined();
    expect(logger.lines.some((line) => line.level === "warn")).toBe(true);
  });

  it("rejects bad unit counts before any call", async () => {
    await expect(ensureModelRunning(ensureInput({ units: 0 }))).rejects.toThrow(/units/);
    await expect(
      ensureModelRunning(ensureInput({ units: 3, maxInferenceUnits: 2 })),
    ).rejects.toThrow(InvalidRunInputError);
    expect(aws.events).toEqual([]);
  });
});

describe("checkModel", () => {
  const ref = () => ({ rekognition: aws.rekognition, projectVersionArn: MODEL_ARN, clock });

  it("RUNNING is ready", async () => {
    aws.model.status = "RUNNING";
    expect(await checkModel(ref())).toMatchObject({
      status: "RUNNING",
      ready: true,
      failed: false,
      checkedAt: "2025-01-06T02:00:00.000Z",
    });
  });

  it("STARTING is neither ready nor failed", async () => {
    aws.model.status = "STARTING";
    expect(await checkModel(ref())).toMatchObject({ ready: false, failed: false });
  });

  it.each(["FAILED", "DELETING", "EXPIRED"])("%s has failed, with the message", async (status) => {
    aws.model.status = status;
    aws.model.statusMessage = "why";
    expect(await checkModel(ref())).toMatchObject({
      status,
      ready: false,
      failed: true,
      statusMessage: "why",
    });
  });
});

describe("waitUntilRunning", () => {
  const input = (deadlineMs: number) => ({
    rekognition: aws.rekognition,
    projectVersionArn: MODEL_ARN,
    clock,
    logger,
    deadlineMs,
    pollMs: 20_000,
  });

  it("polls until RUNNING", async () => {
    aws.model.status = "STARTING";
    clock.onSleep = (_now, sleeps) => {
      if (sleeps === 4) aws.model.status = "RUNNING";
    };
    const check = await waitUntilRunning(input(clock.now() + HOUR));
    expect(check.ready).toBe(true);
    expect(clock.sleeps).toEqual([20_000, 20_000, 20_000, 20_000]);
  });

  it("FAILED: ModelStartFailedError with the status message", async () => {
    aws.model.status = "STARTING";
    clock.onSleep = () => {
      aws.model.status = "FAILED";
      aws.model.statusMessage = "Insufficient capacity in us-east-1a";
    };
    const error = await waitUntilRunning(input(clock.now() + HOUR)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelStartFailedError);
    expect((error as Error).message).toContain("Insufficient capacity in us-east-1a");
  });

  it("another unusable status: ModelNotUsableError", async () => {
    aws.model.status = "DELETING";
    await expect(waitUntilRunning(input(clock.now() + HOUR))).rejects.toBeInstanceOf(
      ModelNotUsableError,
    );
  });

  it("deadline: ModelStartTimeoutError saying how long and the last status", async () => {
    aws.model.status = "STARTING";
    const error = await waitUntilRunning(input(clock.now() + 50_000)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelStartTimeoutError);
    expect((error as Error).message).toMatch(/within 50 s \(last status STARTING\)/);
    expect(clock.sleeps).toEqual([20_000, 20_000, 10_000]);
  });

  it("polls through a transient describe error, but not through access denied", async () => {
    aws.model.status = "RUNNING";
    aws.model.describeErrorOnce = serviceError("ThrottlingException", 400);
    expect((await waitUntilRunning(input(clock.now() + HOUR))).ready).toBe(true);
    aws.model.describeErrorOnce = rekognitionError(AccessDeniedException, "no");
    await expect(waitUntilRunning(input(clock.now() + HOUR))).rejects.toBeInstanceOf(
      AccessDeniedError,
    );
  });
});

describe("stopModelIfOwned", () => {
  it("stops the model this execution started and marks the lease released", async () => {
    aws.model.status = "RUNNING";
    aws.putLease(leaseFor(EXECUTION_ARN));
    const result = await stopModelIfOwned(stopInput());
    expect(result).toEqual({
      stopped: true,
      reason: "run finished",
      status: "STOPPING",
      stopRequestedAt: "2025-01-06T02:00:00.000Z",
      leaseReleased: true,
    });
    expect(stopCalls()[0]?.args[0].input).toEqual({ ProjectVersionArn: MODEL_ARN });
    expect(aws.storedLease()).toMatchObject({
      executionId: EXECUTION_ARN,
      releasedAt: "2025-01-06T02:00:00.000Z",
      releaseReason: "run finished",
    });
  });

  it("a restart's stop keeps the lease; the same execution then starts the model again with more units under it", async () => {
    aws.model.status = "RUNNING";
    aws.putLease(leaseFor(EXECUTION_ARN));
    const stop = await stopModelIfOwned(stopInput({ keepLease: true, reason: "restart" }));
    expect(stop).toMatchObject({ stopped: true, status: "STOPPING", leaseReleased: false });
    expect(aws.storedLease()?.executionId).toBe(EXECUTION_ARN);
    expect(aws.storedLease()?.releasedAt).toBeUndefined();

    aws.model.status = "STOPPED";
    const started = await ensureModelRunning(ensureInput({ units: 4 }));
    expect(started).toMatchObject({ action: "started", owned: true, units: 4 });
    expect(started.replacedLease).toBeUndefined();
    expect(startCalls().at(-1)?.args[0].input).toEqual({
      ProjectVersionArn: MODEL_ARN,
      MinInferenceUnits: 4,
    });
    expect(aws.storedLease()).toMatchObject({ executionId: EXECUTION_ARN, units: 4 });
  });

  it("is idempotent: a second call is a no-op that says why", async () => {
    aws.model.status = "RUNNING";
    aws.putLease(leaseFor(EXECUTION_ARN));
    await stopModelIfOwned(stopInput());
    const again = await stopModelIfOwned(stopInput({ reason: "Catch: step failed" }));
    expect(again).toMatchObject({ stopped: false, status: "STOPPING", leaseReleased: false });
    expect(again.reason).toMatch(/already released at .*run finished/);
    expect(stopCalls()).toHaveLength(1);
  });

  it("without a lease: leaves the model running", async () => {
    aws.model.status = "RUNNING";
    const result = await stopModelIfOwned(stopInput());
    expect(result).toMatchObject({ stopped: false, status: "RUNNING" });
    expect(result.reason).toMatch(/no lease/);
    expect(stopCalls()).toHaveLength(0);
  });

  it("never stops a model another execution started (adopted)", async () => {
    aws.model.status = "RUNNING";
    const theirs = leaseFor(OTHER_EXECUTION_ARN);
    aws.putLease(theirs);
    const result = await stopModelIfOwned(stopInput());
    expect(result.stopped).toBe(false);
    expect(result.reason).toContain(OTHER_EXECUTION_ARN);
    expect(stopCalls()).toHaveLength(0);
    expect(aws.storedLease()).toEqual(theirs);
  });

  it("never stops a model the lease does not name", async () => {
    aws.model.status = "RUNNING";
    aws.putLease(leaseFor(EXECUTION_ARN, { projectVersionArn: OTHER_MODEL_ARN }));
    const result = await stopModelIfOwned(stopInput());
    expect(result.stopped).toBe(false);
    expect(result.reason).toMatch(/another model/);
    expect(stopCalls()).toHaveLength(0);
  });

  it("force: the operator's emergency stop ignores ownership and releases the lease", async () => {
    aws.model.status = "RUNNING";
    aws.putLease(leaseFor(OTHER_EXECUTION_ARN));
    const result = await stopModelIfOwned(stopInput({ force: true, reason: "operator" }));
    expect(result).toMatchObject({ stopped: true, reason: "forced stop: operator" });
    expect(aws.storedLease()).toMatchObject({
      executionId: OTHER_EXECUTION_ARN,
      releaseReason: "operator",
    });
  });

  it("force without any lease still stops", async () => {
    aws.model.status = "RUNNING";
    const result = await stopModelIfOwned(stopInput({ force: true }));
    expect(result).toMatchObject({ stopped: true, leaseReleased: false });
    expect(aws.storedLease()).toBeUndefined();
  });

  it.each(["STOPPED", "STOPPING"])(
    "owned but already %s: no stop call, lease released",
    async (status) => {
      aws.model.status = status;
      aws.putLease(leaseFor(EXECUTION_ARN));
      const result = await stopModelIfOwned(stopInput());
      expect(result).toMatchObject({ stopped: false, status, leaseReleased: true });
      expect(result.reason).toContain(`already ${status}`);
      expect(stopCalls()).toHaveLength(0);
      expect(aws.storedLease()?.releasedAt).toBeDefined();
    },
  );

  it("owned, model FAILED after a failed start: nothing to stop, lease released", async () => {
    aws.model.status = "FAILED";
    aws.putLease(leaseFor(EXECUTION_ARN));
    expect(await stopModelIfOwned(stopInput())).toMatchObject({
      stopped: false,
      status: "FAILED",
      leaseReleased: true,
    });
    expect(stopCalls()).toHaveLength(0);
  });

  it("tolerates a stop that races with another stop (ResourceInUseException)", async () => {
    aws.model.status = "RUNNING";
    aws.putLease(leaseFor(EXECUTION_ARN));
    aws.rekognitionMock.on(StopProjectVersionCommand).callsFake(() => {
      aws.model.status = "STOPPING";
      throw rekognitionError(ResourceInUseException, "already stopping");
    });
    const result = await stopModelIfOwned(stopInput());
    expect(result).toMatchObject({ stopped: false, status: "STOPPING", leaseReleased: true });
  });

  it("STARTING refusing the stop: keeps the lease for a later stop or the reaper", async () => {
    aws.model.status = "STARTING";
    aws.putLease(leaseFor(EXECUTION_ARN));
    aws.rekognitionMock
      .on(StopProjectVersionCommand)
      .rejects(rekognitionError(ResourceInUseException, "starting"));
    const result = await stopModelIfOwned(stopInput());
    expect(result).toMatchObject({ stopped: false, status: "STARTING", leaseReleased: false });
    expect(result.reason).toMatch(/lease is kept/);
    expect(aws.storedLease()?.releasedAt).toBeUndefined();
  });

  it("STARTING refusing the stop, with time to settle: stops once it can", async () => {
    aws.model.status = "STARTING";
    aws.putLease(leaseFor(EXECUTION_ARN));
    aws.rekognitionMock.on(StopProjectVersionCommand).callsFake(() => {
      if (aws.model.status === "STARTING") {
        throw rekognitionError(ResourceInUseException, "starting");
      }
      aws.model.status = "STOPPING";
      return { Status: "STOPPING" };
    });
    clock.onSleep = (_now, sleeps) => {
      if (sleeps === 2) aws.model.status = "RUNNING";
    };
    const result = await stopModelIfOwned(stopInput({ settleTimeoutMs: 120_000 }));
    expect(result).toMatchObject({ stopped: true, leaseReleased: true });
    expect(stopCalls()).toHaveLength(3);
  });

  it("access denied on stop: AccessDeniedError and the lease stays active", async () => {
    aws.model.status = "RUNNING";
    aws.putLease(leaseFor(EXECUTION_ARN));
    aws.model.stopError = rekognitionError(AccessDeniedException, "no");
    await expect(stopModelIfOwned(stopInput())).rejects.toBeInstanceOf(AccessDeniedError);
    expect(aws.storedLease()?.releasedAt).toBeUndefined();
  });

  it("the model version was deleted: nothing to stop, lease released", async () => {
    aws.putLease(leaseFor(EXECUTION_ARN));
    aws.model.describeErrorOnce = rekognitionError(ResourceNotFoundException, "gone");
    expect(await stopModelIfOwned(stopInput())).toMatchObject({
      stopped: false,
      status: "UNKNOWN",
      leaseReleased: true,
    });
  });
});

/** An SDK error after the SDK's own retries, as the retry middleware leaves it. */
function afterRetries<T extends Error & { $metadata: { attempts?: number } }>(
  error: T,
  attempts: number,
): T {
  error.$metadata.attempts = attempts;
  return error;
}

describe("control-plane throttling and 5xx after the SDK's retries", () => {
  it("describe: a ThrottlingException becomes ControlPlaneUnavailable, naming the call and the attempts", async () => {
    aws.rekognitionMock
      .on(DescribeProjectVersionsCommand)
      .rejects(afterRetries(rekognitionError(ThrottlingException, "Slow down"), 5));
    const error = await describeModel({
      rekognition: aws.rekognition,
      projectVersionArn: MODEL_ARN,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ControlPlaneUnavailableError);
    expect((error as Error).name).toBe("ControlPlaneUnavailable");
    expect((error as Error).message).toMatch(
      /could not describe model .*: ThrottlingException after 5 attempts \(Slow down\)/,
    );
  });

  it("the project lookup: an InternalServerError becomes ControlPlaneUnavailable", async () => {
    aws.rekognitionMock
      .on(DescribeProjectsCommand)
      .rejects(afterRetries(rekognitionError(InternalServerError, "boom", 500), 5));
    await expect(
      describeModel({ rekognition: aws.rekognition, projectVersionArn: MODEL_ARN }),
    ).rejects.toMatchObject({ name: "ControlPlaneUnavailable" });
  });

  it("ensureModelRunning: a throttled first describe is ControlPlaneUnavailable, nothing written or started", async () => {
    aws.rekognitionMock
      .on(DescribeProjectVersionsCommand)
      .rejects(afterRetries(rekognitionError(ThrottlingException, "Slow down"), 5));
    await expect(ensureModelRunning(ensureInput())).rejects.toBeInstanceOf(
      ControlPlaneUnavailableError,
    );
    expect(leasePuts()).toHaveLength(0);
    expect(startCalls()).toHaveLength(0);
  });

  it("a start throttled on every attempt: ControlPlaneUnavailable, the lease kept (an earlier attempt may have started it)", async () => {
    aws.model.startError = afterRetries(rekognitionError(ThrottlingException, "Slow down"), 5);
    await expect(ensureModelRunning(ensureInput())).rejects.toBeInstanceOf(
      ControlPlaneUnavailableError,
    );
    expect(aws.storedLease()).toMatchObject({ executionId: EXECUTION_ARN });
    expect(aws.storedLease()?.releasedAt).toBeUndefined();
  });

  it("the step retried after that: the model is still STOPPED under our lease, so it starts it and owns it", async () => {
    aws.putLease(leaseFor(EXECUTION_ARN));
    const result = await ensureModelRunning(ensureInput());
    expect(result).toMatchObject({ action: "started", owned: true });
    expect(startCalls()).toHaveLength(1);
  });

  it("a start whose retried attempt meets ResourceInUse (its own earlier attempt started it): owned, never adopted", async () => {
    aws.rekognitionMock.on(StartProjectVersionCommand).callsFake(() => {
      // The first attempt's answer was lost (a 5xx) but it started the model;
      // the SDK's second attempt meets the STARTING model.
      aws.model.status = "STARTING";
      throw afterRetries(rekognitionError(ResourceInUseException, "in use"), 2);
    });
    const result = await ensureModelRunning(ensureInput());
    expect(result).toMatchObject({ action: "waiting-for-start", status: "STARTING", owned: true });
    expect(aws.storedLease()?.releasedAt).toBeUndefined();
  });

  it("a quota refusal after retries is still certain: the lease is given back", async () => {
    aws.model.startError = afterRetries(rekognitionError(LimitExceededException, "quota"), 5);
    await expect(ensureModelRunning(ensureInput({ units: 8 }))).rejects.toBeInstanceOf(
      InferenceUnitQuotaExceededError,
    );
    expect(aws.storedLease()?.releasedAt).toBeDefined();
  });

  it("stop: a StopProjectVersion throttled past the SDK's retries is ControlPlaneUnavailable and keeps the lease", async () => {
    aws.putLease(leaseFor(EXECUTION_ARN));
    aws.model.status = "RUNNING";
    aws.rekognitionMock
      .on(StopProjectVersionCommand)
      .rejects(afterRetries(rekognitionError(ThrottlingException, "Slow down"), 5));
    await expect(stopModelIfOwned(stopInput())).rejects.toMatchObject({
      name: "ControlPlaneUnavailable",
      message: expect.stringContaining("could not stop model"),
    });
    expect(aws.storedLease()?.releasedAt).toBeUndefined();
  });
});
