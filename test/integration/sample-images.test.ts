import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, paginateListObjectsV2, S3Client } from "@aws-sdk/client-s3";
import pMap from "p-map";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type EmbeddedS3,
  localS3ClientConfig,
  startS3Server,
} from "../../harness/local/s3-server.ts";
import {
  expectedLabelsFor,
  type ImageSpec,
  PALETTE,
  type PaletteColour,
  planSampleImages,
  renderSampleImage,
  type SampleSet,
  writeSampleImages,
} from "../../harness/local/sample-images.ts";

const BUCKET = "samples";
const MB = 1024 * 1024;

let dataDir: string;
let server: EmbeddedS3;
let s3: S3Client;
let set: SampleSet;

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

async function getBytes(key: string): Promise<Buffer> {
  const response = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from((await response.Body?.transformToByteArray()) ?? []);
}

async function listKeys(prefix: string): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  for await (const page of paginateListObjectsV2(
    { client: s3 },
    { Bucket: BUCKET, Prefix: prefix },
  )) {
    for (const object of page.Contents ?? []) sizes.set(object.Key ?? "", object.Size ?? -1);
  }
  return sizes;
}

function formatByMagic(bytes: Buffer): "jpeg" | "png" | "other" {
  if (bytes.subarray(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff]))) return "jpeg";
  const pngSignature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (bytes.subarray(0, 8).equals(pngSignature)) return "png";
  return "other";
}

const PALETTE_NAMES = Object.keys(PALETTE) as PaletteColour[];
const PALETTE_RGB = Int32Array.from(PALETTE_NAMES.flatMap((name) => [...PALETTE[name]]));

/** Decodes an image and counts each pixel towards its nearest palette colour. */
async function measuredShares(bytes: Buffer) {
  const { data, info } = await sharp(bytes)
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const counts = new Float64Array(PALETTE_NAMES.length);
  const step = info.channels;
  for (let i = 0; i < data.length; i += step) {
    const r = data[i] as number;
    const g = data[i + 1] as number;
    const b = data[i + 2] as number;
    let best = 0;
    let bestDistance = Number.POSITIVE_INFINITY;
    for (let c = 0; c < PALETTE_NAMES.length; c++) {
      const dr = r - (PALETTE_RGB[3 * c] as number);
      const dg = g - (PALETTE_RGB[3 * c + 1] as number);
      const db = b - (PALETTE_RGB[3 * c + 2] as number);
      const distance = dr * dr + dg * dg + db * db;
      if (distance < bestDistance) {
        bestDistance = distance;
        best = c;
      }
    }
    counts[best] = (counts[best] as number) + 1;
  }
  const pixels = info.width * info.height;
  return {
    width: info.width,
    height: info.height,
    shares: new Map(PALETTE_NAMES.map((name, c) => [name, (counts[c] as number) / pixels])),
  };
}

// Rendering and decoding multi-megabyte images is slow on a small shared machine.
const HEAVY_TIMEOUT = 180_000;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "sample-images-test-"));
  server = await startS3Server({ directory: dataDir, buckets: [BUCKET] });
  s3 = new S3Client(localS3ClientConfig(server.endpoint));
  set = await writeSampleImages({
    s3,
    bucket: BUCKET,
    prefix: "set-a",
    count: 30,
    seed: 42,
    largeImages: 3,
    badObjects: true,
    oddKeys: true,
    concurrency: 3,
  });
}, HEAVY_TIMEOUT);

afterAll(async () => {
  s3?.destroy();
  await server?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe("writeSampleImages", () => {
  it("writes exactly the objects it reports, under the prefix, at the reported sizes", async () => {
    expect(set.images).toHaveLength(30);
    expect(set.bad).toHaveLength(5);
    const listed = await listKeys("set-a/");
    const reported = [...set.images, ...set.bad];
    expect(new Set(reported.map((o) => o.key)).size).toBe(reported.length);
    expect([...listed.keys()].sort()).toEqual(reported.map((o) => o.key).sort());
    for (const object of reported) {
      expect(object.bucket).toBe(BUCKET);
      expect(listed.get(object.key), object.key).toBe(object.bytes);
    }
  });

  it("uses nested folders, awkward keys on request, and JPEG and PNG with matching extensions", async () => {
    const keys = set.images.map((image) => image.key);
    expect(keys.some((key) => key.split("/").length >= 4)).toBe(true);
    expect(keys).toContain("set-a/café/naïve ü.jpg");
    expect(keys.some((key) => key.includes(" "))).toBe(true);
    expect(keys.some((key) => key.includes("+"))).toBe(true);
    expect(keys.some((key) => key.split("/").length > 10)).toBe(true);

    const formats = new Set(set.images.map((image) => image.format));
    expect(formats).toEqual(new Set(["jpeg", "png"]));
    await pMap(
      set.images,
      async (image) => {
        const bytes = await getBytes(image.key);
        expect(formatByMagic(bytes), image.key).toBe(image.format);
        expect(image.key).toMatch(image.format === "png" ? /\.png$/ : /\.jpe?g$/);
      },
      { concurrency: 4 },
    );

    const plain = planSampleImages({ count: 30, seed: 42, prefix: "set-a" });
    expect(plain.some((image) => /[ +]|[^\x20-\x7e]/.test(image.key))).toBe(false);
  });

  it("spans the sizes: the 64 px minimum up to a few multi-megabyte images", () => {
    const first = set.images[0];
    expect([first?.width, first?.height]).toEqual([64, 64]);
    const large = set.images.filter((image) => image.bytes > MB);
    expect(large).toHaveLength(3);
    for (const image of large) {
      expect(Math.max(image.width, image.height)).toBeGreaterThanOrEqual(2000);
      expect(image.bytes).toBeLessThan(4 * 1000 * 1000);
    }
    for (const image of set.images) {
      expect(Math.min(image.width, image.height)).toBeGreaterThanOrEqual(64);
      expect(Math.max(image.width, image.height)).toBeLessThanOrEqual(4096);
    }
  });

  it(
    "draws the expected colours in the expected shares (nearest palette colour per pixel)",
    async () => {
      await pMap(
        set.images,
        async (image) => {
          const measured = await measuredShares(await getBytes(image.key));
          expect([measured.width, measured.height]).toEqual([image.width, image.height]);
          const expected = new Map(image.expectedLabels.map((label) => [label.name, label.share]));
          for (const [name, share] of measured.shares) {
            // Colours not drawn stay below the stand-in model's 1 % reporting threshold.
            expect(share, `${image.key} ${name}`).toBeCloseTo(expected.get(name) ?? 0, 2);
            if (!expected.has(name)) expect(share).toBeLessThan(0.01);
          }
        },
        { concurrency: 2 },
      );
    },
    HEAVY_TIMEOUT,
  );

  it("writes the bad objects, each unusable in its own way", async () => {
    const byKind = new Map(set.bad.map((object) => [object.kind, object]));
    expect([...byKind.keys()].sort()).toEqual(
      ["empty", "non-image-extension", "text-named-jpg", "too-small", "truncated-jpeg"].sort(),
    );
    for (const object of set.bad) expect(object.key.startsWith("set-a/bad/")).toBe(true);

    const empty = byKind.get("empty");
    expect(empty?.bytes).toBe(0);
    expect(empty?.expected).toEqual({ outcome: "skipped", reason: "empty-object" });

    const notes = byKind.get("non-image-extension");
    expect(notes?.key).toMatch(/\.txt$/);
    expect(notes?.expected).toEqual({ outcome: "skipped", reason: "unsupported-extension" });

    const text = await getBytes(byKind.get("text-named-jpg")?.key ?? "");
    expect(byKind.get("text-named-jpg")?.key).toMatch(/\.jpg$/);
    expect(formatByMagic(text)).toBe("other");
    await expect(sharp(text).metadata()).rejects.toThrow();

    const truncated = await getBytes(byKind.get("truncated-jpeg")?.key ?? "");
    expect(formatByMagic(truncated)).toBe("jpeg");
    await expect(sharp(truncated).raw().toBuffer()).rejects.toThrow();

    const tiny = await sharp(await getBytes(byKind.get("too-small")?.key ?? "")).metadata();
    expect([tiny.format, tiny.width, tiny.height]).toEqual(["jpeg", 32, 32]);

    for (const kind of ["text-named-jpg", "truncated-jpeg", "too-small"] as const) {
      expect(byKind.get(kind)?.expected).toEqual({ outcome: "failed" });
    }
  });

  it("is deterministic: the same seed gives the same keys and bytes, another seed does not", async () => {
    const options = { count: 8, largeImages: 1, badObjects: true, oddKeys: true } as const;
    const again = await writeSampleImages({
      s3,
      bucket: BUCKET,
      prefix: "set-b",
      seed: 7,
      ...options,
    });
    const same = await writeSampleImages({
      s3,
      bucket: BUCKET,
      prefix: "set-c",
      seed: 7,
      ...options,
    });
    const other = await writeSampleImages({
      s3,
      bucket: BUCKET,
      prefix: "set-d",
      seed: 8,
      ...options,
    });

    const fingerprint = async (written: SampleSet, prefix: string) =>
      Promise.all(
        [...written.images, ...written.bad].map(async (object) => ({
          key: object.key.slice(prefix.length),
          sha: sha256(await getBytes(object.key)),
        })),
      );
    const b = await fingerprint(again, "set-b/");
    expect(await fingerprint(same, "set-c/")).toEqual(b);
    const d = await fingerprint(other, "set-d/");
    expect(d.map((x) => x.sha)).not.toEqual(b.map((x) => x.sha));
    expect(planSampleImages({ count: 8, seed: 8 })).not.toEqual(
      planSampleImages({ count: 8, seed: 7 }),
    );
  });
});

describe("renderSampleImage and expectedLabelsFor", () => {
  it("renders one spec to the same bytes every time, with exact band shares and boxes", async () => {
    const spec: ImageSpec = {
      width: 200,
      height: 100,
      format: "png",
      colours: [
        { colour: "yellow", share: 0.7 },
        { colour: "black", share: 0.3 },
      ],
      noise: 30,
      seed: 5,
    };
    const first = await renderSampleImage(spec);
    expect((await renderSampleImage(spec)).equals(first)).toBe(true);
    expect(expectedLabelsFor(spec)).toEqual([
      {
        name: "yellow",
        share: 0.7,
        confidence: 70,
        boundingBox: { Left: 0, Top: 0, Width: 0.7, Height: 1 },
      },
      {
        name: "black",
        share: 0.3,
        confidence: 30,
        boundingBox: { Left: 0.7, Top: 0, Width: 0.3, Height: 1 },
      },
    ]);
    const measured = await measuredShares(first);
    expect(measured.shares.get("yellow")).toBe(0.7);
    expect(measured.shares.get("black")).toBe(0.3);
  });

  it("puts a JPEG split on an 8 px block edge and reports the share it really drew", async () => {
    const spec: ImageSpec = {
      width: 64,
      height: 100,
      format: "jpeg",
      split: "horizontal",
      colours: [
        { colour: "blue", share: 0.7 },
        { colour: "white", share: 0.3 },
      ],
    };
    const [blue, white] = expectedLabelsFor(spec);
    expect(blue?.share).toBe(0.72);
    expect(white?.boundingBox).toEqual({ Left: 0, Top: 0.72, Width: 1, Height: 0.28 });
    const measured = await measuredShares(await renderSampleImage(spec));
    expect(measured.shares.get("blue")).toBeCloseTo(0.72, 6);
    expect(measured.shares.get("white")).toBeCloseTo(0.28, 6);
  });

  it("rejects specs it cannot draw faithfully", async () => {
    const base: ImageSpec = {
      width: 64,
      height: 64,
      format: "png",
      colours: [{ colour: "red", share: 1 }],
    };
    await expect(renderSampleImage({ ...base, noise: 49 })).rejects.toThrow(/noise/);
    await expect(renderSampleImage({ ...base, width: 0 })).rejects.toThrow(/size/);
    await expect(
      renderSampleImage({
        ...base,
        colours: [
          { colour: "red", share: 0.5 },
          { colour: "blue", share: 0.4 },
        ],
      }),
    ).rejects.toThrow(/add up to 1/);
  });
});
