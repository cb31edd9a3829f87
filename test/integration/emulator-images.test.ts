import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DetectCustomLabelsCommand,
  type DetectCustomLabelsCommandInput,
  type RekognitionClient,
} from "@aws-sdk/client-rekognition";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../harness/local/emulator/index.ts";
import {
  type EmbeddedS3,
  localS3ClientConfig,
  startS3Server,
} from "../../harness/local/s3-server.ts";
import {
  BLUE,
  emulatorClient,
  GREEN,
  paintedImage,
  RED,
  sdkError,
  WHITE,
} from "../support/emulator/fixtures.ts";

let s3Dir: string;
let s3Server: EmbeddedS3;
let s3: S3Client;
let emulator: Emulator;
let client: RekognitionClient;
let classifier: string;
let detector: string;

beforeAll(async () => {
  s3Dir = await mkdtemp(join(tmpdir(), "emulator-s3-"));
  s3Server = await startS3Server({ directory: s3Dir, buckets: ["images"] });
  s3 = new S3Client(localS3ClientConfig(s3Server.endpoint));
  emulator = await startEmulator({
    s3Endpoint: s3Server.endpoint,
    tpsPerUnit: 1000,
    latencyMs: 0,
    latencyJitterMs: 0,
  });
  client = emulatorClient(emulator.endpoint);
  classifier = emulator.admin.declareModel({
    project: "colours",
    version: "cls",
    status: "RUNNING",
  }).projectVersionArn;
  detector = emulator.admin.declareModel({
    project: "colours",
    version: "od",
    feature: "OBJECT_DETECTION",
    status: "RUNNING",
  }).projectVersionArn;
});

afterAll(async () => {
  client?.destroy();
  s3?.destroy();
  await emulator?.close();
  await s3Server?.close();
  await rm(s3Dir, { recursive: true, force: true });
});

const detect = (
  input: Omit<DetectCustomLabelsCommandInput, "ProjectVersionArn">,
  arn = classifier,
) => client.send(new DetectCustomLabelsCommand({ ProjectVersionArn: arn, ...input }));

/** 100 x 100: 70 % red on the left, 30 % blue on the right. */
const redBlue = (format: "png" | "jpeg" = "png", size = 100) =>
  paintedImage(
    size,
    size,
    RED,
    [{ left: (size * 7) / 10, top: 0, width: (size * 3) / 10, height: size, colour: BLUE }],
    format,
  );

async function put(key: string, body: Uint8Array) {
  await s3.send(new PutObjectCommand({ Bucket: "images", Key: key, Body: body }));
}

describe("the stand-in model", () => {
  it("names the colours by share: 70 % red, 30 % blue", async () => {
    const out = await detect({ Image: { Bytes: await redBlue() } });
    expect(out.CustomLabels).toEqual([
      { Name: "red", Confidence: 70 },
      { Name: "blue", Confidence: 30 },
    ]);
  });

  it("gives JPEGs and large images (downscaled) the same answer, near enough", async () => {
    for (const image of [await redBlue("jpeg"), await redBlue("png", 2000)]) {
      const labels = (await detect({ Image: { Bytes: image } })).CustomLabels ?? [];
      expect(labels.map((l) => l.Name)).toEqual(["red", "blue"]);
      expect(labels[0]?.Confidence).toBeCloseTo(70, 0);
      expect(labels[1]?.Confidence).toBeCloseTo(30, 0);
    }
  });

  it("boxes each colour in OBJECT_DETECTION versions", async () => {
    // Fits inside 128 x 128, so no downscaling blurs the box edges.
    const image = await paintedImage(120, 100, WHITE, [
      { left: 30, top: 10, width: 12, height: 30, colour: GREEN },
    ]);
    const labels = (await detect({ Image: { Bytes: image } }, detector)).CustomLabels ?? [];
    expect(labels.map((l) => [l.Name, l.Confidence])).toEqual([
      ["white", 97],
      ["green", 3],
    ]);
    expect(labels[1]?.Geometry?.BoundingBox).toEqual({
      Left: 0.25,
      Top: 0.1,
      Width: 0.1,
      Height: 0.3,
    });
    expect(labels[0]?.Geometry?.BoundingBox).toEqual({ Left: 0, Top: 0, Width: 1, Height: 1 });
    const classified = (await detect({ Image: { Bytes: image } })).CustomLabels ?? [];
    expect(classified.every((l) => l.Geometry === undefined)).toBe(true);
  });

  it("flattens transparency onto white", async () => {
    const image = await sharp({
      create: { width: 100, height: 100, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } },
    })
      .composite([
        {
          input: await paintedImage(50, 100, BLUE),
          left: 0,
          top: 0,
        },
      ])
      .png()
      .toBuffer();
    const labels = (await detect({ Image: { Bytes: image } })).CustomLabels ?? [];
    expect(labels).toEqual([
      { Name: "blue", Confidence: 50 },
      { Name: "white", Confidence: 50 },
    ]);
  });

  it("filters by MinConfidence and cuts by MaxResults; rejects MinConfidence out of 0-100", async () => {
    const image = await redBlue();
    expect((await detect({ Image: { Bytes: image }, MinConfidence: 50 })).CustomLabels).toEqual([
      { Name: "red", Confidence: 70 },
    ]);
    expect((await detect({ Image: { Bytes: image }, MaxResults: 1 })).CustomLabels).toHaveLength(1);
    expect((await detect({ Image: { Bytes: image }, MaxResults: 0 })).CustomLabels).toEqual([]);
    const bad = await sdkError(detect({ Image: { Bytes: image }, MinConfidence: 101 }));
    expect(bad).toMatchObject({ name: "InvalidParameterException", status: 400 });
    expect(bad.message).toContain("MinConfidence");
  });
});

describe("image limits", () => {
  it("refuses Bytes over 4 MB with ImageTooLargeException", async () => {
    const big = Buffer.alloc(4 * 1024 * 1024 + 1);
    big.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(await sdkError(detect({ Image: { Bytes: big } }))).toMatchObject({
      name: "ImageTooLargeException",
      status: 400,
    });
  });

  it("decides the format by content: GIF and text are InvalidImageFormatException", async () => {
    const gif = await sharp({ create: { width: 80, height: 80, channels: 3, background: RED } })
      .gif()
      .toBuffer();
    for (const bytes of [gif, Buffer.from("this is not an image at all")]) {
      expect(await sdkError(detect({ Image: { Bytes: bytes } }))).toMatchObject({
        name: "InvalidImageFormatException",
        status: 400,
      });
    }
  });

  it("refuses a truncated JPEG with InvalidImageFormatException", async () => {
    const jpeg = await redBlue("jpeg", 400);
    const truncated = jpeg.subarray(0, Math.floor(jpeg.length / 2));
    expect(await sdkError(detect({ Image: { Bytes: truncated } }))).toMatchObject({
      name: "InvalidImageFormatException",
      status: 400,
    });
  });

  it("refuses sides outside 64-4096 px, naming the image dimensions", async () => {
    for (const [width, height] of [
      [63, 100],
      [100, 32],
      [4097, 64],
    ] as const) {
      const image = await paintedImage(width, height, RED);
      const error = await sdkError(detect({ Image: { Bytes: image } }));
      expect(error).toMatchObject({ name: "InvalidParameterException", status: 400 });
      expect(error.message).toContain("image dimensions");
    }
    const edge = await paintedImage(64, 4096, RED);
    expect((await detect({ Image: { Bytes: edge } })).CustomLabels?.[0]?.Name).toBe("red");
  });
});

describe("Image.S3Object from the embedded S3", () => {
  it("reads the object and labels it; the name does not decide the format", async () => {
    await put("photos/split.jpg", await redBlue("png"));
    const out = await detect({
      Image: { S3Object: { Bucket: "images", Name: "photos/split.jpg" } },
    });
    expect(out.CustomLabels?.map((l) => l.Name)).toEqual(["red", "blue"]);
  });

  it("answers missing objects and buckets with InvalidS3ObjectException", async () => {
    for (const S3Object of [
      { Bucket: "images", Name: "nope.png" },
      { Bucket: "no-such-bucket", Name: "x.png" },
    ]) {
      expect(await sdkError(detect({ Image: { S3Object } }))).toMatchObject({
        name: "InvalidS3ObjectException",
        status: 400,
      });
    }
  });

  it("refuses objects over 15 MB with ImageTooLargeException", async () => {
    const big = Buffer.alloc(15 * 1024 * 1024 + 1);
    big.set([0xff, 0xd8, 0xff]);
    await put("big.jpg", big);
    expect(
      await sdkError(detect({ Image: { S3Object: { Bucket: "images", Name: "big.jpg" } } })),
    ).toMatchObject({ name: "ImageTooLargeException", status: 400 });
  });

  it("refuses an S3 object that is not an image", async () => {
    await put("notes.png", Buffer.from("plain text with a .png name"));
    expect(
      await sdkError(detect({ Image: { S3Object: { Bucket: "images", Name: "notes.png" } } })),
    ).toMatchObject({ name: "InvalidImageFormatException", status: 400 });
  });
});

describe("Image.S3Object read in-process from the embedded S3's store (as the local stack does)", () => {
  let direct: Emulator;
  let directClient: RekognitionClient;
  let directArn: string;

  beforeAll(async () => {
    direct = await startEmulator({
      s3Objects: (bucket, key) => s3Server.readObject(bucket, key),
      tpsPerUnit: 1000,
      latencyMs: 0,
      latencyJitterMs: 0,
    });
    directClient = emulatorClient(direct.endpoint);
    directArn = direct.admin.declareModel({
      project: "colours",
      version: "od",
      feature: "OBJECT_DETECTION",
      status: "RUNNING",
    }).projectVersionArn;
  });

  afterAll(async () => {
    directClient?.destroy();
    await direct?.close();
  });

  const both = (input: Omit<DetectCustomLabelsCommandInput, "ProjectVersionArn">) => ({
    overHttp: detect(input, detector),
    inProcess: directClient.send(
      new DetectCustomLabelsCommand({ ProjectVersionArn: directArn, ...input }),
    ),
  });

  it("gives the same labels and boxes as a read over HTTP", async () => {
    await put("photos/same.png", await redBlue("png"));
    const { overHttp, inProcess } = both({
      Image: { S3Object: { Bucket: "images", Name: "photos/same.png" } },
    });
    const [expected, actual] = await Promise.all([overHttp, inProcess]);
    expect(expected.CustomLabels?.length).toBeGreaterThan(0);
    expect(actual.CustomLabels).toEqual(expected.CustomLabels);
  });

  it("answers a missing key, a missing bucket and a large object exactly as over HTTP", async () => {
    const big = Buffer.alloc(15 * 1024 * 1024 + 1);
    big.set([0xff, 0xd8, 0xff]);
    await put("photos/too-big.jpg", big);
    for (const S3Object of [
      { Bucket: "images", Name: "photos/nope.png" },
      { Bucket: "no-such-bucket", Name: "x.png" },
      { Bucket: "images", Name: "photos/too-big.jpg" },
    ]) {
      const { overHttp, inProcess } = both({ Image: { S3Object } });
      const [expected, actual] = await Promise.all([sdkError(overHttp), sdkError(inProcess)]);
      expect(["InvalidS3ObjectException", "ImageTooLargeException"]).toContain(expected.name);
      expect(actual).toEqual(expected);
    }
  });
});
