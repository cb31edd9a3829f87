import { afterEach, describe, expect, it } from "vitest";
import * as reaper from "../../../functions/reaper.ts";
import { readLease } from "../../../src/lease.ts";
import { startEmulator } from "../../../src/local/emulator/index.ts";
import { LOCAL_STATE_MACHINE_NAME } from "../../../src/local/local-job.ts";
import { LOCAL_DEFAULTS } from "../../../src/local/local-stack.ts";
import {
  LocalExecutionRegistry,
  type LocalSfnServer,
  startSfnServer,
} from "../../../src/local/sfn-server.ts";
import { localArn } from "../../../src/local/workflow/asl.ts";
import type { ReapResult } from "../../../src/reaper.ts";
import {
  assertRunInvariants,
  beforeEachBatch,
  type FaultStack,
  modelStatus,
  RESULTS_PREFIX,
  readLedger,
  runFaultJob,
  seedImages,
  startFaultStack,
  timed,
  waitFor,
} from "../../support/fault-harness.ts";

/**
 * Faults around executions: a second execution beside a running one, the
 * reaper after a run that never stopped its model, and the emulator
 * restarting under a run.
 */

let fixture: FaultStack | undefined;
let sfn: LocalSfnServer | undefined;

afterEach(async () => {
  await sfn?.close();
  await fixture?.close();
  sfn = undefined;
  fixture = undefined;
});

/** A stack plus the local Step Functions API, so the concurrency check and the reaper see real executions. */
async function startWithExecutions(images: number) {
  fixture = await startFaultStack({ tpsPerUnit: 20, latencyMs: 30 });
  const executions = new LocalExecutionRegistry();
  sfn = await startSfnServer(executions);
  await seedImages(fixture.stack, images);
  const environment = {
    AWS_ENDPOINT_URL_SFN: sfn.endpoint,
    STATE_MACHINE_ARN: localArn.stateMachine(LOCAL_STATE_MACHINE_NAME),
  };
  return { current: fixture, executions, environment };
}

async function invokeReaper(current: FaultStack, environment: Record<string, string>) {
  const restore = current.stack.applyEnvironment({
    ...environment,
    RESULTS_BUCKET: current.stack.resultsBucket,
    RESULTS_PREFIX,
    LOG_LEVEL: "warn",
  });
  try {
    return (await reaper.handler({}, {} as never)) as ReapResult;
  } finally {
    restore();
  }
}

describe("execution faults", () => {
  it("a second execution started while one runs is refused and touches nothing", async () => {
    const { current, executions, environment } = await startWithExecutions(20);
    let second: Awaited<ReturnType<typeof runFaultJob>> | undefined;
    let secondBilling = 0;
    // The first execution's first batch starts the second execution and waits for its end.
    const processBatch = beforeEachBatch(async (invocation) => {
      if (invocation !== 1) return;
      const before = current.stack.emulator.admin.billing(current.arn).sessions.length;
      second = await runFaultJob(current, { environment, onEvent: executions.record });
      secondBilling = current.stack.emulator.admin.billing(current.arn).sessions.length - before;
    });
    const { value: first, elapsedMs } = await timed(() =>
      runFaultJob(current, {
        environment,
        handlers: { processBatch },
        onEvent: executions.record,
      }),
    );
    expect(second?.execution.status).toBe("FAILED");
    expect(second?.execution.error).toBe("ConcurrentExecution");
    expect(second?.plan).toBeUndefined();
    expect(second?.safetyStop?.stopped).toBe(false);
    expect(secondBilling).toBe(0);
    const report = await assertRunInvariants(current, first, {
      status: "SUCCEEDED",
      modelStatus: "STOPPED",
      complete: true,
      elapsedMs,
      maxUnits: first.plan?.sizing.units ?? 1,
    });
    expect(report.succeeded).toBe(20);
  });

  it("the reaper stops a model whose lease belongs to an execution that is no longer running", async () => {
    const { current, executions, environment } = await startWithExecutions(10);
    // A run whose stop was lost (the Lambda returned without stopping): it
    // succeeds and leaves its model RUNNING under its lease.
    const lostStop = () => ({ stopped: false, reason: "stop lost", leaseReleased: false });
    const result = await runFaultJob(current, {
      environment,
      handlers: { stopModel: lostStop },
      onEvent: executions.record,
    });
    expect(result.execution.status).toBe("SUCCEEDED");
    expect(modelStatus(current)).toBe("RUNNING");

    const reaped = await invokeReaper(current, environment);
    expect(reaped.action).toBe("stopped");
    expect(reaped.executionId).toBe(result.execution.executionArn);
    expect(reaped.reason).toContain("SUCCEEDED");
    await waitFor(() => modelStatus(current) === "STOPPED", "the reaped model to stop");
    const lease = await readLease({
      s3: current.stack.s3,
      resultsBucket: current.stack.resultsBucket,
      resultsPrefix: RESULTS_PREFIX,
    });
    expect(lease?.releasedAt).toBeDefined();
    // Run again: nothing left to reap.
    expect((await invokeReaper(current, environment)).action).toBe("none");
  });

  it("the reaper leaves a model alone while its execution is still running", async () => {
    const { current, executions, environment } = await startWithExecutions(10);
    let reaped: ReapResult | undefined;
    const processBatch = beforeEachBatch(async (invocation) => {
      if (invocation === 1) reaped = await invokeReaper(current, environment);
    });
    const { value: result, elapsedMs } = await timed(() =>
      runFaultJob(current, { environment, handlers: { processBatch }, onEvent: executions.record }),
    );
    expect(reaped?.action).toBe("none");
    expect(reaped?.reason).toContain("still RUNNING");
    await assertRunInvariants(current, result, {
      status: "SUCCEEDED",
      modelStatus: "STOPPED",
      complete: true,
      elapsedMs,
      maxUnits: result.plan?.sizing.units ?? 1,
    });
  });

  it("the emulator restarted mid-run: the run ends cleanly, the model is not left running, nothing is lost", async () => {
    fixture = await startFaultStack({ tpsPerUnit: 20, latencyMs: 30 });
    const current = fixture;
    await seedImages(current.stack, 30);
    const { stack } = current;
    let restarted = false;
    const processBatch = beforeEachBatch(async (invocation) => {
      if (invocation !== 2 || restarted) return;
      restarted = true;
      const old = stack.emulator;
      await old.close();
      const fresh = await startEmulator({
        ...old.settings,
        port: old.port,
        s3Endpoint: stack.s3Server.endpoint,
      });
      fresh.admin.declareModel({
        project: LOCAL_DEFAULTS.project,
        version: LOCAL_DEFAULTS.version,
        feature: "CLASSIFICATION",
        createdAt: LOCAL_DEFAULTS.createdAt,
      });
      stack.emulator = fresh;
    });
    const { value: result, elapsedMs } = await timed(() =>
      runFaultJob(current, { handlers: { processBatch }, input: { maxWorkers: 1 } }),
    );
    expect(restarted).toBe(true);
    const ended = result.execution.status;
    expect(["FAILED", "SUCCEEDED"]).toContain(ended);
    // The restarted emulator knows the model as declared, never RUNNING.
    expect(modelStatus(current)).not.toBe("RUNNING");
    await assertRunInvariants(current, result, {
      status: ended,
      modelStatus: modelStatus(current),
      complete: ended === "SUCCEEDED",
      elapsedMs,
      maxUnits: result.plan?.sizing.units ?? 1,
    });
    if (ended === "FAILED") expect(result.execution.error).toMatch(/^(States\.|ModelNotReady)/);
    expect((await readLedger(stack)).size).toBeGreaterThan(0);
  });
});
