import { StopProjectVersionCommand } from "@aws-sdk/client-rekognition";
import { DescribeExecutionCommand, ExecutionDoesNotExist } from "@aws-sdk/client-sfn";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AccessDeniedError } from "../../src/errors.ts";
import { isExecutionArn, reapStaleLease, safetyStop } from "../../src/reaper.ts";
import {
  EXECUTION_ARN,
  type FakeAws,
  fakeAws,
  leaseFor,
  type ManualClock,
  manualClock,
  OTHER_EXECUTION_ARN,
  RESULTS_BUCKET,
  RESULTS_PREFIX,
  type RecordingLogger,
  recordingLogger,
  serviceError,
} from "../support/model-fakes.ts";

let aws: FakeAws;
let clock: ManualClock;
let logger: RecordingLogger;

beforeEach(() => {
  aws = fakeAws("RUNNING");
  // Lease from leaseFor() runs 01:00 -> 09:00.
  clock = manualClock(Date.parse("2025-01-06T03:00:00.000Z"));
  logger = recordingLogger();
});
afterEach(() => aws.restore());

const stores = () => ({
  rekognition: aws.rekognition,
  s3: aws.s3,
  resultsBucket: RESULTS_BUCKET,
  resultsPrefix: RESULTS_PREFIX,
  clock,
  logger,
});
const stopCalls = () => aws.rekognitionMock.commandCalls(StopProjectVersionCommand);
const describeExecutionCalls = () => aws.sfnMock.commandCalls(DescribeExecutionCommand);

describe("isExecutionArn", () => {
  it("tells Step Functions execution ARNs from local ids", () => {
    expect(isExecutionArn(EXECUTION_ARN)).toBe(true);
    expect(isExecutionArn("local-2025-01-06T02-00-00")).toBe(false);
    expect(isExecutionArn("arn:aws:states:us-east-1:123456789012:stateMachine:weekly-batch")).toBe(
      false,
    );
  });
});

describe("safetyStop", () => {
  it.each(["FAILED", "TIMED_OUT", "ABORTED"])(
    "stops the model when the %s execution owns the lease",
    async (status) => {
      aws.putLease(leaseFor(EXECUTION_ARN));
      const result = await safetyStop({ ...stores(), executionArn: EXECUTION_ARN, status });
      expect(result).toMatchObject({
        stopped: true,
        executionArn: EXECUTION_ARN,
        executionStatus: status,
        modelStatus: "STOPPING",
      });
      expect(stopCalls()).toHaveLength(1);
      expect(aws.storedLease()).toMatchObject({
        releasedAt: "2025-01-06T03:00:00.000Z",
        releaseReason: `safety stop: execution ${status}`,
      });
    },
  );

  it("leaves a model another execution owns alone, and says why in a log line", async () => {
    aws.putLease(leaseFor(OTHER_EXECUTION_ARN));
    const result = await safetyStop({
      ...stores(),
      executionArn: EXECUTION_ARN,
      status: "ABORTED",
    });
    expect(result.stopped).toBe(false);
    expect(result.reason).toContain(OTHER_EXECUTION_ARN);
    expect(stopCalls()).toHaveLength(0);
    expect(aws.model.status).toBe("RUNNING");
    expect(logger.lines).toContainEqual(
      expect.objectContaining({
        level: "info",
        message: "safety stop: model left alone",
        fields: expect.objectContaining({ reason: result.reason }),
      }),
    );
  });

  it("does nothing without a lease", async () => {
    const result = await safetyStop({ ...stores(), executionArn: EXECUTION_ARN, status: "FAILED" });
    expect(result).toMatchObject({ stopped: false });
    expect(result.reason).toMatch(/no lease/);
    expect(stopCalls()).toHaveLength(0);
  });

  it("does nothing when the execution already released its lease (the Catch ran)", async () => {
    aws.putLease(leaseFor(EXECUTION_ARN, { releasedAt: "2025-01-06T02:30:00.000Z" }));
    const result = await safetyStop({ ...stores(), executionArn: EXECUTION_ARN, status: "FAILED" });
    expect(result.stopped).toBe(false);
    expect(result.reason).toMatch(/already released/);
    expect(stopCalls()).toHaveLength(0);
  });

  it("ignores a status that is not an end", async () => {
    aws.putLease(leaseFor(EXECUTION_ARN));
    const result = await safetyStop({
      ...stores(),
      executionArn: EXECUTION_ARN,
      status: "RUNNING",
    });
    expect(result.stopped).toBe(false);
    expect(stopCalls()).toHaveLength(0);
    expect(aws.storedLease()?.releasedAt).toBeUndefined();
  });

  it("tolerates a model that is already stopped", async () => {
    aws.model.status = "STOPPED";
    aws.putLease(leaseFor(EXECUTION_ARN));
    const result = await safetyStop({ ...stores(), executionArn: EXECUTION_ARN, status: "FAILED" });
    expect(result).toMatchObject({ stopped: false, modelStatus: "STOPPED" });
    expect(aws.storedLease()?.releasedAt).toBeDefined();
  });
});

describe("reapStaleLease", () => {
  const reap = () => reapStaleLease({ ...stores(), sfn: aws.sfn });

  it("no lease: nothing", async () => {
    expect(await reap()).toMatchObject({ action: "none", reason: "no lease: nothing to reap" });
    expect(describeExecutionCalls()).toHaveLength(0);
  });

  it("released lease: nothing", async () => {
    aws.putLease(leaseFor(EXECUTION_ARN, { releasedAt: "2025-01-06T02:30:00.000Z" }));
    expect(await reap()).toMatchObject({ action: "none" });
    expect(stopCalls()).toHaveLength(0);
  });

  it("execution still RUNNING and lease valid: nothing", async () => {
    aws.putLease(leaseFor(EXECUTION_ARN));
    aws.sfnMock.on(DescribeExecutionCommand).resolves({ status: "RUNNING" });
    const result = await reap();
    expect(result.action).toBe("none");
    expect(result.reason).toMatch(/still RUNNING/);
    expect(describeExecutionCalls()[0]?.args[0].input).toEqual({ executionArn: EXECUTION_ARN });
    expect(stopCalls()).toHaveLength(0);
  });

  it.each(["FAILED", "ABORTED", "TIMED_OUT", "SUCCEEDED"])(
    "execution %s with an unreleased lease: stops the model, releases the lease",
    async (status) => {
      aws.putLease(leaseFor(EXECUTION_ARN));
      aws.sfnMock.on(DescribeExecutionCommand).resolves({ status: status as "FAILED" });
      const result = await reap();
      expect(result).toMatchObject({ action: "stopped", modelStatus: "STOPPING" });
      expect(result.reason).toContain(`is ${status}`);
      expect(stopCalls()).toHaveLength(1);
      expect(aws.storedLease()?.releaseReason).toContain("reaper:");
    },
  );

  it("execution not found counts as not running", async () => {
    aws.putLease(leaseFor(EXECUTION_ARN));
    aws.sfnMock
      .on(DescribeExecutionCommand)
      .rejects(new ExecutionDoesNotExist({ message: "no such execution", $metadata: {} }));
    const result = await reap();
    expect(result.action).toBe("stopped");
    expect(result.reason).toMatch(/does not exist/);
  });

  it("expired lease: stops even while the execution still runs", async () => {
    aws.putLease(leaseFor(EXECUTION_ARN, { expiresAt: "2025-01-06T02:59:00.000Z" }));
    aws.sfnMock.on(DescribeExecutionCommand).resolves({ status: "RUNNING" });
    const result = await reap();
    expect(result.action).toBe("stopped");
    expect(result.reason).toMatch(/expired/);
  });

  it("local execution: relies on expiry only", async () => {
    aws.putLease(leaseFor("local-run-1"));
    expect(await reap()).toMatchObject({ action: "none" });
    expect(describeExecutionCalls()).toHaveLength(0);
    clock.onSleep = undefined;
    await clock.sleep(6 * 3_600_000);
    expect(await reap()).toMatchObject({ action: "stopped" });
    expect(describeExecutionCalls()).toHaveLength(0);
  });

  it("stale lease on a model already stopped: releases the lease only", async () => {
    aws.model.status = "STOPPED";
    aws.putLease(leaseFor(EXECUTION_ARN));
    aws.sfnMock.on(DescribeExecutionCommand).resolves({ status: "FAILED" });
    expect(await reap()).toMatchObject({ action: "released", modelStatus: "STOPPED" });
    expect(stopCalls()).toHaveLength(0);
    expect(aws.storedLease()?.releasedAt).toBeDefined();
  });

  it("a second run after reaping does nothing", async () => {
    aws.putLease(leaseFor(EXECUTION_ARN));
    aws.sfnMock.on(DescribeExecutionCommand).resolves({ status: "ABORTED" });
    await reap();
    expect(await reap()).toMatchObject({ action: "none" });
    expect(stopCalls()).toHaveLength(1);
  });

  it("access denied on DescribeExecution: AccessDeniedError, nothing stopped", async () => {
    aws.putLease(leaseFor(EXECUTION_ARN));
    aws.sfnMock.on(DescribeExecutionCommand).rejects(serviceError("AccessDeniedException", 400));
    await expect(reap()).rejects.toBeInstanceOf(AccessDeniedError);
    expect(stopCalls()).toHaveLength(0);
  });
});
