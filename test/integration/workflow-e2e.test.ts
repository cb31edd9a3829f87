import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type LocalJobResult, runLocalJob } from "../../harness/local/local-job.ts";
import { type LocalStack, startLocalStack } from "../../harness/local/local-stack.ts";
import { type SampleSet, writeSampleImages } from "../../harness/local/sample-images.ts";
import type { LocalHandler } from "../../harness/local/workflow/index.ts";
import { readLease } from "../../src/lease.ts";
import { resultKeyFor } from "../../src/result-keys.ts";
import { silentLogger } from "../../src/runtime.ts";
import type { ImageResultRecord } from "../../src/shapes.ts";

/**
 * The whole workflow through the local engine: the deployed definition, the
 * real Lambdas, the emulator and the embedded S3, as `npm run local` runs it.
 */

const RESULTS_PREFIX = "rekognition-results/";
let dataDirectory: string;
let stack: LocalStack;

beforeEach(async () => {
  dataDirectory = await mkdtemp(join(tmpdir(), "workflow-e2e-"));
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
});

afterEach(async () => {
  await stack.close();
  await rm(dataDirectory, { recursive: true, force: true });
});

function seed(count: number, badObjects = false): Promise<SampleSet> {
  return writeSampleImages({
    s3: stack.s3,
    bucket: stack.imagesBucket,
    prefix: "incoming/",
    count,
    badObjects,
    largeImages: 0,
  });
}

function model() {
  const state = stack.emulator.admin.state().models.find((m) => m.arn === stack.projectVersionArn);
  if (!state) throw new Error("the declared model is missing");
  return state;
}

async function modelSettles(): Promise<string> {
  const deadline = Date.now() + 20_000;
  while (["STARTING", "STOPPING"].includes(model().status) && Date.now() < deadline) {
    await new Promise((done) => setTimeout(done, 50));
  }
  return model().status;
}

async function resultOf(key: string): Promise<ImageResultRecord | undefined> {
  try {
    const object = await stack.s3.send(
      new GetObjectCommand({
        Bucket: stack.resultsBucket,
        Key: resultKeyFor(RESULTS_PREFIX, key),
      }),
    );
    return JSON.parse(await (object.Body?.transformToString() ?? "")) as ImageResultRecord;
  } catch {
    return undefined;
  }
}

function run(options: Partial<Parameters<typeof runLocalJob>[0]> = {}): Promise<LocalJobResult> {
  return runLocalJob({ stack, waitMs: 50, ...options });
}

describe("the weekly workflow, locally end to end", () => {
  it("labels every image as expected, stops the model it started, and reconciles", async () => {
    const samples = await seed(24, true);
    const result = await run();

    expect(result.execution.status).toBe("SUCCEEDED");
    expect(await modelSettles()).toBe("STOPPED");
    const summary = result.summary;
    expect(summary?.reconciled).toBe(true);
    const counts = summary?.counts;
    const bad = samples.bad.length;
    const skippedBad = samples.bad.filter((b) => b.expected.outcome === "skipped").length;
    expect(counts?.listed).toBe(24 + bad);
    expect(counts?.skipped).toBe(skippedBad);
    expect(counts?.succeeded).toBe(24);
    expect(counts?.failed).toBe(bad - skippedBad);
    expect(counts?.unaccounted).toBe(0);

    for (const image of samples.images) {
      const record = await resultOf(image.key);
      expect(record?.status, image.key).toBe("succeeded");
      const names = (record?.labels ?? []).map((label) => label.Name).sort();
      const expected = image.expectedLabels
        .filter((label) => label.share >= 0.01)
        .map((label) => label.name)
        .sort();
      expect(names, image.key).toEqual(expected);
    }
    const billing = stack.emulator.admin.billing(stack.projectVersionArn);
    expect(billing.unitSeconds).toBeGreaterThan(0);
    expect(summary?.billing.owned).toBe(true);
  });

  it("processes only new images on a second run", async () => {
    await seed(10);
    const first = await run();
    expect(first.summary?.counts.succeeded).toBe(10);
    await modelSettles();
    await writeSampleImages({
      s3: stack.s3,
      bucket: stack.imagesBucket,
      prefix: "incoming/more/",
      count: 4,
      seed: 7,
      largeImages: 0,
    });

    const second = await run();
    expect(second.execution.status).toBe("SUCCEEDED");
    expect(second.summary?.counts).toMatchObject({ pending: 4, alreadyDone: 10, succeeded: 4 });
  });

  it("does not start the model when nothing is pending, and bills nothing", async () => {
    const result = await run();
    expect(result.execution.status).toBe("SUCCEEDED");
    expect(result.plan?.nothingToDo).toBe(true);
    expect(result.summary?.outcome).toBe("nothing-to-do");
    expect(model().status).toBe("TRAINING_COMPLETED");
    expect(stack.emulator.admin.billing(stack.projectVersionArn).unitSeconds).toBe(0);
  });

  it("fails with the cause when the model cannot start, and does not leave it running", async () => {
    await seed(5);
    stack.emulator.admin.failNextStart(stack.projectVersionArn, "Injected: no capacity in the AZs");
    const result = await run();

    expect(result.execution.status).toBe("FAILED");
    expect(result.execution.error).toBe("ModelStartFailed");
    expect(result.execution.cause).toContain("Injected: no capacity");
    expect(await modelSettles()).not.toBe("RUNNING");
    // ReportFailure wrote the run's report, found by the execution's id.
    expect(result.summary?.outcome).toBe("failed");
    expect(result.summary?.counts.pending).toBe(5);
    expect(result.report?.reportKey).toContain(result.plan?.runId ?? "no plan");
    const lease = await readLease({
      s3: stack.s3,
      resultsBucket: stack.resultsBucket,
      resultsPrefix: RESULTS_PREFIX,
      logger: silentLogger,
    });
    expect(lease?.releasedAt).toBeDefined();
  });

  it("stops the model when batches fail past the tolerance (Catch -> StopAfterFailure)", async () => {
    await seed(12);
    const failing: LocalHandler = () => {
      const error = new Error("injected: this batch always fails");
      error.name = "Internal";
      throw error;
    };
    const result = await run({ handlers: { processBatch: failing } });

    expect(result.execution.status).toBe("FAILED");
    expect(result.execution.error).toBe("States.ExceedToleratedFailureThreshold");
    expect(await modelSettles()).toBe("STOPPED");
    expect(result.safetyStop?.stopped).toBe(false);
  });

  it("leaves a model that someone else started running, and uses it", async () => {
    await seed(6);
    const { projectVersionArn } = stack;
    const { RekognitionClient, StartProjectVersionCommand } = await import(
      "@aws-sdk/client-rekognition"
    );
    const client = new RekognitionClient({
      endpoint: stack.emulator.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "x", secretAccessKey: "x" },
    });
    await client.send(
      new StartProjectVersionCommand({
        ProjectVersionArn: projectVersionArn,
        MinInferenceUnits: 1,
      }),
    );
    expect(await modelSettles()).toBe("RUNNING");

    const result = await run();
    expect(result.execution.status).toBe("SUCCEEDED");
    expect(result.summary?.counts.succeeded).toBe(6);
    expect(model().status).toBe("RUNNING");
    expect(result.summary?.billing.owned).toBe(false);
    client.destroy();
  });

  it("is stopped by the safety stop when the execution is aborted mid-run", async () => {
    await seed(40);
    const abort = new AbortController();
    const result = await run({
      signal: abort.signal,
      onEvent: (event) => {
        if (event.type === "MapChildStarted") abort.abort(new Error("operator abort"));
      },
    });

    expect(result.execution.status).toBe("ABORTED");
    expect(result.safetyStop?.stopped).toBe(true);
    expect(await modelSettles()).toBe("STOPPED");
  });
});
