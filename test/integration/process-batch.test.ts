import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DescribeProjectVersionsCommand,
  DetectCustomLabelsCommand,
  RekognitionClient,
  StartProjectVersionCommand,
} from "@aws-sdk/client-rekognition";
import {
  ListObjectsV2Command,
  PutObjectCommand,
  paginateListObjectsV2,
  S3Client,
} from "@aws-sdk/client-s3";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../harness/local/emulator/index.ts";
import {
  type EmbeddedS3,
  LOCAL_REGION,
  localS3ClientConfig,
  startS3Server,
} from "../../harness/local/s3-server.ts";
import { AdaptiveRateController } from "../../src/adaptive-rate-controller.ts";
import { BatchIncompleteError, ModelNotReadyError } from "../../src/errors.ts";
import { processBatch } from "../../src/process-batch.ts";
import { resultsFolder } from "../../src/result-keys.ts";
import { silentLogger, systemClock } from "../../src/runtime.ts";
import type { BatchContext, ImageRef } from "../../src/shapes.ts";

// Low enough that even a busy machine sends faster than one unit serves.
const TPS_PER_UNIT = 4;
const THROTTLE_IMAGES = 30;
const COLOURS = { red: "#ff0000", green: "#00ff00", blue: "#0000ff" } as const;
type Colour = keyof typeof COLOURS;

let dataDir: string;
let s3Server: EmbeddedS3;
let emulator: Emulator;
let s3: S3Client;

/** Polls `condition` until it holds; fails after `timeoutMs`. */
async function waitFor<T>(condition: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A Rekognition client that counts the DetectCustomLabels calls it sends. */
function countingRekognition(onCall?: (count: number) => void) {
  const client = new RekognitionClient({
    endpoint: emulator.endpoint,
    region: LOCAL_REGION,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 1,
  });
  const counter = { detectCalls: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === DetectCustomLabelsCommand.name) {
        counter.detectCalls += 1;
        onCall?.(counter.detectCalls);
      }
      return next(args);
    },
    { step: "initialize", name: "countDetectCalls" },
  );
  return { client, counter };
}

const started = new Map<string, string>();

/** Declares a model version and starts it with `units`, waiting until it is RUNNING (once per version). */
async function runningModel(version: string, units: number): Promise<string> {
  const known = started.get(version);
  if (known) return known;
  const { projectArn, projectVersionArn } = emulator.admin.declareModel({
    project: "colours",
    version,
    feature: "CLASSIFICATION",
  });
  const { client } = countingRekognition();
  await client.send(
    new StartProjectVersionCommand({
      ProjectVersionArn: projectVersionArn,
      MinInferenceUnits: units,
    }),
  );
  await waitFor(async () => {
    const { ProjectVersionDescriptions = [] } = await client.send(
      new DescribeProjectVersionsCommand({ ProjectArn: projectArn, VersionNames: [version] }),
    );
    return ProjectVersionDescriptions[0]?.Status === "RUNNING" ? true : undefined;
  }, 20_000);
  client.destroy();
  started.set(version, projectVersionArn);
  return projectVersionArn;
}

async function putImage(key: string, colour: Colour): Promise<void> {
  const image = sharp({
    create: { width: 64, height: 64, channels: 3, background: COLOURS[colour] },
  });
  const body = key.endsWith(".png") ? await image.png().toBuffer() : await image.jpeg().toBuffer();
  await s3.send(new PutObjectCommand({ Bucket: "images", Key: key, Body: body }));
}

/** The images under `prefix`, as the plan lists them. */
async function listImages(prefix: string): Promise<ImageRef[]> {
  const images: ImageRef[] = [];
  for await (const page of paginateListObjectsV2(
    { client: s3 },
    { Bucket: "images", Prefix: prefix },
  )) {
    for (const object of page.Contents ?? []) {
      images.push({
        key: object.Key ?? "",
        size: object.Size ?? 0,
        etag: object.ETag ?? "",
        lastModified: (object.LastModified ?? new Date(0)).toISOString(),
      });
    }
  }
  return images;
}

async function countResults(resultsPrefix: string): Promise<number> {
  const { KeyCount = 0 } = await s3.send(
    new ListObjectsV2Command({ Bucket: "results", Prefix: resultsFolder(resultsPrefix) }),
  );
  return KeyCount;
}

function context(projectVersionArn: string, overrides: Partial<BatchContext>): BatchContext {
  return {
    runId: "run-it",
    projectVersionArn,
    imagesBucket: "images",
    resultsBucket: "results",
    resultsPrefix: "out/",
    imageMode: "S3Object",
    perWorkerTps: TPS_PER_UNIT,
    concurrency: 4,
    ...overrides,
  };
}

/** Calls the emulator saw for one model version (accepted and throttled). */
function emulatorCalls(arn: string): { accepted: number; throttled: number } {
  return emulator.admin.timeline(arn).reduce(
    (sum, second) => ({
      accepted: sum.accepted + second.accepted,
      throttled: sum.throttled + second.throttled,
    }),
    { accepted: 0, throttled: 0 },
  );
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "process-batch-it-"));
  s3Server = await startS3Server({ directory: dataDir, buckets: ["images", "results"] });
  s3 = new S3Client(localS3ClientConfig(s3Server.endpoint));
  emulator = await startEmulator({
    port: 0,
    tpsPerUnit: TPS_PER_UNIT,
    latencyMs: 40,
    latencyJitterMs: 20,
    startDelayMs: 200,
    s3Endpoint: s3Server.endpoint,
  });
});

afterAll(async () => {
  await emulator?.close();
  s3?.destroy();
  await s3Server?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe("processBatch against the emulator and the embedded S3", () => {
  it("finishes every image under throttling (1 unit, worker starting at twice its TPS)", async () => {
    const arn = await runningModel("throttled", 1);
    const colours: Colour[] = ["red", "green", "blue"];
    for (let i = 0; i < THROTTLE_IMAGES; i += 1) {
      await putImage(`throttle/img-${i}.${i % 2 ? "png" : "jpg"}`, colours[i % 3] as Colour);
    }
    const items = await listImages("throttle/");
    const { client } = countingRekognition();
    const rate = new AdaptiveRateController({ plannedTps: 2 * TPS_PER_UNIT, clock: systemClock });

    const startedAt = Date.now();
    const output = await processBatch({
      event: {
        BatchInput: context(arn, {
          resultsPrefix: "throttle-out/",
          perWorkerTps: 2 * TPS_PER_UNIT,
          // Enough in flight that the rate, not S3 round trips, is the limit.
          concurrency: 16,
        }),
        Items: items,
      },
      rekognition: client,
      s3,
      clock: systemClock,
      logger: silentLogger,
      rateController: rate,
    });

    const seconds = (Date.now() - startedAt) / 1000;
    const ratio = output.throttled / output.calls;
    console.log(
      `throttling: ${output.throttled} of ${output.calls} calls throttled (${(ratio * 100).toFixed(1)} %), ${(THROTTLE_IMAGES / seconds).toFixed(1)} images/s against ${TPS_PER_UNIT} TPS provisioned, rate now ${rate.stats().rateTps.toFixed(2)} TPS after ${rate.stats().cuts} cuts and ${rate.stats().probes} probes`,
    );
    expect(output).toMatchObject({
      items: THROTTLE_IMAGES,
      succeeded: THROTTLE_IMAGES,
      failed: 0,
    });
    expect(output.labels).toEqual({ red: 10, green: 10, blue: 10 });
    expect(output.throttled).toBeGreaterThan(0);
    expect(rate.stats().cuts).toBeGreaterThan(0);
    expect(output.calls).toBe(THROTTLE_IMAGES + output.throttled);
    expect(emulatorCalls(arn)).toEqual({ accepted: THROTTLE_IMAGES, throttled: output.throttled });
    expect(await countResults("throttle-out/")).toBe(THROTTLE_IMAGES);
    client.destroy();
  });

  it("records a permanent error (a text file named .jpg) and carries on; a second run calls nothing", async () => {
    const arn = await runningModel("main", 2);
    for (let i = 0; i < 6; i += 1) await putImage(`mixed/red-${i}.jpg`, "red");
    await s3.send(
      new PutObjectCommand({ Bucket: "images", Key: "mixed/notes.jpg", Body: "just some text" }),
    );
    const items = await listImages("mixed/");
    const { client, counter } = countingRekognition();
    const batch = {
      BatchInput: context(arn, { resultsPrefix: "mixed-out/" }),
      Items: items,
    };
    const run = () =>
      processBatch({
        event: batch,
        rekognition: client,
        s3,
        clock: systemClock,
        logger: silentLogger,
        rateController: new AdaptiveRateController({
          plannedTps: TPS_PER_UNIT,
          clock: systemClock,
        }),
      });

    const first = await run();
    expect(first).toMatchObject({
      items: 7,
      succeeded: 6,
      failed: 1,
      resumed: 0,
      labels: { red: 6 },
    });
    expect(first.failures).toEqual([
      expect.objectContaining({ key: "mixed/notes.jpg", error: "InvalidImageFormatException" }),
    ]);
    expect(counter.detectCalls).toBe(7);

    const second = await run();
    expect(counter.detectCalls).toBe(7);
    expect(second).toMatchObject({
      items: 7,
      succeeded: 6,
      failed: 1,
      resumed: 7,
      calls: 0,
      labels: { red: 6 },
    });
    client.destroy();
  });

  it("Bytes mode sends the image bytes and gets the same labels", async () => {
    const arn = await runningModel("main", 2);
    await putImage("bytes/green-0.png", "green");
    await putImage("bytes/blue-0.jpg", "blue");
    const { client, counter } = countingRekognition();
    const output = await processBatch({
      event: {
        BatchInput: context(arn, { resultsPrefix: "bytes-out/", imageMode: "Bytes" }),
        Items: await listImages("bytes/"),
      },
      rekognition: client,
      s3,
      clock: systemClock,
      logger: silentLogger,
      rateController: new AdaptiveRateController({ plannedTps: TPS_PER_UNIT, clock: systemClock }),
    });
    expect(output).toMatchObject({ succeeded: 2, failed: 0, labels: { green: 1, blue: 1 } });
    expect(counter.detectCalls).toBe(2);
    client.destroy();
  });

  it("retries server errors and dropped connections until every image is done", async () => {
    const arn = await runningModel("flaky", 2);
    for (let i = 0; i < 20; i += 1) await putImage(`flaky/red-${i}.png`, "red");
    emulator.admin.setErrorRate(arn, 0.2);
    emulator.admin.setDropRate(arn, 0.15);
    const { client, counter } = countingRekognition();
    try {
      const output = await processBatch({
        event: {
          BatchInput: context(arn, { resultsPrefix: "flaky-out/" }),
          Items: await listImages("flaky/"),
        },
        rekognition: client,
        s3,
        clock: systemClock,
        logger: silentLogger,
        rateController: new AdaptiveRateController({
          plannedTps: TPS_PER_UNIT,
          clock: systemClock,
        }),
      });
      expect(output).toMatchObject({ items: 20, succeeded: 20, failed: 0, labels: { red: 20 } });
      expect(output.retried).toBeGreaterThan(0);
      expect(output.calls).toBe(20 + output.retried);
      expect(counter.detectCalls).toBe(output.calls);
    } finally {
      emulator.admin.clearFaults(arn);
      client.destroy();
    }
  });

  it("fails fast with ModelNotReady when the model is stopped mid-batch", async () => {
    const arn = await runningModel("stopped-mid-batch", 2);
    for (let i = 0; i < 30; i += 1) await putImage(`stop/blue-${i}.png`, "blue");
    const items = await listImages("stop/");
    const concurrency = 3;
    const { client, counter } = countingRekognition((count) => {
      if (count === 6) emulator.admin.forceStop(arn);
    });

    const error = await processBatch({
      event: {
        BatchInput: context(arn, { resultsPrefix: "stop-out/", concurrency }),
        Items: items,
      },
      rekognition: client,
      s3,
      clock: systemClock,
      logger: silentLogger,
      rateController: new AdaptiveRateController({ plannedTps: TPS_PER_UNIT, clock: systemClock }),
    }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ModelNotReadyError);
    const match = /(\d+) of 30 images done, (\d+) left/.exec((error as Error).message);
    expect(match).not.toBeNull();
    const done = Number(match?.[1]);
    // No retries of the fatal error: at most the calls that were already in flight follow the stop.
    expect(counter.detectCalls).toBeLessThanOrEqual(6 + concurrency);
    expect(done).toBeLessThanOrEqual(6);
    // Whatever finished before the stop was written.
    expect(await countResults("stop-out/")).toBe(done);
    client.destroy();
  });

  it("on abort returns BatchIncomplete without losing work; the retry analyses only the rest", async () => {
    const arn = await runningModel("main", 2);
    for (let i = 0; i < 24; i += 1) await putImage(`abort/green-${i}.jpg`, "green");
    const items = await listImages("abort/");
    const controller = new AbortController();
    const { client, counter } = countingRekognition((count) => {
      if (count === 8) controller.abort(new Error("Lambda timeout approaching"));
    });
    const batch = {
      BatchInput: context(arn, { resultsPrefix: "abort-out/", perWorkerTps: TPS_PER_UNIT }),
      Items: items,
    };
    const run = (signal?: AbortSignal) =>
      processBatch({
        event: batch,
        rekognition: client,
        s3,
        clock: systemClock,
        logger: silentLogger,
        signal,
        rateController: new AdaptiveRateController({
          plannedTps: TPS_PER_UNIT,
          clock: systemClock,
        }),
      });

    const error = await run(controller.signal).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BatchIncompleteError);
    const firstCalls = counter.detectCalls;
    const written = await countResults("abort-out/");
    // Every call that went out (the in-flight ones included) ended as a written result.
    expect(written).toBe(firstCalls);
    expect((error as Error).message).toContain(
      `${written} of 24 images done, ${24 - written} left`,
    );

    const retry = await run();
    expect(retry).toMatchObject({
      items: 24,
      succeeded: 24,
      resumed: written,
      labels: { green: 24 },
    });
    expect(counter.detectCalls - firstCalls).toBe(24 - written);
    expect(retry.calls).toBe(24 - written);
    expect(await countResults("abort-out/")).toBe(24);
    client.destroy();
  });
});
