import { gunzipSync } from "node:zlib";
import {
  DetectCustomLabelsCommand,
  type DetectCustomLabelsCommandInput,
  RekognitionClient,
} from "@aws-sdk/client-rekognition";
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type PutObjectCommandInput,
  S3Client,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AdaptiveRateController } from "../../src/adaptive-rate-controller.ts";
import { UNREADABLE_MAX_ATTEMPTS } from "../../src/aws-errors.ts";
import { batchMarkKey } from "../../src/batch-attempt.ts";
import { MAX_IMAGE_BYTES } from "../../src/detect-image.ts";
import {
  BatchIncompleteError,
  ModelNotReadyError,
  RetriesExhaustedError,
} from "../../src/errors.ts";
import { type ProcessBatchOptions, processBatch } from "../../src/process-batch.ts";
import type { RateController } from "../../src/rate-controller.ts";
import { resultKeyFor, resultsFolder } from "../../src/result-keys.ts";
import { type PartLine, partKeyFor, partLineSchema } from "../../src/result-parts.ts";
import { RESULT_METADATA } from "../../src/results.ts";
import { type Logger, silentLogger } from "../../src/runtime.ts";
import type { BatchContext, BatchOutput, ImageRef, ImageResultRecord } from "../../src/shapes.ts";
import { FakeClock } from "../support/fake-clock.ts";

const s3Mock = mockClient(S3Client);
const rekognitionMock = mockClient(RekognitionClient);
const s3 = new S3Client({ region: "us-east-1" });
const rekognition = new RekognitionClient({ region: "us-east-1", maxAttempts: 1 });

const ARN = "arn:aws:rekognition:us-east-1:111122223333:project/p/version/v1/1700000000000";

function context(overrides: Partial<BatchContext> = {}): BatchContext {
  return {
    runId: "run-1",
    projectVersionArn: ARN,
    imagesBucket: "images",
    resultsBucket: "results",
    resultsPrefix: "out/",
    imageMode: "S3Object",
    minConfidence: 50,
    maxResults: 10,
    perWorkerTps: 20,
    concurrency: 2,
    ...overrides,
  };
}

function image(key: string, size = 1000): ImageRef {
  return { key, size, etag: `"${key}-etag"`, lastModified: "2026-01-01T00:00:00.000Z" };
}

function awsError(name: string, status = 400) {
  return Object.assign(new Error(`${name} message`), {
    name,
    $fault: status >= 500 ? "server" : "client",
    $metadata: { httpStatusCode: status },
  });
}

/** A GetObject body as the SDK returns it, for the parts we use. */
function body(content: string | Uint8Array) {
  const bytes = typeof content === "string" ? Buffer.from(content) : content;
  return {
    transformToByteArray: async () => new Uint8Array(bytes),
    transformToString: async () => Buffer.from(bytes).toString("utf-8"),
  } as never;
}

/** Labels named after the image, so results can be traced to their image. */
function labelsFor(input: DetectCustomLabelsCommandInput) {
  const name = input.Image?.S3Object?.Name ?? "bytes";
  const colour = name.split("-")[0] ?? "none";
  return { CustomLabels: [{ Name: colour, Confidence: 90 }] };
}

/** The ledger writes (the batch's result part is written too, and read by `writtenPartLines`). */
function ledgerPuts(): PutObjectCommandInput[] {
  return s3Mock
    .commandCalls(PutObjectCommand)
    .map((call) => call.args[0].input as PutObjectCommandInput)
    .filter((input) => (input.Key as string).startsWith(resultsFolder("out/")));
}

/** The ledger look-ups (HeadObject of an image's result key). */
function ledgerHeads(): string[] {
  return s3Mock
    .commandCalls(HeadObjectCommand)
    .map((call) => call.args[0].input.Key as string)
    .filter((key) => key.startsWith(resultsFolder("out/")));
}

/** As after an earlier attempt of the batch whose first image is `firstImageKey`: its mark is there. */
function markStarted(firstImageKey: string) {
  s3Mock
    .on(HeadObjectCommand, { Key: batchMarkKey("out/", "run-1", firstImageKey) })
    .resolves({ ContentLength: firstImageKey.length });
}

function isPartKey(key: string): boolean {
  return key.startsWith("out/runs/") && key.endsWith(".jsonl.gz");
}

/** Every part put so far, by key, as its lines (the last put of a key wins, as in S3). */
function writtenParts(): Map<string, PartLine[]> {
  const parts = new Map<string, PartLine[]>();
  for (const call of s3Mock.commandCalls(PutObjectCommand)) {
    const input = call.args[0].input as PutObjectCommandInput;
    if (!isPartKey(input.Key as string)) continue;
    const text = gunzipSync(input.Body as Uint8Array).toString("utf8");
    parts.set(
      input.Key as string,
      text
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => partLineSchema.parse(JSON.parse(line))),
    );
  }
  return parts;
}

function writtenRecords(): Map<string, ImageResultRecord> {
  const records = new Map<string, ImageResultRecord>();
  for (const input of ledgerPuts()) {
    records.set(input.Key as string, JSON.parse(input.Body as string));
  }
  return records;
}

function detectCalls() {
  return rekognitionMock.commandCalls(DetectCustomLabelsCommand).map((c) => c.args[0].input);
}

function recordingLogger(lines: string[]): Logger {
  const write = (level: string) => (message: string, fields?: object) =>
    lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}

/** Runs a batch on the fake clock, moving time until it settles. */
async function run(
  clock: FakeClock,
  options: Partial<ProcessBatchOptions> & Pick<ProcessBatchOptions, "event">,
): Promise<BatchOutput> {
  let settled = false;
  const promise = processBatch({
    rekognition,
    s3,
    clock,
    logger: silentLogger,
    random: () => 0.5,
    rateController: new AdaptiveRateController({ plannedTps: 20, clock }),
    ...options,
  }).finally(() => {
    settled = true;
  });
  promise.catch(() => {});
  await clock.advanceUntil(() => settled, 50);
  return promise;
}

let clock: FakeClock;

beforeEach(() => {
  clock = new FakeClock();
  s3Mock.reset();
  rekognitionMock.reset();
  s3Mock.on(HeadObjectCommand).rejects(awsError("NotFound", 404));
  s3Mock.on(PutObjectCommand).resolves({});
  rekognitionMock.on(DetectCustomLabelsCommand).callsFake(labelsFor);
});

afterEach(() => {
  s3Mock.reset();
  rekognitionMock.reset();
});

describe("processBatch", () => {
  it("a first attempt marks the batch and looks none of its images up in the ledger", async () => {
    const items = [image("red-1.jpg"), image("red-2.jpg"), image("blue-1.png")];
    const output = await run(clock, { event: { BatchInput: context(), Items: items } });

    expect(output).toMatchObject({ succeeded: 3, resumed: 0 });
    expect(ledgerHeads()).toEqual([]);
    const mark = batchMarkKey("out/", "run-1", "red-1.jpg");
    const marks = s3Mock
      .commandCalls(PutObjectCommand)
      .filter((call) => call.args[0].input.Key === mark);
    expect(marks).toHaveLength(1);
    expect(marks[0]?.args[0].input.Bucket).toBe("results");
  });

  it("a later attempt (the mark is there) looks every image up in the ledger", async () => {
    const items = [image("red-1.jpg"), image("red-2.jpg"), image("blue-1.png")];
    markStarted("red-1.jpg");
    const output = await run(clock, { event: { BatchInput: context(), Items: items } });

    expect(output).toMatchObject({ succeeded: 3, resumed: 0 });
    expect(ledgerHeads().sort()).toEqual(
      items.map((item) => resultKeyFor("out/", item.key)).sort(),
    );
  });

  it("when the mark cannot be read, every image is looked up in the ledger", async () => {
    const items = [image("red-1.jpg"), image("blue-1.png")];
    s3Mock
      .on(HeadObjectCommand, { Key: batchMarkKey("out/", "run-1", "red-1.jpg") })
      .rejects(awsError("InternalError", 500));
    const output = await run(clock, { event: { BatchInput: context(), Items: items } });

    expect(output).toMatchObject({ succeeded: 2 });
    expect(ledgerHeads()).toHaveLength(2);
  });

  it("analyses every image by S3 reference and writes one record per image", async () => {
    const items = [image("red-1.jpg"), image("red-2.jpg"), image("blue-1.png")];
    const output = await run(clock, { event: { BatchInput: context(), Items: items } });

    expect(output).toMatchObject({
      runId: "run-1",
      items: 3,
      succeeded: 3,
      failed: 0,
      resumed: 0,
      failures: [],
      labels: { red: 2, blue: 1 },
      calls: 3,
      throttled: 0,
      retried: 0,
    });
    expect(output.timeline.reduce((sum, p) => sum + p.accepted, 0)).toBe(3);
    expect(detectCalls()[0]).toEqual({
      ProjectVersionArn: ARN,
      Image: { S3Object: { Bucket: "images", Name: "red-1.jpg" } },
      MinConfidence: 50,
      MaxResults: 10,
    });
    const records = writtenRecords();
    const record = records.get(resultKeyFor("out/", "blue-1.png"));
    expect(record).toMatchObject({
      status: "succeeded",
      image: { bucket: "images", key: "blue-1.png", etag: '"blue-1.png-etag"', size: 1000 },
      projectVersionArn: ARN,
      labels: [{ Name: "blue", Confidence: 90 }],
      runId: "run-1",
      attempts: 1,
    });
    const put = ledgerPuts()[0] as PutObjectCommandInput;
    expect(put.Bucket).toBe("results");
    expect(put.Metadata?.[RESULT_METADATA.imageLastModified]).toBe("2026-01-01T00:00:00.000Z");
  });

  it("records a permanent error as a failed image and carries on", async () => {
    rekognitionMock
      .on(DetectCustomLabelsCommand, { Image: { S3Object: { Bucket: "images", Name: "bad.jpg" } } })
      .rejects(awsError("InvalidImageFormatException"));
    const items = [image("red-1.jpg"), image("bad.jpg"), image("green-1.jpg")];
    const output = await run(clock, { event: { BatchInput: context(), Items: items } });

    expect(output).toMatchObject({ items: 3, succeeded: 2, failed: 1, calls: 3, retried: 0 });
    expect(output.failures).toEqual([
      {
        key: "bad.jpg",
        error: "InvalidImageFormatException",
        message: "InvalidImageFormatException message",
      },
    ]);
    expect(writtenRecords().get(resultKeyFor("out/", "bad.jpg"))).toMatchObject({
      status: "failed",
      labels: [],
      error: {
        name: "InvalidImageFormatException",
        message: "InvalidImageFormatException message",
      },
      attempts: 1,
    });
  });

  it("retries throttled and failing calls, and tells the rate controller about throttles", async () => {
    rekognitionMock
      .on(DetectCustomLabelsCommand)
      .rejectsOnce(awsError("ProvisionedThroughputExceededException"))
      .rejectsOnce(awsError("InternalServerError", 500))
      .rejectsOnce(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }))
      .callsFake(labelsFor);
    // The ordinary cut (0.8), not a fresh controller's first-throttle estimate.
    const rate = new AdaptiveRateController({ plannedTps: 20, clock, modelBurstSeconds: 0 });
    const output = await run(clock, {
      event: { BatchInput: context({ concurrency: 1 }), Items: [image("red-1.jpg")] },
      rateController: rate,
    });

    expect(output).toMatchObject({ succeeded: 1, calls: 4, throttled: 1, retried: 3 });
    expect(output.timeline.reduce((sum, p) => sum + p.throttled, 0)).toBe(1);
    expect(output.timeline.reduce((sum, p) => sum + p.accepted, 0)).toBe(3);
    expect(writtenRecords().get(resultKeyFor("out/", "red-1.jpg"))?.attempts).toBe(4);
    expect(rate.stats()).toMatchObject({ throttles: 1, cuts: 1, rateTps: 16 });
  });

  it("paces its calls through any RateController, not only the adaptive one", async () => {
    rekognitionMock
      .on(DetectCustomLabelsCommand)
      .rejectsOnce(awsError("ProvisionedThroughputExceededException"))
      .callsFake(labelsFor);
    const acquired: number[] = [];
    const throttledGrants: (number | undefined)[] = [];
    const rate: RateController = {
      acquire: async () => {
        acquired.push(clock.now());
        return acquired.length;
      },
      onThrottle: (grantedAt) => throttledGrants.push(grantedAt),
      stats: () => ({ plannedTps: 1, rateTps: 1, granted: acquired.length, throttles: 0 }),
    };
    const output = await run(clock, {
      event: { BatchInput: context({ concurrency: 1 }), Items: [image("red-1.jpg")] },
      rateController: rate,
    });

    expect(output).toMatchObject({ succeeded: 1, calls: 2, throttled: 1 });
    expect(acquired).toHaveLength(2);
    expect(throttledGrants).toEqual([1]);
  });

  it("fails fast with ModelNotReady on a stopped model, after writing what it finished", async () => {
    rekognitionMock
      .on(DetectCustomLabelsCommand)
      .callsFakeOnce(labelsFor)
      .callsFakeOnce(labelsFor)
      .rejects(awsError("ResourceNotReadyException"));
    const items = ["a", "b", "c", "d", "e", "f"].map((k) => image(`red-${k}.jpg`));
    const lines: string[] = [];
    const error = await run(clock, {
      event: { BatchInput: context({ concurrency: 1 }), Items: items },
      logger: recordingLogger(lines),
    }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ModelNotReadyError);
    expect((error as Error).name).toBe("ModelNotReady");
    expect((error as Error).message).toMatch(/2 of 6 images done, 4 left/);
    // Not retried: the third call was the last one.
    expect(detectCalls()).toHaveLength(3);
    expect([...writtenRecords().keys()]).toEqual([
      resultKeyFor("out/", "red-a.jpg"),
      resultKeyFor("out/", "red-b.jpg"),
    ]);
    expect(lines.some((l) => l.startsWith("error fatal error"))).toBe(true);
  });

  it("does not call Rekognition for images an earlier attempt finished, and folds them in", async () => {
    const done = image("red-done.jpg");
    const previous: ImageResultRecord = {
      status: "succeeded",
      image: { bucket: "images", ...done },
      projectVersionArn: ARN,
      labels: [{ Name: "red", Confidence: 99 }],
      analyzedAt: "2026-01-05T05:00:00.000Z",
      runId: "run-1",
      attempts: 1,
    };
    const poisoned = image("bad-done.jpg");
    const previousFailure: ImageResultRecord = {
      ...previous,
      status: "failed",
      image: { bucket: "images", ...poisoned },
      labels: [],
      error: { name: "InvalidImageFormatException", message: "not an image" },
    };
    const stale = image("blue-stale.jpg");
    const current = (ref: ImageRef, status: string) => ({
      Metadata: {
        [RESULT_METADATA.imageEtag]: ref.etag.replaceAll('"', ""),
        [RESULT_METADATA.status]: status,
      },
    });
    // An earlier attempt of this batch ran: it marked the batch and wrote some results.
    markStarted(done.key);
    s3Mock
      .on(HeadObjectCommand, { Key: resultKeyFor("out/", done.key) })
      .resolves(current(done, "succeeded"))
      .on(HeadObjectCommand, { Key: resultKeyFor("out/", poisoned.key) })
      .resolves(current(poisoned, "failed"))
      // A result for another version of the image (written later or not): redone.
      .on(HeadObjectCommand, { Key: resultKeyFor("out/", stale.key) })
      .resolves(current({ ...stale, etag: '"older-etag"' }, "succeeded"))
      .on(GetObjectCommand, { Key: resultKeyFor("out/", done.key) })
      .resolves({ Body: body(JSON.stringify(previous)) })
      .on(GetObjectCommand, { Key: resultKeyFor("out/", poisoned.key) })
      .resolves({ Body: body(JSON.stringify(previousFailure)) });

    const output = await run(clock, {
      event: { BatchInput: context(), Items: [done, poisoned, stale, image("green-new.jpg")] },
    });

    expect(output).toMatchObject({
      items: 4,
      succeeded: 3,
      failed: 1,
      resumed: 2,
      calls: 2,
      labels: { red: 1, blue: 1, green: 1 },
      failures: [{ key: "bad-done.jpg", error: "InvalidImageFormatException" }],
    });
    expect(detectCalls().map((c) => c.Image?.S3Object?.Name)).toEqual([
      "blue-stale.jpg",
      "green-new.jpg",
    ]);
    expect([...writtenRecords().keys()]).toHaveLength(2);
  });

  it("Bytes mode: reads the object and sends its bytes; refuses images over 4 MB without a call", async () => {
    const pixels = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);
    s3Mock.on(GetObjectCommand, { Bucket: "images", Key: "red-1.jpg" }).resolves({
      Body: body(pixels),
    });
    const items = [image("red-1.jpg", pixels.byteLength), image("huge.jpg", MAX_IMAGE_BYTES + 1)];
    const output = await run(clock, {
      event: { BatchInput: context({ imageMode: "Bytes" }), Items: items },
    });

    expect(output).toMatchObject({ succeeded: 1, failed: 1, calls: 1 });
    expect(detectCalls()).toHaveLength(1);
    expect(detectCalls()[0]?.Image).toEqual({ Bytes: pixels });
    expect(s3Mock.commandCalls(GetObjectCommand, { Key: "huge.jpg" })).toHaveLength(0);
    expect(output.failures[0]).toMatchObject({ key: "huge.jpg", error: "ImageTooLargeException" });
    expect(writtenRecords().get(resultKeyFor("out/", "huge.jpg"))).toMatchObject({
      status: "failed",
      attempts: 0,
    });
  });

  it("Bytes mode: records the version GetObject returned, not the one listed", async () => {
    const pixels = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 9]);
    s3Mock.on(GetObjectCommand, { Bucket: "images", Key: "red-1.jpg" }).resolves({
      Body: body(pixels),
      ETag: '"replaced-since-listing"',
      LastModified: new Date("2026-01-03T00:00:00.000Z"),
    });
    await run(clock, {
      event: { BatchInput: context({ imageMode: "Bytes" }), Items: [image("red-1.jpg", 5)] },
    });
    const record = writtenRecords().get(resultKeyFor("out/", "red-1.jpg"));
    expect(record?.image).toMatchObject({
      etag: '"replaced-since-listing"',
      lastModified: "2026-01-03T00:00:00.000Z",
      size: 5,
    });
    expect(record?.schemaVersion).toBe(2);
    const put = ledgerPuts()[0] as PutObjectCommandInput;
    expect(put.Metadata?.[RESULT_METADATA.imageEtag]).toBe("replaced-since-listing");
  });

  it.each([
    ["S3 AccessDenied on the image (Bytes)", "Bytes", () => awsError("AccessDenied", 403)],
    ["a KMS refusal on the image (Bytes)", "Bytes", () => awsError("KMS.DisabledException", 400)],
    ["the image gone (Bytes)", "Bytes", () => awsError("NoSuchKey", 404)],
    ["InvalidS3ObjectException (S3Object)", "S3Object", () => awsError("InvalidS3ObjectException")],
  ] as const)(
    "%s: tried again within the run, then recorded unreadable, and the batch goes on",
    async (_name, mode, makeError) => {
      const error = makeError();
      if (mode === "Bytes") {
        s3Mock.on(GetObjectCommand, { Bucket: "images", Key: "red-1.jpg" }).rejects(error);
        s3Mock.on(GetObjectCommand, { Bucket: "images", Key: "blue-2.jpg" }).resolves({
          Body: body(new Uint8Array([1, 2, 3])),
        });
      } else {
        rekognitionMock
          .on(DetectCustomLabelsCommand, {
            Image: { S3Object: { Bucket: "images", Name: "red-1.jpg" } },
          })
          .rejects(error);
      }
      const output = await run(clock, {
        event: {
          BatchInput: context({ imageMode: mode }),
          Items: [image("red-1.jpg", 3), image("blue-2.jpg", 3)],
        },
      });
      expect(output).toMatchObject({ items: 2, succeeded: 1, failed: 0, unreadable: 1 });
      const record = writtenRecords().get(resultKeyFor("out/", "red-1.jpg"));
      expect(record?.status).toBe("unreadable");
      expect(record?.error?.name).toBeTruthy();
      const tries =
        mode === "Bytes"
          ? s3Mock.commandCalls(GetObjectCommand, { Key: "red-1.jpg" }).length
          : detectCalls().filter((c) => c.Image?.S3Object?.Name === "red-1.jpg").length;
      expect(tries).toBe(UNREADABLE_MAX_ATTEMPTS);
    },
  );

  it("on abort stops taking items, writes the in-flight results, then throws BatchIncomplete", async () => {
    const controller = new AbortController();
    let release: (() => void) | undefined;
    let started = 0;
    rekognitionMock.on(DetectCustomLabelsCommand).callsFake(async (input) => {
      started += 1;
      if (started === 3) {
        // The third call is in flight when the abort comes.
        controller.abort(new Error("timeout near"));
        await new Promise<void>((resolve) => {
          release = resolve;
        });
      }
      return labelsFor(input);
    });
    const items = ["a", "b", "c", "d", "e", "f", "g"].map((k) => image(`red-${k}.jpg`));
    let settled = false;
    const promise = processBatch({
      event: { BatchInput: context({ concurrency: 1 }), Items: items },
      rekognition,
      s3,
      clock,
      logger: silentLogger,
      signal: controller.signal,
      rateController: new AdaptiveRateController({ plannedTps: 20, clock }),
    }).finally(() => {
      settled = true;
    });
    promise.catch(() => {});
    await clock.advanceUntil(() => release !== undefined, 50);
    expect(settled).toBe(false);
    release?.();
    await clock.advanceUntil(() => settled, 50);

    const error = await promise.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BatchIncompleteError);
    expect((error as Error).message).toMatch(/3 of 7 images done, 4 left/);
    expect(detectCalls()).toHaveLength(3);
    expect(writtenRecords().size).toBe(3);
  });

  it("leaves an image undone (no record) when an unknown error persists, and says so", async () => {
    rekognitionMock
      .on(DetectCustomLabelsCommand, { Image: { S3Object: { Bucket: "images", Name: "odd.jpg" } } })
      .rejects(awsError("BrandNewException"));
    const items = [image("odd.jpg"), image("red-1.jpg")];
    const error = await run(clock, { event: { BatchInput: context(), Items: items } }).catch(
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as Error).message).toMatch(/1 of 2 images done, 1 left/);
    expect(detectCalls().filter((c) => c.Image?.S3Object?.Name === "odd.jpg")).toHaveLength(3);
    expect([...writtenRecords().keys()]).toEqual([resultKeyFor("out/", "red-1.jpg")]);
  });

  it("never logs image bytes", async () => {
    const pixels = new Uint8Array(64).fill(7);
    s3Mock.on(GetObjectCommand).resolves({ Body: body(pixels) });
    rekognitionMock.on(DetectCustomLabelsCommand).rejects(awsError("InvalidImageFormatException"));
    const lines: string[] = [];
    await run(clock, {
      event: { BatchInput: context({ imageMode: "Bytes" }), Items: [image("x.jpg", 64)] },
      logger: recordingLogger(lines),
    });
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join("\n")).not.toMatch(/7,7,7|"Bytes"/);
  });

  it("auto-scaling: throttles while units are added cost no retry budget and fail nothing", async () => {
    // Twelve throttles in a row for one image, more than the ten attempts a
    // retry policy allows: with the Lambda's deadline they are paced, not counted.
    let throttles = 12;
    rekognitionMock.on(DetectCustomLabelsCommand).callsFake((input) => {
      if (throttles > 0) {
        throttles -= 1;
        throw awsError("ProvisionedThroughputExceededException");
      }
      return labelsFor(input);
    });
    const output = await run(clock, {
      event: {
        BatchInput: context({ concurrency: 2, perWorkerTps: 5, ceilingTps: 20 }),
        Items: [image("red-1.jpg"), image("blue-2.jpg")],
      },
      rateController: undefined,
      deadline: clock.now() + 600_000,
    });
    expect(output).toMatchObject({ succeeded: 2, failed: 0, throttled: 12 });
  });

  it("rejects a ceilingTps below perWorkerTps, naming the field", async () => {
    await expect(
      processBatch({
        event: { BatchInput: context({ perWorkerTps: 5, ceilingTps: 2 }), Items: [] },
        rekognition,
        s3,
        clock,
        logger: silentLogger,
      }),
    ).rejects.toThrow(/BatchInput\.ceilingTps/);
  });

  it("rejects a batch context with a bad concurrency, naming the field", async () => {
    await expect(
      processBatch({
        event: { BatchInput: context({ concurrency: 0 }), Items: [] },
        rekognition,
        s3,
        clock,
        logger: silentLogger,
      }),
    ).rejects.toThrow(/BatchInput\.concurrency/);
  });
});

/** S3 as a key-value store: puts are kept, heads and gets answer from them (a batch retried for real). */
function statefulS3(): Map<string, PutObjectCommandInput> {
  const objects = new Map<string, PutObjectCommandInput>();
  s3Mock.on(PutObjectCommand).callsFake((input: PutObjectCommandInput) => {
    objects.set(input.Key as string, input);
    return {};
  });
  s3Mock.on(HeadObjectCommand).callsFake((input: { Key: string }) => {
    const object = objects.get(input.Key);
    if (!object) throw awsError("NotFound", 404);
    return { Metadata: object.Metadata, ContentLength: String(object.Body).length };
  });
  s3Mock.on(GetObjectCommand).callsFake((input: { Key: string }) => {
    const object = objects.get(input.Key);
    if (!object) throw awsError("NoSuchKey", 404);
    return { Body: body(object.Body as string) };
  });
  return objects;
}

describe("processBatch: the batch's result part", () => {
  it("writes one line per finished image, in the Athena table's shape, named after the batch", async () => {
    rekognitionMock
      .on(DetectCustomLabelsCommand, { Image: { S3Object: { Bucket: "images", Name: "bad.jpg" } } })
      .rejects(awsError("InvalidImageFormatException"));
    rekognitionMock
      .on(DetectCustomLabelsCommand, {
        Image: { S3Object: { Bucket: "images", Name: "red-box.jpg" } },
      })
      .resolves({
        CustomLabels: [
          {
            Name: "red",
            Confidence: 97.5,
            Geometry: { BoundingBox: { Width: 0.5, Height: 0.25, Left: 0.1, Top: 0.2 } },
          },
        ],
      });
    const items = [image("red-box.jpg"), image("bad.jpg"), image("blue-1.png")];
    await run(clock, { event: { BatchInput: context(), Items: items } });

    const parts = writtenParts();
    expect([...parts.keys()]).toEqual([partKeyFor("out/", "run-1", "red-box.jpg")]);
    expect(partKeyFor("out/", "run-1", "red-box.jpg")).toMatch(
      /^out\/runs\/run-1\/results\/part-[0-9a-f]{32}\.jsonl\.gz$/,
    );
    const lines = new Map((parts.values().next().value ?? []).map((line) => [line.key, line]));
    expect([...lines.keys()].sort()).toEqual(["bad.jpg", "blue-1.png", "red-box.jpg"]);
    expect(lines.get("red-box.jpg")).toEqual({
      schema_version: 1,
      key: "red-box.jpg",
      etag: '"red-box.jpg-etag"',
      status: "succeeded",
      labels: [
        {
          name: "red",
          confidence: 97.5,
          geometry: { bounding_box: { width: 0.5, height: 0.25, left: 0.1, top: 0.2 } },
        },
      ],
      error: null,
      analyzed_at: expect.any(String),
      model_version: ARN,
    });
    expect(lines.get("blue-1.png")?.labels).toEqual([
      { name: "blue", confidence: 90, geometry: null },
    ]);
    expect(lines.get("bad.jpg")).toMatchObject({
      status: "failed",
      labels: [],
      error: {
        name: "InvalidImageFormatException",
        message: "InvalidImageFormatException message",
      },
    });
  });

  it("a retried batch rewrites its own part: every image once, none twice", async () => {
    const objects = statefulS3();
    const items = ["a", "b", "c", "d", "e", "f", "g"].map((k) => image(`red-${k}.jpg`));
    const event = { BatchInput: context({ concurrency: 1 }), Items: items };
    // The first attempt stops early (its time is up) after three images.
    const controller = new AbortController();
    let calls = 0;
    rekognitionMock.on(DetectCustomLabelsCommand).callsFake((input) => {
      calls += 1;
      if (calls === 3) controller.abort(new Error("timeout near"));
      return labelsFor(input);
    });
    const first = await run(clock, { event, signal: controller.signal }).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(BatchIncompleteError);
    const partKey = partKeyFor("out/", "run-1", "red-a.jpg");
    expect(
      writtenParts()
        .get(partKey)
        ?.map((l) => l.key),
    ).toEqual(["red-a.jpg", "red-b.jpg", "red-c.jpg"]);

    // The retry: same event, the first three resumed from the ledger.
    const second = await run(clock, { event });
    expect(second).toMatchObject({ items: 7, succeeded: 7, resumed: 3 });
    const partKeys = [...objects.keys()].filter(isPartKey);
    expect(partKeys).toEqual([partKey]);
    const keys = (writtenParts().get(partKey) ?? []).map((line) => line.key);
    expect(keys).toHaveLength(7);
    expect(new Set(keys)).toEqual(new Set(items.map((i) => i.key)));
  });

  it("a part that cannot be written fails the batch with a name its Retry knows, after the ledger", async () => {
    s3Mock
      .on(PutObjectCommand, { Key: partKeyFor("out/", "run-1", "red-1.jpg") })
      .rejects(awsError("InternalError", 500));
    const items = [image("red-1.jpg"), image("red-2.jpg")];
    const error = await run(clock, {
      event: { BatchInput: context(), Items: items },
      retryPolicy: { maxAttempts: 2 },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as Error).message).toMatch(/result part/);
    expect(writtenRecords().size).toBe(2);
  });
});
