import { SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { afterEach, describe, expect, it } from "vitest";
import * as reaper from "../../../functions/reaper.ts";
import { startEmulator } from "../../../harness/local/emulator/index.ts";
import type { LocalJobOptions, LocalJobResult } from "../../../harness/local/local-job.ts";
import { LOCAL_DEFAULTS } from "../../../harness/local/local-stack.ts";
import { type LocalSfnApi, startLocalSfnApi } from "../../../harness/local/sfn-api.ts";
import { type Heartbeat, readHeartbeat, writeHeartbeat } from "../../../src/heartbeat.ts";
import { readLease, writeLease } from "../../../src/lease.ts";
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
let sfn: LocalSfnApi | undefined;

afterEach(async () => {
  await sfn?.close();
  await fixture?.close();
  sfn = undefined;
  fixture = undefined;
});

/**
 * A stack plus the local Step Functions API, so executions are started the
 * AWS way and the concurrency check and the reaper see them.
 */
async function startWithExecutions(
  images: number,
  handlers: LocalJobOptions["handlers"],
): Promise<{ current: FaultStack; api: LocalSfnApi }> {
  fixture = await startFaultStack({ tpsPerUnit: 20, latencyMs: 30 });
  await seedImages(fixture.stack, images);
  sfn = await startLocalSfnApi({
    stack: fixture.stack,
    job: { waitMs: 50, retryScale: 0.01, handlers },
  });
  return { current: fixture, api: sfn };
}

/** StartExecution through the SDK, then the execution's result once it ended. */
async function execute(
  current: FaultStack,
  api: LocalSfnApi,
): Promise<{ result: LocalJobResult | undefined; elapsedMs: number; executionArn: string }> {
  const client = new SFNClient({
    region: current.stack.environment.AWS_REGION,
    endpoint: api.endpoint,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  const started = Date.now();
  try {
    const { executionArn = "" } = await client.send(
      new StartExecutionCommand({
        stateMachineArn: api.stateMachineArn,
        input: JSON.stringify({ lambdaTimeoutSeconds: 1, maxWorkers: 2 }),
      }),
    );
    const result = await api.waitForExecution(executionArn);
    return { result, elapsedMs: Date.now() - started, executionArn };
  } finally {
    client.destroy();
  }
}

async function invokeReaper(current: FaultStack, environment: Record<string, string>) {
  const restore = current.stack.applyEnvironment({
    ...environment,
    RESULTS_BUCKET: current.stack.resultsBucket,
    RESULTS_PREFIX,
  });
  try {
    return (await reaper.handler({}, {} as never)) as ReapResult;
  } finally {
    restore();
  }
}

describe("execution faults", () => {
  it("a second execution started while one runs is refused and touches nothing", async () => {
    let second: LocalJobResult | undefined;
    let secondSessions = 0;
    // The first execution's first batch starts the second execution and waits for its end.
    const processBatch = beforeEachBatch(async (invocation) => {
      if (invocation !== 1 || !fixture || !sfn) return;
      const before = fixture.stack.emulator.admin.billing(fixture.arn).sessions.length;
      second = (await execute(fixture, sfn)).result;
      secondSessions = fixture.stack.emulator.admin.billing(fixture.arn).sessions.length - before;
    });
    const { current, api } = await startWithExecutions(20, { processBatch });
    const { result: first, elapsedMs } = await execute(current, api);
    expect(second?.execution.status).toBe("FAILED");
    expect(second?.execution.error).toBe("ConcurrentExecution");
    expect(second?.plan).toBeUndefined();
    expect(second?.safetyStop?.stopped).toBe(false);
    expect(secondSessions).toBe(0);
    if (!first) throw new Error("the first execution did not run");
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
    // A run whose stop was lost (the Lambda returned without stopping): it
    // succeeds and leaves its model RUNNING under its lease.
    const lostStop = () => ({ stopped: false, reason: "stop lost", leaseReleased: false });
    const { current, api } = await startWithExecutions(10, { stopModel: lostStop });
    const { result, executionArn } = await execute(current, api);
    expect(result?.execution.status).toBe("SUCCEEDED");
    expect(modelStatus(current)).toBe("RUNNING");

    const reaped = await invokeReaper(current, api.environment);
    expect(reaped.action).toBe("stopped");
    expect(reaped.executionId).toBe(executionArn);
    expect(reaped.reason).toContain("SUCCEEDED");
    await waitFor(() => modelStatus(current) === "STOPPED", "the reaped model to stop");
    const lease = await readLease({
      s3: current.stack.s3,
      resultsBucket: current.stack.resultsBucket,
      resultsPrefix: RESULTS_PREFIX,
    });
    expect(lease?.releasedAt).toBeDefined();
    // Run again: nothing left to reap.
    expect((await invokeReaper(current, api.environment)).action).toBe("none");
  });

  it("the reaper leaves a model alone while its execution is still running", async () => {
    let reaped: ReapResult | undefined;
    const processBatch = beforeEachBatch(async (invocation) => {
      if (invocation === 1 && fixture && sfn) reaped = await invokeReaper(fixture, sfn.environment);
    });
    const { current, api } = await startWithExecutions(10, { processBatch });
    const { result, elapsedMs } = await execute(current, api);
    expect(reaped?.action).toBe("none");
    expect(reaped?.reason).toContain("still RUNNING");
    if (!result) throw new Error("the execution did not run");
    await assertRunInvariants(current, result, {
      status: "SUCCEEDED",
      modelStatus: "STOPPED",
      complete: true,
      elapsedMs,
      maxUnits: result.plan?.sizing.units ?? 1,
    });
  });

  it("a run slower than planned keeps its model while the reaper runs", async () => {
    let reaped: ReapResult | undefined;
    let heartbeat: Heartbeat | undefined;
    let statusDuringReap: string | undefined;
    const processBatch = beforeEachBatch(async (invocation) => {
      if (invocation !== 2 || !fixture || !sfn) return;
      const location = {
        s3: fixture.stack.s3,
        resultsBucket: fixture.stack.resultsBucket,
        resultsPrefix: RESULTS_PREFIX,
      };
      // The run is past the end its plan expected: the lease has expired, and
      // so has its heartbeat.
      const lease = await readLease(location);
      if (!lease) throw new Error("no lease while the run processes");
      await writeLease({ ...location, lease: { ...lease, expiresAt: new Date(0).toISOString() } });
      heartbeat = await readHeartbeat({ ...location, runId: lease.runId });
      await writeHeartbeat({ ...location, runId: lease.runId, now: 0 });
      reaped = await invokeReaper(fixture, sfn.environment);
      statusDuringReap = modelStatus(fixture);
    });
    const { current, api } = await startWithExecutions(12, { processBatch });
    const { result, elapsedMs } = await execute(current, api);
    expect(heartbeat?.runId).toBe(result?.plan?.runId);
    expect(reaped?.action).toBe("none");
    // (A batch starting meanwhile may record a fresh heartbeat: still RUNNING either way.)
    expect(reaped?.reason).toContain("still RUNNING");
    expect(statusDuringReap).toBe("RUNNING");
    if (!result) throw new Error("the execution did not run");
    // Every image analysed: the model was there for the batches after the reaper ran.
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
