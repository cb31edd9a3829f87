import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type LocalJobResult,
  runLocalJob,
  WORKFLOW_HANDLERS,
} from "../../harness/local/local-job.ts";
import { type LocalStack, startLocalStack } from "../../harness/local/local-stack.ts";
import { writeSampleImages } from "../../harness/local/sample-images.ts";
import type { LocalHandler } from "../../harness/local/workflow/index.ts";

/**
 * What happens to batches still running when the execution ends, as on AWS:
 * Step Functions does not stop a running Lambda when the execution is aborted
 * or the Map fails. Those orphans run on against a model that is being
 * stopped; they must end quickly (ResourceNotReady -> ModelNotReady is fatal)
 * and whatever they write after the report must be counted by the next run.
 */

const IMAGES = 60;
let dataDirectory: string;
let stack: LocalStack;

beforeEach(async () => {
  dataDirectory = await mkdtemp(join(tmpdir(), "workflow-orphans-"));
  stack = await startLocalStack({
    dataDirectory,
    emulator: {
      startDelayMs: 300,
      stopDelayMs: 200,
      latencyMs: 20,
      latencyJitterMs: 5,
      tpsPerUnit: 40,
    },
  });
  process.env.LOG_LEVEL = "silent";
  await writeSampleImages({
    s3: stack.s3,
    bucket: stack.imagesBucket,
    prefix: "incoming/",
    count: IMAGES,
    largeImages: 0,
  });
});

afterEach(async () => {
  await stack.close();
  await rm(dataDirectory, { recursive: true, force: true });
});

/** DetectCustomLabels calls the model answered, over both runs: each is one image analysed. */
function analysed(): number {
  return stack.emulator.admin
    .timeline(stack.projectVersionArn)
    .reduce((sum, second) => sum + second.accepted, 0);
}

function modelStatus(): string {
  const model = stack.emulator.admin.state().models.find((m) => m.arn === stack.projectVersionArn);
  return model?.status ?? "missing";
}

async function modelSettles(): Promise<string> {
  const deadline = Date.now() + 20_000;
  while (["STARTING", "STOPPING"].includes(modelStatus()) && Date.now() < deadline) {
    await new Promise((done) => setTimeout(done, 50));
  }
  return modelStatus();
}

/** Resolves once `condition` holds, or at the deadline (the caller's assertions then tell). */
async function whenTrue(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) {
    await new Promise((done) => setTimeout(done, 5));
  }
}

const realProcessBatch = WORKFLOW_HANDLERS.processBatch as LocalHandler;

/** The second run, untouched, and the checks that the ledger carried the orphans' work over. */
async function rerunAndReconcile(first: LocalJobResult): Promise<void> {
  expect(first.orphans.ranOn).toBeGreaterThan(0);
  expect(first.orphans.stillRunning).toBe(0);
  expect(await modelSettles()).toBe("STOPPED");
  const analysedInFirst = analysed();
  expect(analysedInFirst).toBeGreaterThan(0);
  expect(analysedInFirst).toBeLessThan(IMAGES);

  const second = await runLocalJob({ stack, waitMs: 50 });
  expect(second.execution.status, second.execution.cause).toBe("SUCCEEDED");
  const counts = second.summary?.counts;
  expect(second.summary?.reconciled).toBe(true);
  // Everything the first run analysed, orphans' late writes included, is already done.
  expect(counts).toMatchObject({
    listed: IMAGES,
    skipped: 0,
    alreadyDone: analysedInFirst,
    pending: IMAGES - analysedInFirst,
    succeeded: IMAGES - analysedInFirst,
    failed: 0,
  });
  // Nothing was analysed twice.
  expect(analysed()).toBe(IMAGES);
  expect(second.orphans.ranOn).toBe(0);
  expect(await modelSettles()).toBe("STOPPED");
}

describe("batches still running when the execution ends", () => {
  it("run on after an abort, stop at once when the model stops, and are counted by the next run", async () => {
    const abort = new AbortController();
    const processBatch: LocalHandler = (event, context) => {
      if (!abort.signal.aborted) {
        void whenTrue(() => analysed() >= 10).then(() => abort.abort(new Error("operator abort")));
      }
      return realProcessBatch(event, context);
    };
    const first = await runLocalJob({
      stack,
      waitMs: 50,
      signal: abort.signal,
      handlers: { processBatch },
      input: { toleratedFailurePercentage: 0 },
    });

    expect(first.execution.status).toBe("ABORTED");
    expect(first.safetyStop?.stopped).toBe(true);
    await rerunAndReconcile(first);
  });

  it("run on after the Map fails, while StopAfterFailure stops the model and the report is written", async () => {
    let failed = false;
    const processBatch: LocalHandler = async (event, context) => {
      if (!failed) {
        failed = true;
        // Fail once the other batches are at work, so they are in flight when the Map fails.
        await whenTrue(() => analysed() >= 10);
        const error = new Error("injected: this batch fails for good");
        error.name = "InjectedBatchFailure";
        throw error;
      }
      return realProcessBatch(event, context);
    };
    const first = await runLocalJob({
      stack,
      waitMs: 50,
      handlers: { processBatch },
      input: { toleratedFailurePercentage: 0 },
    });

    expect(first.execution.status).toBe("FAILED");
    expect(first.execution.error).toBe("States.ExceedToleratedFailureThreshold");
    expect(first.summary?.outcome).toBe("failed");
    await rerunAndReconcile(first);
  });
});
