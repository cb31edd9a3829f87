import sharp from "sharp";
import { ApiError } from "./api-error.ts";
import type { RawImage } from "./labeler.ts";

export const MIN_IMAGE_SIDE = 64;
export const MAX_IMAGE_SIDE = 4096;
/** Images are shrunk to fit inside this square before labelling, so large ones stay fast. */
export const ANALYSIS_SIDE = 128;

export type ImageFormat = "jpeg" | "png";

/** JPEG or PNG, decided by the leading magic bytes (never by a name or a content type). */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return "jpeg";
  }
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= png.length && png.every((byte, i) => bytes[i] === byte)) return "png";
  return undefined;
}

/**
 * Checks format and dimensions the way DetectCustomLabels does, then decodes
 * the pixels: alpha is flattened onto white (a transparent area reads as
 * white), and the image is shrunk to fit inside 128 x 128 with the nearest-
 * neighbour kernel so block colours stay pure. A truncated or corrupt image
 * fails to decode and is reported as an invalid format.
 */
export async function decodeImage(bytes: Buffer): Promise<RawImage> {
  const format = sniffImageFormat(bytes);
  if (!format) {
    throw new ApiError("InvalidImageFormatException", "Request has unsupported image format.");
  }
  // One instance reads the header, then decodes: the input is taken in once.
  const image = sharp(bytes, { failOn: "truncated" });
  let width: number | undefined;
  let height: number | undefined;
  try {
    ({ width, height } = await image.metadata());
  } catch {
    throw new ApiError("InvalidImageFormatException", "Request has invalid image format.");
  }
  if (!width || !height) {
    throw new ApiError("InvalidImageFormatException", "Request has invalid image format.");
  }
  const outside = (side: number) => side < MIN_IMAGE_SIDE || side > MAX_IMAGE_SIDE;
  if (outside(width) || outside(height)) {
    // AWS documents the 64-4096 px limit but not the error it answers with;
    // InvalidParameterException naming the dimensions is the closest match.
    throw new ApiError(
      "InvalidParameterException",
      `Request has invalid image dimensions: ${width}x${height} px; each side must be ${MIN_IMAGE_SIDE}-${MAX_IMAGE_SIDE} px.`,
    );
  }
  try {
    const { data, info } = await image
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .resize(ANALYSIS_SIDE, ANALYSIS_SIDE, {
        fit: "inside",
        withoutEnlargement: true,
        kernel: "nearest",
      })
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, channels: info.channels };
  } catch {
    throw new ApiError("InvalidImageFormatException", "Request has invalid image format.");
  }
}
