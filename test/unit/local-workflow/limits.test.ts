import { S3Client } from "@aws-sdk/client-s3";
import { afterAll, describe, expect, it } from "vitest";
import { type AslDefinition, runWorkflow } from "../../../harness/local/workflow/index.ts";
import { MAX_PAYLOAD_BYTES } from "../../../harness/local/workflow/limits.ts";

// No Map here reads or writes S3: the client is never called.
const s3 = new S3Client({
  region: "us-east-1",
  credentials: { accessKeyId: "x", secretAccessKey: "x" },
});
afterAll(() => s3.destroy());

const getAtt = (id: string) => ({ "Fn::GetAtt": [id, "Arn"] });
const distributed = (states: Record<string, unknown>, startAt: string) => ({
  ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
  StartAt: startAt,
  States: states,
});
const overQuota = () => "x".repeat(MAX_PAYLOAD_BYTES + 1);

describe("the payload quota (256 KiB), enforced as on AWS", () => {
  it("fails the execution with States.DataLimitExceeded when a task result is too large, even with a Catch on States.ALL", async () => {
    let recovered = false;
    const result = await runWorkflow({
      definition: {
        StartAt: "Big",
        States: {
          Big: {
            Type: "Task",
            Resource: getAtt("BigLambdaFunction"),
            Catch: [{ ErrorEquals: ["States.ALL"], Next: "Recover" }],
            End: true,
          },
          Recover: { Type: "Task", Resource: getAtt("RecoverLambdaFunction"), End: true },
        },
      },
      handlers: {
        big: () => ({ failures: overQuota() }),
        recover: () => {
          recovered = true;
          return null;
        },
      },
      s3,
    });
    expect(result.status).toBe("FAILED");
    expect(result.error).toBe("States.DataLimitExceeded");
    expect(result.cause).toMatch(/"Big".*262,144-byte/);
    expect(recovered).toBe(false);
  });

  it("fails when a state's output (after ResultPath) passes the quota, before the next Task runs", async () => {
    let nextRan = false;
    const half = "y".repeat(MAX_PAYLOAD_BYTES / 2 + 10);
    const result = await runWorkflow({
      definition: {
        StartAt: "Grow",
        States: {
          // Each half fits; the state's output holds both and does not.
          Grow: {
            Type: "Task",
            Resource: getAtt("GrowLambdaFunction"),
            ResultPath: "$.second",
            Catch: [{ ErrorEquals: ["States.ALL"], Next: "Later" }],
            Next: "Later",
          },
          Later: { Type: "Task", Resource: getAtt("LaterLambdaFunction"), End: true },
        },
      },
      input: { first: half },
      handlers: {
        grow: () => half,
        later: () => {
          nextRan = true;
          return null;
        },
      },
      s3,
    });
    expect(result.status).toBe("FAILED");
    expect(result.error).toBe("States.DataLimitExceeded");
    expect(result.cause).toContain('The output of state "Grow"');
    expect(nextRan).toBe(false);
  });
});

describe("errors the Map raises itself", () => {
  const mapWithPercentage = (percentage: unknown): AslDefinition => ({
    StartAt: "Each",
    States: {
      Each: {
        Type: "Map",
        ItemsPath: "$.items",
        ToleratedFailurePercentagePath: "$.tolerated",
        ItemProcessor: distributed(
          { Work: { Type: "Task", Resource: getAtt("WorkLambdaFunction"), End: true } },
          "Work",
        ),
        Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "Recover" }],
        End: true,
      },
      Recover: { Type: "Pass", Result: { recovered: percentage }, End: true },
    },
  });

  it.each([2.5, 101, -1, "5"])(
    "fails the execution with States.Runtime when ToleratedFailurePercentagePath gives %j; no Catch runs",
    async (tolerated) => {
      let ran = 0;
      const result = await runWorkflow({
        definition: mapWithPercentage(tolerated),
        input: { items: [1, 2], tolerated },
        handlers: {
          work: () => {
            ran += 1;
            return null;
          },
        },
        s3,
      });
      expect(result.status).toBe("FAILED");
      expect(result.error).toBe("States.Runtime");
      expect(result.cause).toContain(
        "ToleratedFailurePercentagePath $.tolerated must be an integer",
      );
      expect(result.events.some((event) => event.type === "StateCaught")).toBe(false);
      expect(ran).toBe(0);
    },
  );

  it("accepts an integer percentage from the path", async () => {
    const result = await runWorkflow({
      definition: mapWithPercentage(5),
      input: { items: [1, 2], tolerated: 5 },
      handlers: { work: () => null },
      s3,
    });
    expect(result.status, result.cause).toBe("SUCCEEDED");
  });

  it("fails with States.Runtime for a fractional MaxConcurrencyPath", async () => {
    const result = await runWorkflow({
      definition: {
        StartAt: "Each",
        States: {
          Each: {
            Type: "Map",
            ItemsPath: "$.items",
            MaxConcurrencyPath: "$.workers",
            ItemProcessor: distributed(
              { Work: { Type: "Task", Resource: getAtt("WorkLambdaFunction"), End: true } },
              "Work",
            ),
            Catch: [{ ErrorEquals: ["States.ALL"], Next: "Recover" }],
            End: true,
          },
          Recover: { Type: "Pass", End: true },
        },
      },
      input: { items: [1], workers: 1.5 },
      handlers: { work: () => null },
      s3,
    });
    expect(result).toMatchObject({ status: "FAILED", error: "States.Runtime" });
  });
});

describe("the integer rules of the other *Path fields", () => {
  const mapWith = (fields: Record<string, unknown>): AslDefinition => ({
    StartAt: "Each",
    States: {
      Each: {
        Type: "Map",
        ItemsPath: "$.items",
        ...fields,
        ItemProcessor: distributed(
          { Work: { Type: "Task", Resource: getAtt("WorkLambdaFunction"), End: true } },
          "Work",
        ),
        Catch: [{ ErrorEquals: ["States.ALL"], Next: "Recover" }],
        End: true,
      },
      Recover: { Type: "Pass", End: true },
    },
  });

  it.each([
    ["ToleratedFailureCountPath", {}, 0.5],
    ["MaxItemsPerBatchPath", {}, 2.5],
    ["MaxItemsPerBatchPath", {}, 0],
    ["MaxInputBytesPerBatchPath", {}, 1000.5],
    ["MaxInputBytesPerBatchPath", {}, MAX_PAYLOAD_BYTES + 1],
  ])("fails with States.Runtime when %s gives %j; no Catch runs", async (field, _extra, value) => {
    const fields: Record<string, unknown> = { [field]: "$.value" };
    if (field.startsWith("Max")) fields.ItemBatcher = { [field]: "$.value" };
    if (field.startsWith("Max")) delete fields[field];
    const result = await runWorkflow({
      definition: mapWith(fields),
      input: { items: [1, 2], value },
      handlers: { work: () => null },
      s3,
    });
    expect(result).toMatchObject({ status: "FAILED", error: "States.Runtime" });
    expect(result.cause).toContain(`${field} $.value must be an integer`);
    expect(result.events.some((event) => event.type === "StateCaught")).toBe(false);
  });

  it("fails a Task with States.Runtime when TimeoutSecondsPath is not a positive integer; no Catch runs", async () => {
    let ran = false;
    const result = await runWorkflow({
      definition: {
        StartAt: "Work",
        States: {
          Work: {
            Type: "Task",
            Resource: getAtt("WorkLambdaFunction"),
            TimeoutSecondsPath: "$.timeout",
            Catch: [{ ErrorEquals: ["States.ALL"], Next: "Recover" }],
            End: true,
          },
          Recover: { Type: "Pass", End: true },
        },
      },
      input: { timeout: 1.5 },
      handlers: {
        work: () => {
          ran = true;
          return null;
        },
      },
      s3,
    });
    expect(result).toMatchObject({ status: "FAILED", error: "States.Runtime" });
    expect(result.events.some((event) => event.type === "StateCaught")).toBe(false);
    // AWS reads the path before it invokes anything.
    expect(ran).toBe(false);
  });
});

describe("the execution history quota (25,000 events)", () => {
  const loop = (limit: number): AslDefinition => ({
    StartAt: "Count",
    States: {
      Count: {
        Type: "Pass",
        Parameters: { "n.$": "States.MathAdd($.n, 1)" },
        Next: "Again",
      },
      Again: {
        Type: "Choice",
        Choices: [{ Variable: "$.n", NumericLessThan: limit, Next: "Count" }],
        Default: "Done",
      },
      Done: { Type: "Succeed" },
    },
  });

  it("fails a looping execution with States.Runtime once its history is full", async () => {
    const result = await runWorkflow({
      definition: loop(1_000_000),
      input: { n: 0 },
      handlers: {},
      s3,
    });
    expect(result.status).toBe("FAILED");
    expect(result.error).toBe("States.Runtime");
    expect(result.cause).toBe(
      "The execution reached the maximum number of history events (25000).",
    );
    // ExecutionStarted + 2 events a state: the 12,500th state would pass 24,999.
    const entered = result.events.filter((event) => event.type === "StateEntered").length;
    expect(entered).toBe(12_499);
  });

  it("lets a loop finish under the quota", async () => {
    const result = await runWorkflow({
      definition: loop(1_000),
      input: { n: 0 },
      handlers: {},
      s3,
    });
    expect(result.status, result.cause).toBe("SUCCEEDED");
    expect(result.output).toEqual({ n: 1_000 });
  });
});

describe("a Lambda failure as Step Functions reports it", () => {
  it("has the errorType as Error and the runtime's error JSON as Cause", async () => {
    class ModelNotReady extends Error {
      override name = "ModelNotReady";
    }
    const result = await runWorkflow({
      definition: {
        StartAt: "Start",
        States: {
          Start: {
            Type: "Task",
            Resource: getAtt("StartLambdaFunction"),
            Catch: [{ ErrorEquals: ["ModelNotReady"], ResultPath: "$.error", Next: "Caught" }],
            End: true,
          },
          Caught: { Type: "Pass", End: true },
        },
      },
      handlers: {
        start: () => {
          throw new ModelNotReady("the model stopped");
        },
      },
      s3,
    });
    expect(result.status, result.cause).toBe("SUCCEEDED");
    const error = (result.output as { error: { Error: string; Cause: string } }).error;
    expect(error.Error).toBe("ModelNotReady");
    expect(typeof error.Cause).toBe("string");
    const cause = JSON.parse(error.Cause) as Record<string, unknown>;
    expect(cause).toMatchObject({ errorType: "ModelNotReady", errorMessage: "the model stopped" });
    expect(Array.isArray(cause.trace)).toBe(true);
    expect((cause.trace as string[])[0]).toBe("ModelNotReady: the model stopped");
  });
});
