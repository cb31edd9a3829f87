import {
  DetectCustomLabelsCommand,
  type Image,
  type RekognitionClient,
} from "@aws-sdk/client-rekognition";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { ImageUnreadableError, isImageReadError } from "./aws-errors.ts";
import { IMAGE_LIMITS } from "./backlog.ts";
import type { BatchContext, DetectedLabel, ImageRef } from "./shapes.ts";

/** DetectCustomLabels accepts at most this many bytes in `Image.Bytes`. */
export const MAX_IMAGE_BYTES = IMAGE_LIMITS.bytesMaxBytes;

/**
 * A Bytes-mode image over the 4 MB limit. Named like Rekognition's own error
 * so it is classified and recorded the same way, but raised before any call.
 */
export class ImageTooLargeForBytesError extends Error {
  constructor(key: string, size: number) {
    super(
      `${key} is ${size} bytes, over the ${MAX_IMAGE_BYTES}-byte limit for images passed as bytes; use imageMode S3Object`,
    );
    this.name = "ImageTooLargeException";
  }
}

/** An image read for Bytes mode, with the version GetObject returned. */
export interface LoadedImage {
  bytes: Uint8Array;
  /** The ETag of the bytes read (the object may have been replaced since it was listed). */
  etag?: string;
  lastModified?: string;
}

/**
 * Reads an image for Bytes mode. Refuses, without downloading, an image whose
 * listed size is over the limit, and checks the size actually read too (the
 * object may have been replaced since it was listed). A refusal to read this
 * object (access denied, KMS, gone) becomes `ImageUnreadableError`.
 */
export async function loadImageBytes(
  s3: S3Client,
  context: BatchContext,
  image: ImageRef,
): Promise<LoadedImage> {
  if (image.size > MAX_IMAGE_BYTES) throw new ImageTooLargeForBytesError(image.key, image.size);
  let response: Awaited<ReturnType<typeof getObject>>;
  try {
    response = await getObject(s3, context.imagesBucket, image.key);
  } catch (error) {
    if (isImageReadError(error)) throw new ImageUnreadableError(image.key, error);
    throw error;
  }
  if (!response.Body) throw new Error(`GetObject returned no body for ${image.key}`);
  const bytes = await response.Body.transformToByteArray();
  if (bytes.byteLength > MAX_IMAGE_BYTES) {
    throw new ImageTooLargeForBytesError(image.key, bytes.byteLength);
  }
  return {
    bytes,
    ...(response.ETag ? { etag: response.ETag } : {}),
    ...(response.LastModified ? { lastModified: response.LastModified.toISOString() } : {}),
  };
}

function getObject(s3: S3Client, bucket: string, key: string) {
  return s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
}

/** The `Image` argument of DetectCustomLabels: bytes when given, else a reference to the S3 object. */
export function imageArgument(context: BatchContext, image: ImageRef, bytes?: Uint8Array): Image {
  if (bytes) return { Bytes: bytes };
  return { S3Object: { Bucket: context.imagesBucket, Name: image.key } };
}

/**
 * One DetectCustomLabels call for one image, with MinConfidence and
 * MaxResults from the batch context. Pass `bytes` for Bytes mode (see
 * `loadImageBytes`). Errors are the SDK's, untouched: classify them with
 * `classifyDetectionError`.
 */
export async function detectImage(
  rekognition: RekognitionClient,
  context: BatchContext,
  image: ImageRef,
  bytes?: Uint8Array,
): Promise<DetectedLabel[]> {
  const response = await rekognition.send(
    new DetectCustomLabelsCommand({
      ProjectVersionArn: context.projectVersionArn,
      Image: imageArgument(context, image, bytes),
      MinConfidence: context.minConfidence,
      MaxResults: context.maxResults,
    }),
  );
  return (response.CustomLabels ?? []).map((label) => {
    const result: DetectedLabel = { Name: label.Name ?? "", Confidence: label.Confidence ?? 0 };
    const box = label.Geometry?.BoundingBox;
    if (box) {
      result.Geometry = {
        BoundingBox: { Width: box.Width, Height: box.Height, Left: box.Left, Top: box.Top },
      };
    }
    return result;
  });
}
