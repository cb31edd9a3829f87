import { describe, expect, it } from "vitest";
import { WorkflowDefinitionError } from "../../../harness/local/workflow/asl.ts";
import { checkItemReader, parseJsonLines } from "../../../harness/local/workflow/item-reader.ts";
import {
  checkResultWriter,
  toExecutionRecord,
} from "../../../harness/local/workflow/result-writer.ts";
import { scaledWaitMs, scaleRetriers } from "../../../harness/local/workflow/time-scaling.ts";

describe("item reading", () => {
  it("parses JSON Lines, skipping blank lines, naming the bad line", () => {
    expect(parseJsonLines('{"a":1}\n\n[2]\r\n"x"\n', "s3://b/k")).toEqual([{ a: 1 }, [2], "x"]);
    expect(() => parseJsonLines('{"a":1}\n{oops', "s3://b/k")).toThrow(
      expect.objectContaining({
        name: "States.ItemReaderFailed",
        message: expect.stringMatching(/s3:\/\/b\/k line 2/),
      }),
    );
  });

  it("refuses reader and writer settings it does not reproduce", () => {
    const csv = { Resource: "arn:aws:states:::s3:getObject", ReaderConfig: { InputType: "CSV" } };
    expect(() => checkItemReader("Map", csv)).toThrow(WorkflowDefinitionError);
    expect(() =>
      checkItemReader("Map", { Resource: "arn:aws:states:::s3:listObjectsV2" }),
    ).not.toThrow();
    expect(() =>
      checkResultWriter("Map", { Resource: "arn:aws:states:::s3:putObject", WriterConfig: {} }),
    ).toThrow(/WriterConfig/);
  });
});

describe("result records", () => {
  const base = {
    executionArn: "arn:x",
    name: "n",
    stateMachineArn: "arn:sm",
    input: { Items: [1] },
    startDate: new Date(0),
    stopDate: new Date(1000),
  };

  it("records a success with Input and Output as JSON strings", () => {
    expect(toExecutionRecord({ ...base, status: "SUCCEEDED", output: { ok: true } })).toMatchObject(
      {
        ExecutionArn: "arn:x",
        Input: '{"Items":[1]}',
        Output: '{"ok":true}',
        OutputDetails: { Included: true },
        Status: "SUCCEEDED",
        StartDate: "1970-01-01T00:00:00.000Z",
        StopDate: "1970-01-01T00:00:01.000Z",
      },
    );
  });

  it("records a failure with Error and Cause and no Output", () => {
    const record = toExecutionRecord({
      ...base,
      status: "FAILED",
      error: "ItemBroken",
      cause: "bad",
    });
    expect(record).toMatchObject({ Status: "FAILED", Error: "ItemBroken", Cause: "bad" });
    expect(record).not.toHaveProperty("Output");
  });
});

describe("time scaling", () => {
  it("scales retry intervals (default 1 s) and max delays, leaving other fields", () => {
    expect(
      scaleRetriers(
        [
          { ErrorEquals: ["A"], IntervalSeconds: 2, MaxDelaySeconds: 60, BackoffRate: 2 },
          { ErrorEquals: ["B"] },
        ],
        0.5,
      ),
    ).toEqual([
      { ErrorEquals: ["A"], IntervalSeconds: 1, MaxDelaySeconds: 30, BackoffRate: 2 },
      { ErrorEquals: ["B"], IntervalSeconds: 0.5 },
    ]);
  });

  it("scales waits in seconds and until a timestamp, or fixes them", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(scaledWaitMs({ seconds: 30 }, now, { waitScale: 0.05, retryScale: 1 })).toBe(1500);
    expect(
      scaledWaitMs({ timestamp: "2026-01-01T00:01:00Z" }, now, { waitScale: 0.5, retryScale: 1 }),
    ).toBe(30_000);
    expect(
      scaledWaitMs({ timestamp: "2025-01-01T00:00:00Z" }, now, { waitScale: 1, retryScale: 1 }),
    ).toBe(0);
    expect(scaledWaitMs({ seconds: 30 }, now, { waitScale: 1, retryScale: 1, waitMs: 7 })).toBe(7);
  });
});
