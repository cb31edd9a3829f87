import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalEventBus, EVENTS_PUT_RESOURCE } from "../../harness/local/local-eventbridge.ts";
import { createLocalTopic, SNS_PUBLISH_RESOURCE } from "../../harness/local/local-sns.ts";
import {
  type EmbeddedS3,
  localS3ClientConfig,
  startS3Server,
} from "../../harness/local/s3-server.ts";
import {
  type AslDefinition,
  type LocalHandler,
  type LocalLambdaContext,
  loadDefinition,
  runWorkflow,
  WorkflowDefinitionError,
} from "../../harness/local/workflow/index.ts";
import { ModelNotUsableError } from "../../src/errors.ts";

const BUCKET = "workflow-test";
let server: EmbeddedS3;
let s3: S3Client;
let directory: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "local-workflow-"));
  server = await startS3Server({ directory, buckets: [BUCKET] });
  s3 = new S3Client(localS3ClientConfig(server.endpoint));
});

afterAll(async () => {
  s3?.destroy();
  await server?.close();
  await rm(directory, { recursive: true, force: true });
});

async function put(key: string, body: string) {
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
}

async function getJson(key: string): Promise<unknown> {
  const response = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return JSON.parse((await response.Body?.transformToString()) ?? "");
}

/** Polls `condition` until it holds or the deadline passes. */
async function until(condition: () => boolean, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const getAtt = (id: string) => ({ "Fn::GetAtt": [id, "Arn"] });

function distributedProcessor(states: Record<string, unknown>, startAt: string) {
  return {
    ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
    StartAt: startAt,
    States: states,
  };
}

describe("runWorkflow with a Distributed Map over S3", () => {
  it("reads a JSONL manifest, batches it, bounds concurrency and writes the AWS result layout", async () => {
    const ids = Array.from({ length: 103 }, (_, id) => id);
    await put("runs/r1/manifest.jsonl", `${ids.map((id) => JSON.stringify({ id })).join("\n")}\n`);

    const definition: AslDefinition = {
      StartAt: "Prepare",
      States: {
        Prepare: {
          Type: "Task",
          Resource: getAtt("PrepareLambdaFunction"),
          Parameters: { "executionId.$": "$$.Execution.Id", "input.$": "$" },
          ResultPath: "$.prepared",
          Next: "Process",
        },
        Process: {
          Type: "Map",
          ItemReader: {
            Resource: "arn:aws:states:::s3:getObject",
            ReaderConfig: { InputType: "JSONL" },
            Parameters: { "Bucket.$": "$.manifest.bucket", "Key.$": "$.manifest.key" },
          },
          ItemBatcher: {
            MaxItemsPerBatchPath: "$.batchSize",
            BatchInput: { "runId.$": "$.runId" },
          },
          MaxConcurrencyPath: "$.workers",
          ItemProcessor: distributedProcessor(
            {
              ProcessBatch: {
                Type: "Task",
                Resource: getAtt("ProcessBatchLambdaFunction"),
                End: true,
              },
            },
            "ProcessBatch",
          ),
          ResultWriter: {
            Resource: "arn:aws:states:::s3:putObject",
            Parameters: { "Bucket.$": "$.manifest.bucket", Prefix: "results/map" },
          },
          ResultPath: "$.map",
          End: true,
        },
      },
    };

    const seenExecutionIds: string[] = [];
    const batches: { BatchInput: { runId: string }; Items: { id: number }[] }[] = [];
    const contexts: { functionName: string; remaining: number }[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const totalBatches = Math.ceil(ids.length / 10);
    const handlers = {
      prepare: (event: { executionId: string }) => {
        seenExecutionIds.push(event.executionId);
        return { ok: true };
      },
      ProcessBatchLambdaFunction: async (
        event: { BatchInput: { runId: string }; Items: { id: number }[] },
        context: LocalLambdaContext,
      ) => {
        batches.push(event);
        contexts.push({
          functionName: context.functionName,
          remaining: context.getRemainingTimeInMillis(),
        });
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        // Hold each batch until the pool is full (or nothing is left to start),
        // so the concurrency bound is observed, not merely not exceeded.
        await until(() => inFlight >= 3 || batches.length === totalBatches, "a full worker pool");
        await new Promise((resolve) => setImmediate(resolve));
        inFlight -= 1;
        return { ids: event.Items.map((item) => item.id) };
      },
    };

    const result = await runWorkflow({
      definition,
      input: {
        manifest: { bucket: BUCKET, key: "runs/r1/manifest.jsonl" },
        batchSize: 10,
        workers: 3,
        runId: "r1",
      },
      handlers,
      s3,
    });

    expect(result.status, result.cause).toBe("SUCCEEDED");
    expect(seenExecutionIds).toEqual([result.executionArn]);
    expect(result.executionArn).toMatch(/^arn:aws:states:[^:]+:\d{12}:execution:local-workflow:/);

    expect(batches.map((batch) => batch.Items.length).sort((a, b) => b - a)).toEqual([
      10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 3,
    ]);
    expect(
      batches.flatMap((batch) => batch.Items.map((item) => item.id)).sort((a, b) => a - b),
    ).toEqual(ids);
    expect(batches.every((batch) => batch.BatchInput.runId === "r1")).toBe(true);
    expect(maxInFlight).toBe(3);
    expect(
      contexts.every((context) => context.functionName === "processBatch" && context.remaining > 0),
    ).toBe(true);

    const output = result.output as {
      map: { MapRunArn: string; ResultWriterDetails: { Bucket: string; Key: string } };
    };
    const mapRunId = output.map.MapRunArn.split(":").at(-1);
    expect(output.map.MapRunArn).toMatch(/:mapRun:local-workflow\/Process:/);
    expect(output.map.ResultWriterDetails).toEqual({
      Bucket: BUCKET,
      Key: `results/map/${mapRunId}/manifest.json`,
    });

    const manifest = (await getJson(output.map.ResultWriterDetails.Key)) as {
      DestinationBucket: string;
      MapRunArn: string;
      ResultFiles: Record<string, { Key: string; Size: number }[]>;
    };
    expect(manifest.DestinationBucket).toBe(BUCKET);
    expect(manifest.MapRunArn).toBe(output.map.MapRunArn);
    expect(manifest.ResultFiles.FAILED).toEqual([]);
    expect(manifest.ResultFiles.PENDING).toEqual([]);
    expect(manifest.ResultFiles.SUCCEEDED).toEqual([
      { Key: `results/map/${mapRunId}/SUCCEEDED_0.json`, Size: expect.any(Number) },
    ]);
    const records = (await getJson(`results/map/${mapRunId}/SUCCEEDED_0.json`)) as Record<
      string,
      unknown
    >[];
    expect(records).toHaveLength(totalBatches);
    for (const record of records) {
      expect(record).toMatchObject({
        Status: "SUCCEEDED",
        InputDetails: { Included: true },
        OutputDetails: { Included: true },
        RedriveCount: 0,
      });
      expect(record.ExecutionArn).toMatch(/:execution:local-workflow\/Process:/);
      const input = JSON.parse(record.Input as string) as { Items: { id: number }[] };
      expect(JSON.parse(record.Output as string)).toEqual({
        ids: input.Items.map((item) => item.id),
      });
    }

    const started = result.events.find((event) => event.type === "MapRunStarted");
    expect(started).toMatchObject({
      totalItems: 103,
      totalChildren: 11,
      maxConcurrency: 3,
      batched: true,
    });
    expect(result.events.filter((event) => event.type === "MapChildSucceeded")).toHaveLength(11);
    const finished = result.events.find((event) => event.type === "MapRunSucceeded");
    expect(finished).toMatchObject({
      counts: { succeeded: 11, itemsSucceeded: 103, failed: 0, running: 0 },
    });
    expect(result.events.map((event) => event.type)).toEqual(
      expect.arrayContaining([
        "ExecutionStarted",
        "StateEntered",
        "StateExited",
        "ExecutionSucceeded",
      ]),
    );
    expect(
      result.events.find((event) => event.type === "StateEntered" && event.state === "Process"),
    ).toMatchObject({
      stateType: "Map",
    });
  });

  const toleranceDefinition = (withWriter: boolean): AslDefinition => ({
    StartAt: "Process",
    States: {
      Process: {
        Type: "Map",
        ItemReader: {
          Resource: "arn:aws:states:::s3:getObject",
          ReaderConfig: { InputType: "JSON" },
          Parameters: { Bucket: BUCKET, "Key.$": "$.key" },
        },
        MaxConcurrency: 1,
        ToleratedFailurePercentagePath: "$.tolerated",
        ItemProcessor: distributedProcessor(
          { Work: { Type: "Task", Resource: getAtt("WorkLambdaFunction"), End: true } },
          "Work",
        ),
        ...(withWriter
          ? {
              ResultWriter: {
                Resource: "arn:aws:states:::s3:putObject",
                Parameters: { Bucket: BUCKET, Prefix: "tol" },
              },
            }
          : {}),
        ResultPath: "$.map",
        Catch: [
          {
            ErrorEquals: ["States.ExceedToleratedFailureThreshold"],
            ResultPath: "$.error",
            Next: "Handled",
          },
        ],
        End: true,
      },
      Handled: { Type: "Pass", End: true },
    },
  });

  class ItemBrokenError extends Error {
    override name = "ItemBroken";
  }
  const work = (event: { n: number; fail: boolean }) => {
    if (event.fail) throw new ItemBrokenError(`item ${event.n} is broken`);
    return { n: event.n };
  };

  it("tolerates failures up to the percentage and reports them in the output", async () => {
    const items = Array.from({ length: 20 }, (_, n) => ({ n, fail: n === 4 || n === 11 }));
    await put("tol/items-10pct.json", JSON.stringify(items));
    const result = await runWorkflow({
      definition: toleranceDefinition(false),
      input: { key: "tol/items-10pct.json", tolerated: 10 },
      handlers: { work },
      s3,
    });
    expect(result.status, result.cause).toBe("SUCCEEDED");
    const map = (result.output as { map: Record<string, unknown>[] }).map;
    expect(map).toHaveLength(20);
    expect(map[0]).toEqual({ n: 0 });
    expect(map[4]).toMatchObject({
      Status: "FAILED",
      Error: "ItemBroken",
      // The child's Cause is its Lambda's error JSON, as on AWS.
      Cause: expect.stringContaining('"errorMessage":"item 4 is broken"'),
    });
    expect(map[11]).toMatchObject({ Status: "FAILED", Error: "ItemBroken" });
  });

  it("fails the Map with States.ExceedToleratedFailureThreshold above it, caught by a Catch, results written", async () => {
    const items = Array.from({ length: 20 }, (_, n) => ({
      n,
      fail: n === 2 || n === 5 || n === 7,
    }));
    await put("tol/items-15pct.json", JSON.stringify(items));
    let calls = 0;
    const result = await runWorkflow({
      definition: toleranceDefinition(true),
      input: { key: "tol/items-15pct.json", tolerated: 10 },
      handlers: {
        work: (event: { n: number; fail: boolean }) => {
          calls += 1;
          return work(event);
        },
      },
      s3,
    });
    expect(result.status, result.cause).toBe("SUCCEEDED");
    const output = result.output as { error: { Error: string; Cause: string }; map?: unknown };
    expect(output.error.Error).toBe("States.ExceedToleratedFailureThreshold");
    expect(output.map).toBeUndefined();
    // One at a time: the run stops at the third failure (15 % > 10 %).
    expect(calls).toBe(8);
    const failed = result.events.find((event) => event.type === "MapRunFailed");
    expect(failed).toMatchObject({ counts: { failed: 3, succeeded: 5, pending: 12 } });
    const mapRunId = (failed as { mapRunArn: string }).mapRunArn.split(":").at(-1);
    const manifest = (await getJson(`tol/${mapRunId}/manifest.json`)) as {
      ResultFiles: Record<string, { Key: string }[]>;
    };
    expect(manifest.ResultFiles.FAILED).toEqual([
      { Key: `tol/${mapRunId}/FAILED_0.json`, Size: expect.any(Number) },
    ]);
    const failedRecords = (await getJson(`tol/${mapRunId}/FAILED_0.json`)) as Record<
      string,
      unknown
    >[];
    expect(failedRecords.map((record) => JSON.parse(record.Input as string).n)).toEqual([2, 5, 7]);
    expect(failedRecords[0]).toMatchObject({
      Status: "FAILED",
      Error: "ItemBroken",
      Cause: expect.stringContaining('"errorMessage":"item 2 is broken"'),
    });
    expect(failedRecords[0]).not.toHaveProperty("Output");
  });

  it("lists objects with listObjectsV2 and shapes items with ItemSelector and the Map context", async () => {
    for (const name of ["a.jpg", "b.jpg", "c.jpg"]) await put(`listed/${name}`, name);
    const result = await runWorkflow({
      definition: {
        StartAt: "Each",
        States: {
          Each: {
            Type: "Map",
            ItemReader: {
              Resource: "arn:aws:states:::s3:listObjectsV2",
              Parameters: { "Bucket.$": "$.bucket", Prefix: "listed/" },
            },
            ItemSelector: {
              "key.$": "$$.Map.Item.Value.Key",
              "index.$": "$$.Map.Item.Index",
              "tag.$": "$.tag",
            },
            ItemProcessor: distributedProcessor({ Echo: { Type: "Pass", End: true } }, "Echo"),
            End: true,
          },
        },
      },
      input: { bucket: BUCKET, tag: "t" },
      handlers: {},
      s3,
    });
    expect(result.status, result.cause).toBe("SUCCEEDED");
    expect(result.output).toEqual([
      { key: "listed/a.jpg", index: 0, tag: "t" },
      { key: "listed/b.jpg", index: 1, tag: "t" },
      { key: "listed/c.jpg", index: 2, tag: "t" },
    ]);
  });

  it("retries a child Task on a named error with scaled backoff, then succeeds", async () => {
    class TransientError extends Error {
      override name = "Transient";
    }
    const attempts = new Map<number, number>();
    const result = await runWorkflow({
      definition: {
        StartAt: "Each",
        States: {
          Each: {
            Type: "Map",
            ItemsPath: "$.items",
            ItemProcessor: distributedProcessor(
              {
                Flaky: {
                  Type: "Task",
                  Resource: getAtt("FlakyLambdaFunction"),
                  Retry: [
                    { ErrorEquals: ["Other"], MaxAttempts: 0 },
                    {
                      ErrorEquals: ["Transient"],
                      IntervalSeconds: 600,
                      MaxAttempts: 3,
                      BackoffRate: 2,
                    },
                  ],
                  End: true,
                },
              },
              "Flaky",
            ),
            End: true,
          },
        },
      },
      input: { items: [1, 2] },
      handlers: {
        flaky: (n: number) => {
          const attempt = (attempts.get(n) ?? 0) + 1;
          attempts.set(n, attempt);
          if (attempt < 3) throw new TransientError(`attempt ${attempt}`);
          return n * 10;
        },
      },
      s3,
      retryScale: 0.00001,
    });
    expect(result.status, result.cause).toBe("SUCCEEDED");
    expect(result.output).toEqual([10, 20]);
    expect([...attempts.values()]).toEqual([3, 3]);
    const retried = result.events.filter((event) => event.type === "StateRetried");
    expect(retried).toHaveLength(4);
    expect(retried[0]).toMatchObject({ state: "Flaky", child: { mapState: "Each" } });
  });

  it("fails an item batch over 256 KiB as a failed child (States.DataLimitExceeded), counted against the tolerated failures", async () => {
    const big = "b".repeat(262_144);
    const lines = [{ n: 1 }, { n: 2, blob: big }, { n: 3 }].map((item) => JSON.stringify(item));
    await put("runs/big/manifest.jsonl", `${lines.join("\n")}\n`);
    const seen: number[] = [];
    const result = await runWorkflow({
      definition: {
        StartAt: "Each",
        States: {
          Each: {
            Type: "Map",
            ItemReader: {
              Resource: "arn:aws:states:::s3:getObject",
              ReaderConfig: { InputType: "JSONL" },
              Parameters: { Bucket: BUCKET, Key: "runs/big/manifest.jsonl" },
            },
            ItemBatcher: { MaxItemsPerBatch: 2 },
            ToleratedFailureCount: 1,
            // The failed child's record carries its input: written to S3, not returned.
            ResultWriter: {
              Resource: "arn:aws:states:::s3:putObject",
              Parameters: { Bucket: BUCKET, Prefix: "runs/big/map" },
            },
            ItemProcessor: distributedProcessor(
              { Work: { Type: "Task", Resource: getAtt("WorkLambdaFunction"), End: true } },
              "Work",
            ),
            End: true,
          },
        },
      },
      handlers: {
        work: (batch: { Items: { n: number }[] }) => {
          seen.push(...batch.Items.map((item) => item.n));
          return batch.Items.length;
        },
      },
      s3,
    });
    expect(result.status, result.cause).toBe("SUCCEEDED");
    expect(seen.sort()).toEqual([1, 3]);
    const failed = result.events.find((event) => event.type === "MapChildFailed");
    expect(failed).toMatchObject({ error: "States.DataLimitExceeded", items: 1 });
  });

  it("aborts mid-map as AWS does: ABORTED at once, running invocations run on (orphans), none starts afterwards", async () => {
    let running = 0;
    let started = 0;
    let finished = 0;
    let startedAfterAbort = 0;
    let sawAbort = false;
    const controller = new AbortController();
    const release = new AbortController();
    const run = runWorkflow({
      definition: {
        StartAt: "Each",
        States: {
          Each: {
            Type: "Map",
            ItemsPath: "$.items",
            MaxConcurrency: 4,
            ItemProcessor: distributedProcessor(
              {
                Slow: {
                  Type: "Task",
                  Resource: getAtt("SlowLambdaFunction"),
                  Retry: [{ ErrorEquals: ["States.ALL"], IntervalSeconds: 1, MaxAttempts: 5 }],
                  End: true,
                },
              },
              "Slow",
            ),
            End: true,
          },
        },
      },
      input: { items: Array.from({ length: 40 }, (_, n) => n) },
      handlers: {
        slow: async (n: number, context: LocalLambdaContext) => {
          started += 1;
          if (controller.signal.aborted) startedAfterAbort += 1;
          running += 1;
          context.signal.addEventListener("abort", () => {
            sawAbort = true;
          });
          // Runs until the test lets it go: StopExecution must not end it.
          await new Promise((resolve) => release.signal.addEventListener("abort", resolve));
          running -= 1;
          finished += 1;
          return n;
        },
      },
      s3,
      signal: controller.signal,
      retryScale: 0.001,
    });
    await until(() => running === 4, "four running handlers");
    controller.abort();
    const result = await run;
    expect(result.status).toBe("ABORTED");
    // The result did not wait for them: all four still run, and none was told to stop.
    expect(result.orphans).toBe(4);
    expect(running).toBe(4);
    expect(sawAbort).toBe(false);
    expect(result.events.map((event) => event.type)).toContain("ExecutionAborted");
    release.abort();
    expect(await result.settleOrphans(10_000)).toBe(0);
    expect(result.events.map((event) => event.type)).toContain("MapRunAborted");
    expect(finished).toBe(4);
    expect(started).toBe(4);
    expect(startedAfterAbort).toBe(0);
  });

  it("leaves a failed Map's running invocations to run on while the Catch path goes ahead", async () => {
    const release = new AbortController();
    let slowRunning = 0;
    let caughtWhileRunning = -1;
    const result = await runWorkflow({
      definition: {
        StartAt: "Each",
        States: {
          Each: {
            Type: "Map",
            ItemsPath: "$.items",
            MaxConcurrency: 3,
            ItemProcessor: distributedProcessor(
              { Work: { Type: "Task", Resource: getAtt("WorkLambdaFunction"), End: true } },
              "Work",
            ),
            Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "AfterFailure" }],
            End: true,
          },
          AfterFailure: {
            Type: "Task",
            Resource: getAtt("AfterFailureLambdaFunction"),
            End: true,
          },
        },
      },
      input: { items: [0, 1, 2] },
      handlers: {
        work: async (n: number) => {
          if (n === 2) {
            await until(() => slowRunning === 2, "two slow invocations");
            throw new Error("batch failed");
          }
          slowRunning += 1;
          await new Promise((resolve) => release.signal.addEventListener("abort", resolve));
          slowRunning -= 1;
          return n;
        },
        afterFailure: () => {
          caughtWhileRunning = slowRunning;
          return "handled";
        },
      },
      s3,
    });
    expect(result.status, result.cause).toBe("SUCCEEDED");
    expect(result.output).toBe("handled");
    // The Catch path ran while the failed Map's other invocations were still at work.
    expect(caughtWhileRunning).toBe(2);
    expect(result.orphans).toBe(2);
    release.abort();
    expect(await result.settleOrphans(10_000)).toBe(0);
    expect(slowRunning).toBe(0);
  });
});

describe("runWorkflow states and bindings", () => {
  it("routes a named error to its Catch, passes $$ context, and supports lambda:invoke", async () => {
    const seen: { entered?: string; state?: string } = {};
    const result = await runWorkflow({
      definition: {
        StartAt: "Describe",
        States: {
          Describe: {
            Type: "Task",
            Resource: "arn:aws:states:::lambda:invoke",
            Parameters: {
              FunctionName: getAtt("DescribeLambdaFunction"),
              Payload: { "entered.$": "$$.State.EnteredTime", "state.$": "$$.State.Name" },
            },
            ResultSelector: { "described.$": "$.Payload" },
            ResultPath: "$.describe",
            Next: "Start",
          },
          Start: {
            Type: "Task",
            Resource: getAtt("StartLambdaFunction"),
            Catch: [
              { ErrorEquals: ["ModelNotReady"], Next: "Wrong" },
              { ErrorEquals: ["ModelNotUsable"], ResultPath: "$.error", Next: "Recover" },
            ],
            Next: "Wrong",
          },
          Wrong: { Type: "Fail", Error: "WrongRoute" },
          Recover: { Type: "Pass", End: true },
        },
      },
      input: { start: true },
      handlers: {
        describe: (event: { entered: string; state: string }) => {
          seen.entered = event.entered;
          seen.state = event.state;
          return { status: "FAILED" };
        },
        start: () => {
          throw new ModelNotUsableError("model is FAILED");
        },
      },
      s3,
    });
    expect(result.status, result.cause).toBe("SUCCEEDED");
    expect(result.output).toMatchObject({
      start: true,
      describe: { described: { status: "FAILED" } },
      error: { Error: "ModelNotUsable" },
    });
    // As on AWS, the Cause is the runtime's error JSON, as a string.
    const { error } = result.output as { error: { Cause: string } };
    expect(JSON.parse(error.Cause)).toMatchObject({
      errorType: "ModelNotUsable",
      errorMessage: "model is FAILED",
    });
    expect(seen.state).toBe("Describe");
    expect(Number.isNaN(Date.parse(seen.entered ?? ""))).toBe(false);
  });

  it("fails the execution with the error name and message when nothing catches it", async () => {
    const result = await runWorkflow({
      definition: {
        StartAt: "Start",
        States: { Start: { Type: "Task", Resource: getAtt("StartLambdaFunction"), End: true } },
      },
      handlers: {
        start: () => {
          throw new ModelNotUsableError("model is FAILED");
        },
      },
      s3,
    });
    expect(result).toMatchObject({ status: "FAILED", error: "ModelNotUsable" });
    expect(JSON.parse(result.cause ?? "")).toMatchObject({ errorMessage: "model is FAILED" });
    expect(result.events.at(-1)).toMatchObject({
      type: "ExecutionFailed",
      error: "ModelNotUsable",
    });
  });

  it("scales Wait states, so a long Wait finishes at once", async () => {
    const result = await runWorkflow({
      definition: {
        StartAt: "WaitLong",
        States: {
          WaitLong: { Type: "Wait", Seconds: 3600, Next: "WaitPath" },
          WaitPath: { Type: "Wait", SecondsPath: "$.seconds", End: true },
        },
      },
      input: { seconds: 3600 },
      handlers: {},
      s3,
      waitScale: 0.00001,
    });
    expect(result.status, result.cause).toBe("SUCCEEDED");
    expect(result.output).toEqual({ seconds: 3600 });
    expect(
      result.events
        .filter((event) => event.type === "StateExited")
        .map((event) => [event.state, event.stateType]),
    ).toEqual([
      ["WaitLong", "Wait"],
      ["WaitPath", "Wait"],
    ]);
  });

  it("rejects an unbound Task before running anything, naming the state and the function", async () => {
    let ran = false;
    const run = runWorkflow({
      definition: {
        StartAt: "First",
        States: {
          First: { Type: "Task", Resource: getAtt("FirstLambdaFunction"), Next: "Plan" },
          Plan: { Type: "Task", Resource: getAtt("PlanLambdaFunction"), End: true },
        },
      },
      handlers: {
        first: () => {
          ran = true;
        },
      },
      s3,
    });
    await expect(run).rejects.toThrow(WorkflowDefinitionError);
    await expect(run).rejects.toThrow(
      /Task "Plan" calls Fn::GetAtt PlanLambdaFunction .*"PlanLambdaFunction" or "plan"/,
    );
    expect(ran).toBe(false);
  });
});

describe("the project's state machine, run locally with stand-in handlers", () => {
  it("plans, waits for the model, maps the manifest in batches, stops the model and reports", async () => {
    const definition = await loadDefinition(
      join(import.meta.dirname, "../../statemachines/weekly-batch.asl.yml"),
    );
    const keys = Array.from({ length: 25 }, (_, n) => `img/${n}.jpg`);
    await put("weekly/manifest.jsonl", keys.map((key) => JSON.stringify({ key })).join("\n"));
    const calls: string[] = [];
    let checks = 0;
    const processed: string[] = [];
    const plan = {
      runId: "run-1",
      nothingToDo: false,
      manifest: { bucket: BUCKET, key: "weekly/manifest.jsonl" },
      mapResults: { bucket: BUCKET, prefix: "weekly/map" },
      sizing: { batchSize: 4, workers: 2 },
      toleratedFailurePercentage: 0,
      context: { runId: "run-1" },
    };
    const bus = createLocalEventBus();
    const result = await runWorkflow({
      definition,
      input: { imagesPrefix: "img/" },
      // The Notify states' SNS integration (not reached: the report sets no notification)
      // and PublishRunEvent's EventBridge integration.
      resources: {
        [SNS_PUBLISH_RESOURCE]: createLocalTopic().publish as LocalHandler,
        [EVENTS_PUT_RESOURCE]: bus.putEvents as LocalHandler,
      },
      handlers: {
        plan: (event: { executionId: string }) => {
          calls.push(`plan ${event.executionId}`);
          const current = { manifest: plan.manifest, ...plan.sizing, context: plan.context };
          return { plan, rounds: { current, finished: [], next: "process", restarts: 0 } };
        },
        // Not reached: this plan lists in one Lambda (the sharded Plan: plan-shards.test.ts).
        planShard: () => {
          throw new Error("not sharded");
        },
        mergePlan: () => {
          throw new Error("not sharded");
        },
        ensureModelRunning: () => {
          calls.push("ensure");
          return { owned: true };
        },
        checkModel: (event: { attempt: number }) => {
          checks += 1;
          return { attempt: event.attempt + 1, ready: checks >= 2, failed: false, timedOut: false };
        },
        processBatch: (event: {
          BatchInput: { context: { runId: string } };
          Items: { key: string }[];
        }) => {
          processed.push(...event.Items.map((item) => item.key));
          return { items: event.Items.length, runId: event.BatchInput.context.runId };
        },
        evaluateRound: () => {
          calls.push("evaluate");
          return { next: "done" };
        },
        stopModel: (event: { reason: string }) => {
          calls.push(`stop ${event.reason}`);
          return { stopped: true };
        },
        report: () => {
          calls.push("report");
          return {
            written: true,
            event: { source: "s", detailType: "d", detail: { runId: "run-1" } },
          };
        },
      },
      s3,
      waitScale: 0.0001,
    });
    expect(bus.events.map((event) => event.Detail)).toEqual([{ runId: "run-1" }]);
    expect(result.status, `${result.error}: ${result.cause}`).toBe("SUCCEEDED");
    expect(calls).toEqual([
      `plan ${result.executionArn}`,
      "ensure",
      "evaluate",
      "stop completed",
      "report",
    ]);
    expect(checks).toBe(2);
    expect(processed.sort()).toEqual([...keys].sort());
    const output = result.output as { map: { ResultWriterDetails: { Key: string } } };
    expect(output.map.ResultWriterDetails.Key).toMatch(/^weekly\/map\/[0-9a-f-]+\/manifest\.json$/);
    expect(result.events.find((event) => event.type === "MapRunStarted")).toMatchObject({
      totalItems: 25,
      totalChildren: 7,
      maxConcurrency: 2,
    });
  });
});
