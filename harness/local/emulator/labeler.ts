/**
 * The emulator's stand-in model: deterministic, and it really looks at the
 * pixels. Every pixel is mapped to the nearest colour of a small palette; the
 * colours that cover enough of the image are the labels, their share of the
 * pixels is the confidence, and the box enclosing a colour's pixels is its
 * bounding box.
 */

export interface PaletteColour {
  name: string;
  rgb: readonly [number, number, number];
}

export const PALETTE: readonly PaletteColour[] = [
  { name: "red", rgb: [255, 0, 0] },
  { name: "green", rgb: [0, 255, 0] },
  { name: "blue", rgb: [0, 0, 255] },
  { name: "yellow", rgb: [255, 255, 0] },
  { name: "black", rgb: [0, 0, 0] },
  { name: "white", rgb: [255, 255, 255] },
];

/** Colours covering less than this share of the pixels are not reported. */
export const MIN_LABEL_SHARE = 0.01;

/** Raw interleaved pixels, as sharp's `.raw()` gives them (alpha already flattened). */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

export interface BoundingBox {
  Width: number;
  Height: number;
  Left: number;
  Top: number;
}

export interface ColourLabel {
  Name: string;
  Confidence: number;
  Geometry?: { BoundingBox: BoundingBox };
}

export interface LabelOptions {
  withBoundingBoxes: boolean;
  /** 0-100; labels below are dropped. */
  minConfidence?: number;
  /** Keep at most this many labels (after sorting). */
  maxResults?: number;
}

/** The palette's channels side by side (r0 g0 b0 r1 ...), read once per pixel without allocating. */
const PALETTE_RGB = Int32Array.from(PALETTE.flatMap((colour) => [...colour.rgb]));

/** Index into PALETTE of the colour nearest to (r, g, b), by squared RGB distance. */
export function nearestColour(r: number, g: number, b: number): number {
  let best = 0;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (let i = 0; i < PALETTE.length; i++) {
    const dr = r - (PALETTE_RGB[i * 3] as number);
    const dg = g - (PALETTE_RGB[i * 3 + 1] as number);
    const db = b - (PALETTE_RGB[i * 3 + 2] as number);
    const distance = dr * dr + dg * dg + db * db;
    if (distance < bestDistance) {
      bestDistance = distance;
      best = i;
    }
  }
  return best;
}

/**
 * Labels of an image: colours covering >= 1 % of the pixels, Confidence =
 * share x 100, sorted by confidence (then name, for a stable order), filtered
 * by `minConfidence` and cut to `maxResults`.
 */
export function labelImage(image: RawImage, options: LabelOptions): ColourLabel[] {
  const { data, width, height, channels } = image;
  const count = PALETTE.map(() => 0);
  const box = PALETTE.map(() => ({ minX: width, minY: height, maxX: -1, maxY: -1 }));
  // Neighbouring pixels mostly share a colour: the last pixel's answer is reused
  // (the same (r, g, b) always maps to the same palette colour).
  let lastPixel = -1;
  let lastColour = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const offset = (y * width + x) * channels;
      const r = data[offset] ?? 0;
      // Grey-scale images have one channel: the same value for r, g and b.
      const g = channels >= 3 ? (data[offset + 1] ?? 0) : r;
      const b = channels >= 3 ? (data[offset + 2] ?? 0) : r;
      const pixel = (r << 16) | (g << 8) | b;
      if (pixel !== lastPixel) {
        lastPixel = pixel;
        lastColour = nearestColour(r, g, b);
      }
      const colour = lastColour;
      count[colour] = (count[colour] ?? 0) + 1;
      const bounds = box[colour];
      if (!bounds) continue;
      if (x < bounds.minX) bounds.minX = x;
      if (x > bounds.maxX) bounds.maxX = x;
      if (y < bounds.minY) bounds.minY = y;
      if (y > bounds.maxY) bounds.maxY = y;
    }
  }
  const total = width * height;
  const labels: ColourLabel[] = [];
  PALETTE.forEach((colour, i) => {
    const share = total === 0 ? 0 : (count[i] ?? 0) / total;
    if (share < MIN_LABEL_SHARE) return;
    const label: ColourLabel = { Name: colour.name, Confidence: round(share * 100) };
    const bounds = box[i];
    if (options.withBoundingBoxes && bounds) {
      label.Geometry = {
        BoundingBox: {
          Width: round((bounds.maxX - bounds.minX + 1) / width),
          Height: round((bounds.maxY - bounds.minY + 1) / height),
          Left: round(bounds.minX / width),
          Top: round(bounds.minY / height),
        },
      };
    }
    labels.push(label);
  });
  labels.sort((a, b) => b.Confidence - a.Confidence || a.Name.localeCompare(b.Name));
  const minConfidence = options.minConfidence ?? 0;
  const kept = labels.filter((label) => label.Confidence >= minConfidence);
  return options.maxResults === undefined ? kept : kept.slice(0, options.maxResults);
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
