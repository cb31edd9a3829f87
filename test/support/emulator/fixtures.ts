import { RekognitionClient } from "@aws-sdk/client-rekognition";
import sharp from "sharp";

/** A Rekognition client for the emulator: dummy credentials, no SDK retries. */
export function emulatorClient(endpoint: string): RekognitionClient {
  return new RekognitionClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 1,
  });
}

export type Rgb = { r: number; g: number; b: number };

/** A PNG of `background` with rectangles painted on it. */
export async function paintedImage(
  width: number,
  height: number,
  background: Rgb,
  rectangles: { left: number; top: number; width: number; height: number; colour: Rgb }[] = [],
  format: "png" | "jpeg" = "png",
): Promise<Buffer> {
  const layers = await Promise.all(
    rectangles.map(async (rect) => ({
      input: await sharp({
        create: { width: rect.width, height: rect.height, channels: 3, background: rect.colour },
      })
        .png()
        .toBuffer(),
      left: rect.left,
      top: rect.top,
    })),
  );
  const image = sharp({ create: { width, height, channels: 3, background } }).composite(layers);
  return format === "png" ? image.png().toBuffer() : image.jpeg({ quality: 95 }).toBuffer();
}

export const RED: Rgb = { r: 255, g: 0, b: 0 };
export const GREEN: Rgb = { r: 0, g: 255, b: 0 };
export const BLUE: Rgb = { r: 0, g: 0, b: 255 };
export const WHITE: Rgb = { r: 255, g: 255, b: 255 };

/** The SDK error a call rejected with, for asserting on `name` and HTTP status. */
export async function sdkError(call: Promise<unknown>): Promise<{
  name: string;
  status: number | undefined;
  message: string;
}> {
  try {
    await call;
  } catch (error) {
    const e = error as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
  }
  throw new Error("expected the call to fail, it succeeded");
}

/** Polls `condition` until it holds or the deadline passes (no fixed sleeps). */
export async function eventually<T>(
  probe: () => T | Promise<T>,
  condition: (value: T) => boolean,
  { timeoutMs = 15_000, intervalMs = 25, what = "condition" } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T;
  for (;;) {
    last = await probe();
    if (condition(last)) return last;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
