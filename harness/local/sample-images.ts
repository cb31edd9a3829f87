import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import pMap from "p-map";
import sharp from "sharp";
import { normalizePrefix } from "../../src/result-keys.ts";
import type { SkipReason } from "../../src/shapes.ts";
import { PALETTE as MODEL_PALETTE, nearestColour } from "./emulator/labeler.ts";

/**
 * Synthetic images whose Custom Labels result is known in advance. Each image
 * is one or two palette colours in a known split, so a stand-in model that
 * assigns every pixel to its nearest palette colour (the emulator's) reports
 * exactly those colours, with Confidence = share x 100.
 */

export type Rgb = readonly [number, number, number];

export type PaletteColour = "red" | "green" | "blue" | "yellow" | "black" | "white";

/**
 * The colours the stand-in model knows, by label name: the emulator's own
 * palette (one definition), keyed for the generator's specs.
 */
export const PALETTE = Object.fromEntries(
  MODEL_PALETTE.map((colour) => [colour.name, colour.rgb]),
) as Record<PaletteColour, Rgb>;

export const PALETTE_COLOURS = MODEL_PALETTE.map((colour) => colour.name) as PaletteColour[];

/** The palette colour nearest to a pixel, exactly as the emulator decides it. */
export function nearestPaletteColour(r: number, g: number, b: number): PaletteColour {
  return PALETTE_COLOURS[nearestColour(r, g, b)] as PaletteColour;
}

export type ImageFormat = "jpeg" | "png";

export interface ColourShare {
  colour: PaletteColour;
  /** Fraction of the pixels, 0-1. */
  share: number;
}

/** Everything that determines one image's bytes. */
export interface ImageSpec {
  width: number;
  height: number;
  format: ImageFormat;
  /**
   * One colour, or two whose shares add up to 1. The first fills the left
   * (vertical split) or top (horizontal split) band.
   */
  colours: readonly [ColourShare] | readonly [ColourShare, ColourShare];
  /** Default "vertical": bands side by side. */
  split?: "vertical" | "horizontal";
  /** Per-channel noise amplitude, 0-48 (keeps every pixel nearest its colour). Default 0. */
  noise?: number;
  /** Seeds the noise. Default 1. */
  seed?: number;
  /** JPEG quality 1-100. Default 90. */
  quality?: number;
}

/** Box as ratios of the image size, as Rekognition reports it. */
export interface BoundingBox {
  Left: number;
  Top: number;
  Width: number;
  Height: number;
}

/** A label the stand-in model is expected to report for an image. */
export interface ExpectedLabel {
  name: PaletteColour;
  /** Exact fraction of pixels drawn in this colour. */
  share: number;
  /** share x 100, what DetectCustomLabels should report (before rounding or noise). */
  confidence: number;
  /** Where the colour was drawn (its band). */
  boundingBox: BoundingBox;
}

const MAX_NOISE = 48;

// JPEG codes 8x8 blocks; with no chroma subsampling and the split on a block
// edge, no block mixes two colours, so compression cannot blur the boundary.
const JPEG_BLOCK = 8;

/**
 * Where the split falls, in pixels along the split axis: the first colour's
 * band length. Rounded to whole JPEG blocks when the image is JPEG.
 */
function splitPosition(spec: ImageSpec): number {
  const length = spec.split === "horizontal" ? spec.height : spec.width;
  const [first, second] = spec.colours;
  if (!second) return length;
  const align = spec.format === "jpeg" && length >= 2 * JPEG_BLOCK ? JPEG_BLOCK : 1;
  const position = Math.round((first.share * length) / align) * align;
  return Math.min(Math.max(position, align), length - align);
}

function validateSpec(spec: ImageSpec): void {
  const { width, height, colours } = spec;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`Image size must be whole pixels >= 1, got ${width}x${height}`);
  }
  if (colours.length === 2 && Math.abs(colours[0].share + (colours[1]?.share ?? 0) - 1) > 1e-9) {
    throw new RangeError("The two colour shares must add up to 1");
  }
  for (const { colour } of colours) {
    if (!(colour in PALETTE)) throw new RangeError(`Unknown palette colour "${colour}"`);
  }
  const noise = spec.noise ?? 0;
  if (noise < 0 || noise > MAX_NOISE) {
    throw new RangeError(`noise must be 0-${MAX_NOISE}, got ${noise}`);
  }
}

/**
 * The labels an image drawn from `spec` carries: the exact pixel share of
 * each colour after the split is rounded to whole pixels (or JPEG blocks).
 */
export function expectedLabelsFor(spec: ImageSpec): ExpectedLabel[] {
  validateSpec(spec);
  const horizontal = spec.split === "horizontal";
  const length = horizontal ? spec.height : spec.width;
  const position = splitPosition(spec);
  const bands = [
    { start: 0, end: position },
    { start: position, end: length },
  ];
  return spec.colours.map(({ colour }, index) => {
    const band = bands[index] ?? { start: 0, end: length };
    const share = (band.end - band.start) / length;
    const along = { offset: band.start / length, size: share };
    return {
      name: colour,
      share,
      confidence: share * 100,
      boundingBox: horizontal
        ? { Left: 0, Top: along.offset, Width: 1, Height: along.size }
        : { Left: along.offset, Top: 0, Width: along.size, Height: 1 },
    };
  });
}

/** mulberry32: small, fast, and the same sequence on every platform. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** The raw RGB pixels of `spec`, row by row. */
function drawPixels(spec: ImageSpec): Buffer {
  const { width, height } = spec;
  const pixels = Buffer.alloc(width * height * 3);
  const position = splitPosition(spec);
  const horizontal = spec.split === "horizontal";
  const [first, second] = spec.colours;
  const firstRgb = PALETTE[first.colour];
  const secondRgb = second ? PALETTE[second.colour] : firstRgb;
  const noise = spec.noise ?? 0;
  const span = 2 * noise + 1;
  const random = seededRandom(spec.seed ?? 1);

  let offset = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const rgb = (horizontal ? y : x) < position ? firstRgb : secondRgb;
      // One 32-bit draw gives three bytes of noise, one per channel.
      const bits = noise > 0 ? random() : 0;
      for (let channel = 0; channel < 3; channel++) {
        const delta = noise > 0 ? ((((bits >>> (channel * 8)) & 0xff) * span) >> 8) - noise : 0;
        pixels[offset++] = clampByte((rgb[channel] ?? 0) + delta);
      }
    }
  }
  return pixels;
}

function clampByte(value: number): number {
  return Math.max(0, Math.min(255, value));
}

/** Encodes the image described by `spec`. Same spec, same bytes. */
export async function renderSampleImage(spec: ImageSpec): Promise<Buffer> {
  validateSpec(spec);
  const image = sharp(drawPixels(spec), {
    raw: { width: spec.width, height: spec.height, channels: 3 },
  });
  if (spec.format === "png") return image.png().toBuffer();
  return image.jpeg({ quality: spec.quality ?? 90, chromaSubsampling: "4:4:4" }).toBuffer();
}

/** One image the generator wrote. */
export interface SampleImage {
  bucket: string;
  key: string;
  format: ImageFormat;
  width: number;
  height: number;
  bytes: number;
  spec: ImageSpec;
  expectedLabels: ExpectedLabel[];
}

export type BadObjectKind =
  | "text-named-jpg"
  | "empty"
  | "truncated-jpeg"
  | "too-small"
  | "non-image-extension";

/** One deliberately unusable object, with what the job should make of it. */
export interface BadSampleObject {
  bucket: string;
  key: string;
  kind: BadObjectKind;
  bytes: number;
  /**
   * "skipped" when listing alone can tell (the Plan step's skip reason),
   * "failed" when only the model can (it rejects the image).
   */
  expected: { outcome: "skipped"; reason: SkipReason } | { outcome: "failed" };
}

export interface SampleSet {
  images: SampleImage[];
  bad: BadSampleObject[];
}

export interface SampleSetOptions {
  s3: S3Client;
  bucket: string;
  /** Key prefix; "" or ending with "/" (one is added otherwise). */
  prefix?: string;
  /** How many good images. */
  count: number;
  /** Same seed, same keys and bytes. Default 1. */
  seed?: number;
  /** How many of the images are multi-megabyte (2000-3000 px, noisy). Default min(3, count / 20). */
  largeImages?: number;
  /** Also write the unusable objects listed in `BadObjectKind`. Default false. */
  badObjects?: boolean;
  /** Give some images awkward keys: spaces, "+", unicode, deep nesting. Default false. */
  oddKeys?: boolean;
  /** Parallel uploads. Default 4. */
  concurrency?: number;
  signal?: AbortSignal;
}

const FOLDERS = ["", "cameras/north/", "cameras/south/", "archive/2024/week-07/"];

const ODD_KEYS = [
  "with space/photo 01",
  "plus+sign/a+b=c",
  "café/naïve ü",
  "deep/a/b/c/d/e/f/g/h/i/j/leaf",
  "日本/写真 (1)",
];

const SMALL_SIDES = [64, 80, 96, 128, 160, 200, 256, 320, 480, 640, 800, 1024];
const SHARES = [0.5, 0.6, 0.7, 0.75, 0.8, 0.9];

function pick<T>(items: readonly T[], random: () => number): T {
  return items[random() % items.length] as T;
}

/**
 * The images of a sample set, without rendering them: keys and specs, a pure
 * function of the options. Index 0 is always the smallest legal size (64x64).
 */
export function planSampleImages(
  options: Pick<SampleSetOptions, "prefix" | "count" | "seed" | "largeImages" | "oddKeys">,
): { key: string; spec: ImageSpec }[] {
  const { count } = options;
  if (!Number.isInteger(count) || count < 0) throw new RangeError("count must be a whole number");
  const seed = options.seed ?? 1;
  const prefix = normalizePrefix(options.prefix ?? "");
  const largeImages = Math.min(count, options.largeImages ?? Math.min(3, Math.floor(count / 20)));
  const random = seededRandom(seed);
  const oddKeys = options.oddKeys ? ODD_KEYS : [];
  // Odd keys take the first indices and large images the last ones.
  const firstLarge = count - largeImages;

  return Array.from({ length: count }, (_, index) => {
    const large = index >= firstLarge;
    const folder = pick(FOLDERS, random);
    const format: ImageFormat = random() % 3 === 0 ? "png" : "jpeg";
    const primary = pick(PALETTE_COLOURS, random);
    const others = PALETTE_COLOURS.filter((colour) => colour !== primary);
    const secondary = pick(others, random);
    const share = pick(SHARES, random);
    const single = random() % 4 === 0;
    let width = pick(SMALL_SIDES, random);
    let height = pick(SMALL_SIDES, random);
    if (index === 0) [width, height] = [64, 64];
    if (large) {
      // Noise keeps large images from compressing to almost nothing. PNG (lossless)
      // keeps nearly all of it, so large PNGs are smaller in pixels than large JPEGs.
      // Sized to stay under the 4 MB limit of images passed as bytes.
      width = 2000 + (random() % 801);
      height = format === "png" ? 1000 + (random() % 151) : 2000 + (random() % 401);
    }
    const spec: ImageSpec = {
      width,
      height,
      format,
      colours: single
        ? [{ colour: primary, share: 1 }]
        : [
            { colour: primary, share },
            { colour: secondary, share: Math.round((1 - share) * 100) / 100 },
          ],
      split: random() % 2 === 0 ? "vertical" : "horizontal",
      // Noise makes large images really megabytes; small ones get a little or none.
      noise: large ? (format === "png" ? 6 : 20) : random() % 7,
      seed: (seed * 1_000_003 + index) >>> 0,
      quality: large ? 93 : 85,
    };
    const extension = format === "png" ? "png" : index % 5 === 4 ? "jpeg" : "jpg";
    const stem = `img-${String(index).padStart(5, "0")}`;
    const name = oddKeys[index] ?? `${folder}${stem}`;
    return { key: `${prefix}${name}.${extension}`, spec };
  });
}

async function badObjects(
  seed: number,
): Promise<{ name: string; kind: BadObjectKind; body: Buffer }[]> {
  const jpeg = await renderSampleImage({
    width: 256,
    height: 256,
    format: "jpeg",
    colours: [{ colour: "blue", share: 1 }],
    noise: 10,
    seed,
  });
  const tiny = await renderSampleImage({
    width: 32,
    height: 32,
    format: "jpeg",
    colours: [{ colour: "red", share: 1 }],
  });
  return [
    {
      name: "not-an-image.jpg",
      kind: "text-named-jpg",
      body: Buffer.from("This is text, not a JPEG.\n"),
    },
    { name: "empty.jpg", kind: "empty", body: Buffer.alloc(0) },
    {
      name: "truncated.jpg",
      kind: "truncated-jpeg",
      body: jpeg.subarray(0, Math.floor(jpeg.length / 2)),
    },
    { name: "too-small-32px.jpg", kind: "too-small", body: tiny },
    {
      name: "notes.txt",
      kind: "non-image-extension",
      body: Buffer.from("Camera notes: lens cleaned.\n"),
    },
  ];
}

function expectedOutcome(kind: BadObjectKind): BadSampleObject["expected"] {
  if (kind === "empty") return { outcome: "skipped", reason: "empty-object" };
  if (kind === "non-image-extension")
    return { outcome: "skipped", reason: "unsupported-extension" };
  return { outcome: "failed" };
}

const CONTENT_TYPES: Record<string, string> = {
  jpeg: "image/jpeg",
  png: "image/png",
  txt: "text/plain",
};

/**
 * Renders and uploads a sample set through `s3` (bounded parallel PutObject),
 * and returns every object written with what the model should say about it.
 * Bad objects go under `<prefix>bad/`.
 */
export async function writeSampleImages(options: SampleSetOptions): Promise<SampleSet> {
  const { s3, bucket, signal } = options;
  const prefix = normalizePrefix(options.prefix ?? "");
  const concurrency = options.concurrency ?? 4;
  const put = (key: string, body: Buffer, contentType: string) =>
    s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }),
      { abortSignal: signal },
    );

  const images = await pMap(
    planSampleImages(options),
    async ({ key, spec }): Promise<SampleImage> => {
      const body = await renderSampleImage(spec);
      await put(key, body, CONTENT_TYPES[spec.format] ?? "application/octet-stream");
      return {
        bucket,
        key,
        format: spec.format,
        width: spec.width,
        height: spec.height,
        bytes: body.length,
        spec,
        expectedLabels: expectedLabelsFor(spec),
      };
    },
    { concurrency, signal },
  );

  const bad: BadSampleObject[] = [];
  if (options.badObjects) {
    const objects = await badObjects(options.seed ?? 1);
    bad.push(
      ...(await pMap(
        objects,
        async ({ name, kind, body }) => {
          const key = `${prefix}bad/${name}`;
          const type = kind === "non-image-extension" ? "txt" : "jpeg";
          await put(key, body, CONTENT_TYPES[type] ?? "application/octet-stream");
          return { bucket, key, kind, bytes: body.length, expected: expectedOutcome(kind) };
        },
        { concurrency, signal },
      )),
    );
  }
  return { images, bad };
}
