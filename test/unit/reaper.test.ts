import { StopProjectVersionCommand } from "@aws-sdk/client-rekognition";
import { DescribeExecutionCommand, ExecutionDoesNotExist } from "@aws-sdk/client-sfn";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HEARTBEAT_GRACE_MS, writeHeartbeat } from "../../src/heartbeat.ts";
import { reapStaleLease, safetyStop } from "../../src/reaper.ts";
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

  it("expired lease, execution still RUNNING: never reaped, a warning says it runs late", async () => {
    // A run slower than planned (a first run on the default TPS per unit).
    aws.putLease(leaseFor(EXECUTION_ARN, { expiresAt: "2025-01-06T02:59:00.000Z" }));
    aws.sfnMock.on(DescribeExecutionCommand).resolves({ status: "RUNNING" });
    const result = await reap();
    expect(result.action).toBe("none");
    expect(result.reason).toMatch(/still RUNNING, past its planned end/);
    expect(stopCalls()).toHaveLength(0);
    expect(aws.storedLease()?.releasedAt).toBeUndefined();
    expect(logger.lines).toContainEqual(
      expect.objectContaining({
        level: "warn",
        message: "reaper: the execution is running past its planned end; model left running",
      }),
    );
  });

  describe("when Step Functions cannot tell the execution's status, the expiry decides", () => {
    const unknownAnswers = [
      ["access denied", serviceError("AccessDeniedException", 400)],
      ["not an execution ARN", serviceError("InvalidArn", 400, "Invalid Arn: 'local-run-1'")],
      ["throttled", serviceError("ThrottlingException", 400)],
      [
        "unreachable",
        Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }),
      ],
    ] as const;

    it.each(unknownAnswers)("%s, lease still valid: nothing", async (_, error) => {
      aws.putLease(leaseFor(EXECUTION_ARN));
      aws.sfnMock.on(DescribeExecutionCommand).rejects(error);
      const result = await reap();
      expect(result.action).toBe("none");
      expect(result.reason).toMatch(
        /unknown .*relying on the lease expiry 2025-01-06T09:00:00.000Z/,
      );
      expect(stopCalls()).toHaveLength(0);
    });

    it.each(unknownAnswers)(
      "%s, lease expired and no heartbeat: stops the model",
      async (_, error) => {
        aws.putLease(leaseFor(EXECUTION_ARN, { expiresAt: "2025-01-06T02:59:00.000Z" }));
        aws.sfnMock.on(DescribeExecutionCommand).rejects(error);
        const result = await reap();
        expect(result.action).toBe("stopped");
        expect(result.reason).toMatch(/lease expiry 2025-01-06T02:59:00.000Z has passed/);
        expect(stopCalls()).toHaveLength(1);
      },
    );

    it("lease expired but the run's batches still beat: the heartbeat moves the expiry on", async () => {
      aws.putLease(leaseFor(EXECUTION_ARN, { expiresAt: "2025-01-06T02:00:00.000Z" }));
      aws.sfnMock.on(DescribeExecutionCommand).rejects(serviceError("AccessDeniedException", 400));
      // A batch of the run started 10 minutes ago.
      await writeHeartbeat({ ...stores(), runId: "run-1", now: clock.now() - 600_000 });
      const alive = await reap();
      expect(alive.action).toBe("none");
      expect(alive.reason).toMatch(/last heartbeat 2025-01-06T02:50:00.000Z/);
      // No batch since: once the heartbeat's grace has passed, the model is stopped.
      clock.onSleep = undefined;
      await clock.sleep(HEARTBEAT_GRACE_MS);
      const reaped = await reap();
      expect(reaped.action).toBe("stopped");
      expect(reaped.reason).toMatch(/has passed/);
    });

    it("another run's heartbeat does not keep this lease alive", async () => {
      aws.putLease(leaseFor(EXECUTION_ARN, { expiresAt: "2025-01-06T02:00:00.000Z" }));
      aws.sfnMock.on(DescribeExecutionCommand).rejects(serviceError("AccessDeniedException", 400));
      await writeHeartbeat({ ...stores(), runId: "run-0", now: clock.now() });
      expect((await reap()).action).toBe("stopped");
    });
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
});
