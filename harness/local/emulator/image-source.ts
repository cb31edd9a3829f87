import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from "@aws-sdk/client-s3";
import { ApiError, invalidParameter } from "./api-error.ts";

/** Image.Bytes must decode to at most this many bytes. */
export const MAX_IMAGE_BYTES = 4 * 1024 * 1024;
/** Image.S3Object may be at most this large. */
export const MAX_S3_OBJECT_BYTES = 15 * 1024 * 1024;

/** An S3 object being read: its declared length and its bytes. */
export interface S3ObjectRead {
  contentLength?: number;
  body?: AsyncIterable<Uint8Array> & { destroy?: () => void };
}

/**
 * Reads an S3 object for `Image.S3Object`; rejects with an error named as S3
 * names it (NoSuchKey, NoSuchBucket, AccessDenied ...).
 */
export type S3ObjectReader = (
  bucket: string,
  key: string,
  version?: string,
) => Promise<S3ObjectRead>;

/** The reader that goes through an S3 client (any S3-compatible endpoint). */
export function s3ClientReader(s3: S3Client): S3ObjectReader {
  return async (bucket, key, version) => {
    const response: GetObjectCommandOutput = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: version }),
    );
    return {
      contentLength: response.ContentLength,
      body: response.Body as S3ObjectRead["body"],
    };
  };
}

/**
 * The bytes of the `Image` parameter of DetectCustomLabels: base64 `Bytes`
 * (already decoded size-checked here) or an `S3Object` read through the
 * injected reader.
 */
export async function readImageParameter(
  image: unknown,
  s3: S3ObjectReader | undefined,
): Promise<Buffer> {
  if (typeof image !== "object" || image === null || Array.isArray(image)) {
    throw invalidParameter("Image", "is required and must be an object with Bytes or S3Object.");
  }
  const { Bytes: bytes, S3Object: s3Object } = image as Record<string, unknown>;
  if (bytes !== undefined && s3Object !== undefined) {
    throw invalidParameter("Image", "must have either Bytes or S3Object, not both.");
  }
  if (bytes !== undefined) return decodeBytes(bytes);
  if (s3Object !== undefined) return readS3Object(s3Object, s3);
  throw invalidParameter("Image", "must have Bytes or S3Object.");
}

function decodeBytes(bytes: unknown): Buffer {
  if (typeof bytes !== "string") throw invalidParameter("Image.Bytes", "must be a base64 string.");
  const buffer = Buffer.from(bytes, "base64");
  if (buffer.length === 0) throw invalidParameter("Image.Bytes", "must not be empty.");
  if (buffer.length > MAX_IMAGE_BYTES) {
    throw new ApiError(
      "ImageTooLargeException",
      `Image.Bytes is ${buffer.length} bytes; the limit is ${MAX_IMAGE_BYTES} bytes (4 MB).`,
    );
  }
  return buffer;
}

async function readS3Object(s3Object: unknown, s3: S3ObjectReader | undefined): Promise<Buffer> {
  if (typeof s3Object !== "object" || s3Object === null) {
    throw invalidParameter("Image.S3Object", "must be an object with Bucket and Name.");
  }
  const { Bucket: bucket, Name: name, Version: version } = s3Object as Record<string, unknown>;
  if (typeof bucket !== "string" || bucket.length < 3) {
    throw invalidParameter("Image.S3Object.Bucket", "is required (3-255 characters).");
  }
  if (typeof name !== "string" || name.length === 0) {
    throw invalidParameter("Image.S3Object.Name", "is required (1-1024 characters).");
  }
  if (version !== undefined && typeof version !== "string") {
    throw invalidParameter("Image.S3Object.Version", "must be a string.");
  }
  if (!s3) {
    throw new ApiError(
      "InvalidS3ObjectException",
      "The emulator has no S3 endpoint configured (start it with an s3Endpoint).",
    );
  }
  let response: S3ObjectRead;
  try {
    response = await s3(bucket, name, version);
  } catch (error) {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new ApiError(
      "InvalidS3ObjectException",
      `Unable to get object s3://${bucket}/${name} (${reason}).`,
    );
  }
  const body = response.body;
  if ((response.contentLength ?? 0) > MAX_S3_OBJECT_BYTES) {
    body?.destroy?.();
    throw tooLargeS3Object(bucket, name, response.contentLength ?? 0);
  }
  if (!body) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    // The declared length can be absent; never buffer more than the limit.
    if (size > MAX_S3_OBJECT_BYTES) {
      body.destroy?.();
      throw tooLargeS3Object(bucket, name, size);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function tooLargeS3Object(bucket: string, name: string, size: number): ApiError {
  return new ApiError(
    "ImageTooLargeException",
    `s3://${bucket}/${name} is ${size} bytes or more; the limit for S3 objects is ${MAX_S3_OBJECT_BYTES} bytes (15 MB).`,
  );
}
