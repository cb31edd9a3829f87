import { gunzipSync } from "node:zlib";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  PART_TEXT_CHUNK_BYTES,
  partKeyFor,
  partLineOf,
  writeResultPart,
} from "../../src/result-parts.ts";
import type { BatchContext, ImageResultRecord } from "../../src/shapes.ts";

/**
 * How much text gzip is handed at once, whichever zlib entry point the code
 * uses: the one-shot `gzip` (a whole buffer) or a `createGzip` stream (its writes).
 */
const gzipInputs = vi.hoisted(() => ({ sizes: [] as number[] }));

vi.mock("node:zlib", async (importOriginal) => {
  const zlib = await importOriginal<typeof import("node:zlib")>();
  const sizeOf = (chunk: unknown) =>
    typeof chunk === "string" ? Buffer.byteLength(chunk) : (chunk as Uint8Array).byteLength;
  return {
    ...zlib,
    gzip: (input: unknown, ...rest: unknown[]) => {
      gzipInputs.sizes.push(sizeOf(input));
      return (zlib.gzip as (...args: unknown[]) => void)(input, ...rest);
    },
    createGzip: (options?: import("node:zlib").ZlibOptions) => {
      const stream = zlib.createGzip(options);
      const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
      stream.write = ((chunk: unknown, ...rest: unknown[]) => {
        gzipInputs.sizes.push(sizeOf(chunk));
        return write(chunk, ...rest);
      }) as typeof stream.write;
      return stream;
    },
  };
});

const s3Mock = mockClient(S3Client);
const s3 = new S3Client({ region: "eu-west-1" });

const context: BatchContext = {
  runId: "r1",
  projectVersionArn: "arn:aws:rekognition:eu-west-1:111122223333:project/p/version/v/1",
  imagesBucket: "images",
  resultsBucket: "results",
  resultsPrefix: "out/",
  imageMode: "S3Object",
  perWorkerTps: 5,
  concurrency: 4,
};

/** An image with `labels` labels of 120-character names, each with a box. */
function recordWith(index: number, labels: number): ImageResultRecord {
  return {
    schemaVersion: 2,
    status: "succeeded",
    image: {
      bucket: "images",
      key: `incoming/cam-${index % 7}/${String(index).padStart(6, "0")}.jpg`,
      etag: `"${index.toString(16).padStart(32, "0")}"`,
      size: 1,
      lastModified: "2026-11-30T01:00:00.000Z",
    },
    projectVersionArn: context.projectVersionArn,
    labels: Array.from({ length: labels }, (_, i) => ({
      Name: `defect-${i}-${"x".repeat(110)}`,
      Confidence: 50 + ((index * 7 + i) % 50) + 0.123,
      Geometry: {
        BoundingBox: { Width: 0.1 + i / 1e4, Height: 0.2, Left: (index % 10) / 10, Top: 0.3 },
      },
    })),
    analyzedAt: "2026-11-30T02:14:07.120Z",
    runId: "r1",
    attempts: 1,
  };
}

beforeEach(() => {
  gzipInputs.sizes = [];
});
afterEach(() => s3Mock.reset());

describe("writeResultPart", () => {
  it("streams the text through gzip in pieces: the whole part's text is never built", async () => {
    s3Mock.on(PutObjectCommand).resolves({});
    // 400 images with 150 long labels each: about 17 MB of JSON Lines.
    const records = Array.from({ length: 400 }, (_, i) => recordWith(i, 150));
    const lines = records.map((record) => `${JSON.stringify(partLineOf(record))}\n`);
    const textBytes = Buffer.byteLength(lines.join(""));
    const longestLine = Math.max(...lines.map((line) => Buffer.byteLength(line)));
    expect(textBytes).toBeGreaterThan(10 * 1024 * 1024);

    const written = await writeResultPart({
      s3,
      context,
      firstImageKey: records[0]?.image.key ?? "",
      records,
    });

    expect(written).toEqual({
      key: partKeyFor("out/", "r1", records[0]?.image.key ?? ""),
      lines: 400,
    });
    // Every byte went through gzip, never more than a piece (plus one line) at a time.
    expect(gzipInputs.sizes.reduce((a, b) => a + b, 0)).toBe(textBytes);
    const largest = Math.max(...gzipInputs.sizes);
    expect(largest).toBeLessThan(textBytes / 50);
    expect(largest).toBeLessThanOrEqual(PART_TEXT_CHUNK_BYTES + longestLine);
    // What was put is the compressed part, and it holds every line in order.
    const puts = s3Mock.commandCalls(PutObjectCommand);
    expect(puts).toHaveLength(1);
    const input = puts[0]?.args[0].input;
    expect(input?.Bucket).toBe("results");
    expect(input?.Key).toBe(written?.key);
    expect(input?.ContentType).toBe("application/gzip");
    const body = input?.Body as Buffer;
    expect(body.byteLength).toBeLessThan(textBytes / 4);
    expect(gunzipSync(body).toString("utf8")).toBe(lines.join(""));
  });

  it("writes the same key with the same lines on a retry, so the retry replaces the part", async () => {
    s3Mock.on(PutObjectCommand).resolves({});
    const records = Array.from({ length: 3 }, (_, i) => recordWith(i, 2));
    const firstImageKey = records[0]?.image.key ?? "";
    await writeResultPart({ s3, context, firstImageKey, records });
    await writeResultPart({ s3, context, firstImageKey, records });
    const [first, second] = s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(second?.Key).toBe(first?.Key);
    expect(gunzipSync(second?.Body as Buffer)).toEqual(gunzipSync(first?.Body as Buffer));
  });

  it("writes nothing for a batch that finished no image", async () => {
    expect(await writeResultPart({ s3, context, firstImageKey: "a.jpg", records: [] })).toBe(
      undefined,
    );
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });
});
