import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { resultKeyFor } from "./result-keys.ts";
import type { BatchContext, DetectedLabel, ImageRef, ImageResultRecord } from "./shapes.ts";

/**
 * The per-image ledger: one JSON `ImageResultRecord` per image at
 * `resultKeyFor(resultsPrefix, imageKey)` in the results bucket. The object's
 * user metadata repeats the image version it describes, so a HEAD is enough
 * to tell whether it is current.
 */

/** User-metadata keys on every result object (S3 lowercases them). */
export const RESULT_METADATA = {
  imageLastModified: "image-last-modified",
  imageEtag: "image-etag",
  status: "result-status",
} as const;

interface RecordBase {
  context: BatchContext;
  image: ImageRef;
  attempts: number;
  analyzedAt: string;
}

function imageOf(context: BatchContext, image: ImageRef): ImageResultRecord["image"] {
  return {
    bucket: context.imagesBucket,
    key: image.key,
    etag: image.etag,
    size: image.size,
    lastModified: image.lastModified,
  };
}

/** The record of an analysed image. */
export function successRecord(base: RecordBase & { labels: DetectedLabel[] }): ImageResultRecord {
  return {
    status: "succeeded",
    image: imageOf(base.context, base.image),
    projectVersionArn: base.context.projectVersionArn,
    labels: base.labels,
    analyzedAt: base.analyzedAt,
    runId: base.context.runId,
    attempts: base.attempts,
  };
}

/** The record of an image that can never be analysed as it is. */
export function failureRecord(
  base: RecordBase & { error: { name: string; message: string } },
): ImageResultRecord {
  return {
    status: "failed",
    image: imageOf(base.context, base.image),
    projectVersionArn: base.context.projectVersionArn,
    labels: [],
    error: { name: base.error.name, message: base.error.message },
    analyzedAt: base.analyzedAt,
    runId: base.context.runId,
    attempts: base.attempts,
  };
}

/** Writes one record to its ledger key; returns the key. */
export async function writeImageResult(
  s3: S3Client,
  context: BatchContext,
  record: ImageResultRecord,
): Promise<string> {
  const key = resultKeyFor(context.resultsPrefix, record.image.key);
  await s3.send(
    new PutObjectCommand({
      Bucket: context.resultsBucket,
      Key: key,
      Body: JSON.stringify(record),
      ContentType: "application/json",
      Metadata: {
        [RESULT_METADATA.imageLastModified]: record.image.lastModified,
        [RESULT_METADATA.imageEtag]: record.image.etag.replaceAll('"', ""),
        [RESULT_METADATA.status]: record.status,
      },
    }),
  );
  return key;
}

/**
 * True when a result describes this version of the image (or a later one):
 * by the image time recorded in its metadata, else by when it was written.
 */
export function isResultCurrent(
  result: { metadata?: Record<string, string>; lastModified?: Date },
  image: ImageRef,
): boolean {
  const imageTime = Date.parse(image.lastModified);
  const recorded = result.metadata?.[RESULT_METADATA.imageLastModified];
  if (recorded !== undefined && !Number.isNaN(Date.parse(recorded))) {
    return Date.parse(recorded) >= imageTime;
  }
  return result.lastModified !== undefined && result.lastModified.getTime() >= imageTime;
}

function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === "NotFound" || e?.name === "NoSuchKey" || e?.$metadata?.httpStatusCode === 404;
}

function isImageResultRecord(value: unknown, imageKey: string): value is ImageResultRecord {
  const record = value as Partial<ImageResultRecord> | null;
  return (
    typeof record === "object" &&
    record !== null &&
    (record.status === "succeeded" || record.status === "failed") &&
    Array.isArray(record.labels) &&
    record.image?.key === imageKey
  );
}

/**
 * The current result of an image if one exists (an earlier attempt of this
 * batch finished it), else undefined. A HEAD first (the common case is "no
 * result"); the body is read only when the result is current. A result that is
 * unreadable or belongs to another key counts as absent: the image is redone.
 */
export async function readCurrentResult(
  s3: S3Client,
  context: BatchContext,
  image: ImageRef,
): Promise<ImageResultRecord | undefined> {
  const key = resultKeyFor(context.resultsPrefix, image.key);
  let head: { Metadata?: Record<string, string>; LastModified?: Date };
  try {
    head = await s3.send(new HeadObjectCommand({ Bucket: context.resultsBucket, Key: key }));
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  if (!isResultCurrent({ metadata: head.Metadata, lastModified: head.LastModified }, image)) {
    return undefined;
  }
  let text: string;
  try {
    const response = await s3.send(
      new GetObjectCommand({ Bucket: context.resultsBucket, Key: key }),
    );
    text = (await response.Body?.transformToString("utf-8")) ?? "";
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    return isImageResultRecord(parsed, image.key) ? parsed : undefined;
  } catch {
    return undefined;
  }
}
