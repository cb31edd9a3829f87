import { GetObjectCommand, type GetObjectCommandOutput, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { loadBatchOutputs } from "../../src/report/map-results.ts";
import { makeBatch } from "../support/report-fixtures.ts";

const s3Mock = mockClient(S3Client);
const s3 = new S3Client({ region: "us-east-1" });

afterEach(() => s3Mock.reset());

/** Serves `objects` (key -> text) from the mocked GetObject. */
function serve(objects: Record<string, string>) {
  s3Mock.on(GetObjectCommand).callsFake((input: { Key: string }) => {
    const text = objects[input.Key];
    if (text === undefined) {
      throw Object.assign(new Error("The specified key does not exist."), { name: "NoSuchKey" });
    }
    const body = { transformToString: async () => text } as unknown;
    return { Body: body as GetObjectCommandOutput["Body"] };
  });
}

const items = (...keys: string[]) =>
  JSON.stringify({ BatchInput: { context: {} }, Items: keys.map((key) => ({ key })) });

describe("loadBatchOutputs", () => {
  it("reads JSON and JSON Lines result files, failed and pending children", async () => {
    const ok = makeBatch({ items: 2 });
    serve({
      "map/run/manifest.json": JSON.stringify({
        DestinationBucket: "results",
        MapRunArn: "arn:aws:states:us-east-1:1:mapRun:sm/Map:run",
        ResultFiles: {
          SUCCEEDED: [{ Key: "map/run/SUCCEEDED_0.json", Size: 1 }],
          FAILED: [{ Key: "map/run/FAILED_0.json", Size: 1 }],
          PENDING: [{ Key: "map/run/PENDING_0.json", Size: 1 }],
        },
      }),
      "map/run/SUCCEEDED_0.json": JSON.stringify([
        { Name: "b0", Status: "SUCCEEDED", Input: items("a", "b"), Output: JSON.stringify(ok) },
        { Name: "b1", Status: "SUCCEEDED", Input: items("c"), Output: '{"not":"a batch"}' },
      ]),
      // JSON Lines, as with WriterConfig OutputType JSONL.
      "map/run/FAILED_0.json": [
        JSON.stringify({
          Name: "b2",
          Status: "FAILED",
          Input: items("d", "e"),
          Error: "RetriesExhausted",
          Cause: JSON.stringify({
            errorType: "RetriesExhausted",
            errorMessage: "gave up",
            trace: [],
          }),
        }),
        JSON.stringify({
          Name: "b0",
          Status: "FAILED",
          Error: "Lambda.Unknown",
          Cause: "first try",
        }),
        JSON.stringify({ Name: "b3", Status: "FAILED", Error: "", Cause: "plain text cause" }),
      ].join("\n"),
      "map/run/PENDING_0.json": JSON.stringify([{ Name: "b4", Input: items("f") }]),
    });

    const result = await loadBatchOutputs(s3, { Bucket: "results", Key: "map/run/manifest.json" });

    expect(result.mapRunArn).toBe("arn:aws:states:us-east-1:1:mapRun:sm/Map:run");
    expect(result.batches).toEqual([ok]);
    expect(result.batchNames).toEqual(["b0"]);
    expect(result.failedBatches).toEqual([
      expect.objectContaining({ name: "b1", status: "MALFORMED", items: 1, keys: ["c"] }),
      {
        name: "b2",
        status: "FAILED",
        error: "RetriesExhausted",
        cause: "gave up",
        items: 2,
        keys: ["d", "e"],
      },
      // b0 failed once but succeeded: it is not a failure.
      {
        name: "b3",
        status: "FAILED",
        error: "UnknownError",
        cause: "plain text cause",
        items: undefined,
        keys: [],
      },
      expect.objectContaining({ name: "b4", status: "PENDING", error: "Pending", items: 1 }),
    ]);
  });

  it("fails loudly on a manifest that is not a ResultWriter manifest", async () => {
    serve({ "m.json": JSON.stringify({ hello: "world" }) });
    await expect(loadBatchOutputs(s3, { Bucket: "results", Key: "m.json" })).rejects.toThrow();
  });
});
