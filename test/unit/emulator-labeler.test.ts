import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  labelImage,
  nearestColour,
  PALETTE,
  type RawImage,
} from "../../harness/local/emulator/labeler.ts";

/** A raw RGB image painted by a function of (x, y). */
function raw(width: number, height: number, paint: (x: number, y: number) => number[]): RawImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(paint(x, y), (y * width + x) * 3);
  }
  return { data, width, height, channels: 3 };
}

const name = (index: number) => PALETTE[index]?.name;

describe("nearestColour", () => {
  it("maps near colours to the palette", () => {
    expect(name(nearestColour(250, 10, 5))).toBe("red");
    expect(name(nearestColour(20, 230, 30))).toBe("green");
    expect(name(nearestColour(0, 0, 200))).toBe("blue");
    expect(name(nearestColour(240, 240, 20))).toBe("yellow");
    expect(name(nearestColour(30, 30, 30))).toBe("black");
    expect(name(nearestColour(230, 230, 230))).toBe("white");
  });
});

describe("labelImage", () => {
  // 100 x 100: left 70 columns red, right 30 blue.
  const split = raw(100, 100, (x) => (x < 70 ? [255, 0, 0] : [0, 0, 255]));

  it("names colours by share, confidence = share x 100, sorted descending", () => {
    expect(labelImage(split, { withBoundingBoxes: false })).toEqual([
      { Name: "red", Confidence: 70 },
      { Name: "blue", Confidence: 30 },
    ]);
  });

  it("gives each colour the box enclosing its pixels, as ratios", () => {
    const labels = labelImage(split, { withBoundingBoxes: true });
    expect(labels[0]?.Geometry?.BoundingBox).toEqual({ Left: 0, Top: 0, Width: 0.7, Height: 1 });
    expect(labels[1]?.Geometry?.BoundingBox).toEqual({ Left: 0.7, Top: 0, Width: 0.3, Height: 1 });
  });

  it("boxes a small square where it is", () => {
    const image = raw(200, 100, (x, y) =>
      x >= 50 && x < 70 && y >= 10 && y < 40 ? [0, 255, 0] : [255, 255, 255],
    );
    const green = labelImage(image, { withBoundingBoxes: true }).find((l) => l.Name === "green");
    expect(green?.Confidence).toBeCloseTo(3, 6);
    expect(green?.Geometry?.BoundingBox).toEqual({ Left: 0.25, Top: 0.1, Width: 0.1, Height: 0.3 });
  });

  it("drops colours under 1 % of the pixels", () => {
    // 99 black pixels of 10,000 = 0.99 %.
    const image = raw(100, 100, (x, y) => (y === 0 && x < 99 ? [0, 0, 0] : [255, 255, 0]));
    expect(labelImage(image, { withBoundingBoxes: false }).map((l) => l.Name)).toEqual(["yellow"]);
  });

  it("applies MinConfidence, then MaxResults", () => {
    expect(labelImage(split, { withBoundingBoxes: false, minConfidence: 50 })).toEqual([
      { Name: "red", Confidence: 70 },
    ]);
    expect(labelImage(split, { withBoundingBoxes: false, maxResults: 1 })).toHaveLength(1);
    expect(labelImage(split, { withBoundingBoxes: false, maxResults: 0 })).toEqual([]);
  });

  it("reads one-channel grey images", () => {
    const grey: RawImage = {
      data: new Uint8Array(64 * 64).fill(10),
      width: 64,
      height: 64,
      channels: 1,
    };
    expect(labelImage(grey, { withBoundingBoxes: false })).toEqual([
      { Name: "black", Confidence: 100 },
    ]);
  });
});

/** The labeller written plainly (every pixel measured against every colour), to hold the fast one to. */
function referenceLabels(image: RawImage) {
  const { data, width, height, channels } = image;
  const count = PALETTE.map(() => 0);
  const box = PALETTE.map(() => ({ minX: width, minY: height, maxX: -1, maxY: -1 }));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const offset = (y * width + x) * channels;
      const rgb = channels >= 3 ? [...data.subarray(offset, offset + 3)] : [data[offset] ?? 0];
      const [r = 0, g = r, b = r] = rgb;
      const distances = PALETTE.map(
        ({ rgb: [pr, pg, pb] }) => (r - pr) ** 2 + (g - pg) ** 2 + (b - pb) ** 2,
      );
      const colour = distances.indexOf(Math.min(...distances));
      count[colour] = (count[colour] ?? 0) + 1;
      const bounds = box[colour] as (typeof box)[number];
      bounds.minX = Math.min(bounds.minX, x);
      bounds.maxX = Math.max(bounds.maxX, x);
      bounds.minY = Math.min(bounds.minY, y);
      bounds.maxY = Math.max(bounds.maxY, y);
    }
  }
  const round = (value: number) => Math.round(value * 1e6) / 1e6;
  return PALETTE.flatMap((colour, i) => {
    const share = (count[i] ?? 0) / (width * height);
    if (share < 0.01) return [];
    const bounds = box[i] as (typeof box)[number];
    return [
      {
        Name: colour.name,
        Confidence: round(share * 100),
        Geometry: {
          BoundingBox: {
            Width: round((bounds.maxX - bounds.minX + 1) / width),
            Height: round((bounds.maxY - bounds.minY + 1) / height),
            Left: round(bounds.minX / width),
            Top: round(bounds.minY / height),
          },
        },
      },
    ];
  }).sort((a, b) => b.Confidence - a.Confidence || a.Name.localeCompare(b.Name));
}

/**
 * Channel values around the palette's midpoints, so that neighbouring pixels
 * often differ in one channel only, and in that one across a boundary.
 */
const channelValue = fc.constantFrom(0, 60, 127, 128, 129, 200, 255);

describe("labelImage against the plain reference", () => {
  it("gives the same labels and boxes for runs of repeated and of changing pixels", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 24 }),
        fc.integer({ min: 1, max: 24 }),
        fc.constantFrom(1, 3, 4),
        fc.array(
          fc.tuple(
            fc.integer({ min: 1, max: 40 }),
            fc.array(channelValue, { minLength: 4, maxLength: 4 }),
          ),
          {
            minLength: 1,
            maxLength: 60,
          },
        ),
        (width, height, channels, runs) => {
          // Runs of one pixel value, as block-coloured images have, and single odd pixels.
          const data = new Uint8Array(width * height * channels);
          let pixel = 0;
          for (const [length, value] of runs) {
            for (let i = 0; i < length && pixel < width * height; i++, pixel++) {
              data.set(value.slice(0, channels), pixel * channels);
            }
          }
          const image = { data, width, height, channels };
          expect(labelImage(image, { withBoundingBoxes: true })).toEqual(referenceLabels(image));
        },
      ),
    );
  });
});
