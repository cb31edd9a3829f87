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
