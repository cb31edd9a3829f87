import { GetObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as checkModel from "../../functions/check-model.ts";
import * as ensureModelRunning from "../../functions/ensure-model-running.ts";
import * as plan from "../../functions/plan.ts";
import * as processBatch from "../../functions/process-batch.ts";
import * as reaper from "../../functions/reaper.ts";
import * as report from "../../functions/report.ts";
import * as safetyStop from "../../functions/safety-stop.ts";
import * as stopModel from "../../functions/stop-model.ts";
import { localDeploymentEnvironment } from "../../harness/local/local-job.ts";
import type { SampleSet } from "../../harness/local/sample-images.ts";
import { writeMapResults } from "../../harness/local/workflow/result-writer.ts";
import { readJsonLines } from "../../src/json-lines.ts";
import { resetHandlerClients } from "../../src/lambda-handler.ts";
import { type LeaseRecord, readLease, writeLease } from "../../src/lease.ts";
import type { EnsureModelRunningResult } from "../../src/model/start.ts";
import type { StopModelResult } from "../../src/model/stop.ts";
import type { ReapResult, SafetyStopResult } from "../../src/reaper.ts";
import type { RunReportResult, RunSummary } from "../../src/report/summary.ts";
import { resultKeyFor } from "../../src/result-keys.ts";
import type { BatchOutput, ImageRef, ImageResultRecord, Plan } from "../../src/shapes.ts";
import type { CheckModelResult } from "../../src/workflow-steps.ts";
import {
  type FaultStack,
  modelStatus,
  RESULTS_PREFIX,
  seedImages,
  startFaultStack,
  waitForModelStatus,
} from "../support/fault-harness.ts";

/**
 * The "local invoke" tests: every exported Lambda handler of `functions/`
 * called as Lambda calls it (event + context), with the events the workflow
 * and EventBridge send, against the local stack (embedded S3 + emulator).
 * The workflow steps run in order, each fed with the previous outputs.
 */

const STATE_MACHINE = "arn:aws:states:us-east-1:000000000000:stateMachine:weekly-batch-test";
const executionArn = (name: string) =>
  `arn:aws:states:us-east-1:000000000000:execution:weekly-batch-test:${name}`;

// biome-ignore lint/suspicious/noExplicitAny: the handlers are middy functions over `never` events in tests
type AnyHandler = (event: any, context: any) => Promise<unknown>;

/** Calls a handler the way the Lambda runtime does, with a Lambda-like context. */
async function invoke<T>(fn: { handler: unknown }, event: unknown, name: string): Promise<T> {
  const context = {
    awsRequestId: `test-${name}-${Date.now()}`,
    functionName: name,
    getRemainingTimeInMillis: () => 120_000,
  };
  return (await (fn.handler as AnyHandler)(event, context)) as T;
}

/** Polls `probe` until it returns a value, or fails at the deadline. */
async function poll<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Bad objects only the model can reject (listed as pending, recorded as failed). */
const rejected = () => samples.bad.filter((object) => object.expected.outcome === "failed").length;

let fixture: FaultStack;
let samples: SampleSet;
let restoreEnvironment: () => void;

beforeAll(async () => {
  fixture = await startFaultStack();
  samples = await seedImages(fixture.stack, 6, { badObjects: true });
  restoreEnvironment = fixture.stack.applyEnvironment({
    ...localDeploymentEnvironment(fixture.stack),
  });
}, 60_000);

afterAll(async () => {
  restoreEnvironment?.();
  await fixture?.close();
});

async function readJson<T>(bucket: string, key: string): Promise<T> {
  const object = await fixture.stack.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return JSON.parse((await object.Body?.transformToString()) ?? "null") as T;
}

/** The manifest's items, read from where the plan says, as the Map's ItemReader reads them. */
async function manifestItems(runPlan: Plan): Promise<ImageRef[]> {
  const items: ImageRef[] = [];
  for await (const item of readJsonLines<ImageRef>({ s3: fixture.stack.s3, ...runPlan.manifest })) {
    items.push(item);
  }
  return items;
}

async function currentLease(): Promise<LeaseRecord | undefined> {
  return readLease({
    s3: fixture.stack.s3,
    resultsBucket: fixture.stack.resultsBucket,
    resultsPrefix: RESULTS_PREFIX,
  });
}

async function planFor(execution: string, input: Record<string, unknown> = {}): Promise<Plan> {
  const output = await invoke<{ plan: Plan }>(
    plan,
    { input, executionId: execution, executionStartTime: new Date().toISOString() },
    "plan",
  );
  return output.plan;
}

describe("the workflow's Lambdas, invoked in order", () => {
  const execution = executionArn("in-order");
  let thePlan: Plan;
  let model: EnsureModelRunningResult;
  let check: CheckModelResult;
  let batch: BatchOutput;
  let stop: StopModelResult;

  it("plan: lists the backlog, skips the bad objects with reasons, writes the manifest", async () => {
    thePlan = await planFor(execution);
    const bad = samples.bad.length;
    const skipped = samples.bad.filter((object) => object.expected.outcome === "skipped").length;
    expect(thePlan.counts).toEqual({
      listed: 6 + bad,
      pending: 6 + bad - skipped,
      skipped,
      alreadyDone: 0,
    });
    expect(thePlan.nothingToDo).toBe(false);
    expect(thePlan.context.projectVersionArn).toBe(fixture.arn);
    const manifest = await manifestItems(thePlan);
    expect(manifest.map((item) => item.key)).toEqual(
      expect.arrayContaining(samples.images.map((image) => image.key)),
    );
  });

  it("ensure-model-running: starts the STOPPED model with the planned units and takes the lease", async () => {
    expect(["STOPPED", "TRAINING_COMPLETED"]).toContain(modelStatus(fixture));
    model = await invoke(ensureModelRunning, { plan: thePlan }, "ensure-model-running");
    expect(model).toMatchObject({ action: "started", owned: true, units: thePlan.sizing.units });
    expect(["STARTING", "RUNNING"]).toContain(modelStatus(fixture));
    expect(await currentLease()).toMatchObject({
      executionId: execution,
      projectVersionArn: fixture.arn,
    });
  });

  it("check-model: one status check per call, polled until the model is RUNNING", async () => {
    let attempt = 0;
    check = await poll(async () => {
      const result = await invoke<CheckModelResult>(
        checkModel,
        { plan: thePlan, attempt },
        "check-model",
      );
      expect(result.attempt).toBe(attempt + 1);
      expect(result.failed).toBe(false);
      attempt = result.attempt;
      return result.ready ? result : undefined;
    }, "the model to be RUNNING");
    expect(check).toMatchObject({ ready: true, status: "RUNNING", timedOut: false });
    expect(modelStatus(fixture)).toBe("RUNNING");
  });

  it("process-batch: analyses the manifest's items and writes one result per image", async () => {
    const items = await manifestItems(thePlan);
    const event = { BatchInput: { context: thePlan.context }, Items: items };
    batch = await invoke(processBatch, event, "process-batch");
    expect(batch).toMatchObject({
      items: 6 + rejected(),
      succeeded: 6,
      failed: rejected(),
      runId: thePlan.runId,
    });
    for (const image of samples.images) {
      const record = await readJson<ImageResultRecord>(
        fixture.stack.resultsBucket,
        resultKeyFor(RESULTS_PREFIX, image.key),
      );
      expect(record.status).toBe("succeeded");
      expect(record.labels.map((label) => label.Name)).toContain(image.expectedLabels[0]?.name);
    }
    // The Map's ResultWriter records the child's output, as it would on AWS.
    const startDate = new Date(batch.startedAt);
    await writeMapResults(fixture.stack.s3, {
      bucket: thePlan.mapResults.bucket,
      prefix: thePlan.mapResults.prefix,
      mapRunArn: `${STATE_MACHINE.replace(":stateMachine:", ":mapRun:")}/ProcessImages:1`,
      mapRunId: "1",
      children: [
        {
          executionArn: `${execution}/1`,
          name: "1",
          stateMachineArn: STATE_MACHINE,
          input: event as never,
          startDate,
          stopDate: new Date(batch.endedAt),
          status: "SUCCEEDED",
          output: batch as never,
        },
      ],
    });
  });

  it("stop-model: stops the model this execution started and releases the lease", async () => {
    stop = await invoke(
      stopModel,
      { plan: thePlan, executionId: execution, reason: "completed" },
      "stop-model",
    );
    expect(stop.stopped).toBe(true);
    await waitForModelStatus(fixture, "STOPPED");
    expect((await currentLease())?.releasedAt).toBeDefined();
  });

  it("report: writes a reconciled summary and the HTML report", async () => {
    const result = await invoke<RunReportResult>(
      report,
      { plan: thePlan, model, check, stop, execution: { StartTime: thePlan.plannedAt } },
      "report",
    );
    expect(result.reconciled).toBe(true);
    const summary = await readJson<RunSummary>(result.bucket, result.summaryKey);
    expect(summary.counts).toMatchObject({
      pending: 6 + rejected(),
      succeeded: 6,
      failed: rejected(),
      unaccounted: 0,
      skipped: samples.bad.length - rejected(),
    });
    const html = await fixture.stack.s3.send(
      new HeadObjectCommand({ Bucket: result.bucket, Key: result.reportKey }),
    );
    expect(html.ContentType).toContain("text/html");
  });

  it("plan again: the results ledger leaves nothing to do", async () => {
    const again = await planFor(executionArn("again"));
    // Rejected images have a recorded failure: they are not retried until they change.
    expect(again.counts).toMatchObject({ pending: 0, alreadyDone: 6 + rejected() });
    expect(again.nothingToDo).toBe(true);
  });
});

describe("the safety nets", () => {
  /** A model started (and leased) by `owner`, RUNNING or STARTING. */
  async function startedBy(owner: string): Promise<void> {
    const started = await invoke<EnsureModelRunningResult>(
      ensureModelRunning,
      { plan: await planFor(owner, { targetWindowMinutes: 30 }) },
      "ensure-model-running",
    );
    expect(started.owned).toBe(true);
  }

  function statusChange(execution: string, status: string) {
    return {
      version: "0",
      source: "aws.states",
      "detail-type": "Step Functions Execution Status Change",
      detail: { executionArn: execution, stateMachineArn: STATE_MACHINE, status },
    };
  }

  it("safety-stop: leaves the model alone for another execution, stops it for the owner", async () => {
    await waitForModelStatus(fixture, "STOPPED");
    // A pending image, so the plan has work and the model is started.
    await seedImages(fixture.stack, 1, { prefix: "incoming/safety/", seed: 7 });
    const owner = executionArn("owner");
    await startedBy(owner);

    const other = await invoke<SafetyStopResult>(
      safetyStop,
      statusChange(executionArn("someone-else"), "FAILED"),
      "safety-stop",
    );
    expect(other.stopped).toBe(false);
    expect(["STARTING", "RUNNING"]).toContain(modelStatus(fixture));

    const mine = await invoke<SafetyStopResult>(
      safetyStop,
      statusChange(owner, "FAILED"),
      "safety-stop",
    );
    expect(mine).toMatchObject({ stopped: true, projectVersionArn: fixture.arn });
    await waitForModelStatus(fixture, "STOPPED");
  });

  it("reaper: Step Functions unreachable, so the expiry decides: stops a model whose lease has expired, and then has nothing to do", async () => {
    // Nothing listens there: the execution's status cannot be known.
    const restoreSfn = fixture.stack.applyEnvironment({
      ...localDeploymentEnvironment(fixture.stack),
      AWS_ENDPOINT_URL_SFN: "http://127.0.0.1:9",
    });
    resetHandlerClients();
    try {
      await reapExpired();
    } finally {
      restoreSfn();
      resetHandlerClients();
    }
  });

  async function reapExpired() {
    await startedBy(executionArn("vanished"));
    const lease = await currentLease();
    if (!lease) throw new Error("no lease after a start");
    // The run outlived its allowance: the lease's expiry is in the past.
    await writeLease({
      s3: fixture.stack.s3,
      resultsBucket: fixture.stack.resultsBucket,
      resultsPrefix: RESULTS_PREFIX,
      lease: { ...lease, expiresAt: new Date(Date.now() - 60_000).toISOString() },
    });
    const scheduled = {
      version: "0",
      source: "aws.events",
      "detail-type": "Scheduled Event",
      detail: {},
    };
    const reaped = await invoke<ReapResult>(reaper, scheduled, "reaper");
    expect(reaped.action).toBe("stopped");
    expect(reaped.reason).toMatch(/unknown .*lease expiry .* has passed/);
    await waitForModelStatus(fixture, "STOPPED");

    const idle = await invoke<ReapResult>(reaper, scheduled, "reaper");
    expect(idle.action).toBe("none");
  }
});
