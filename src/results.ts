import { HeadObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { isNotFoundError } from "./aws-errors.ts";
import { resultKeyFor } from "./result-keys.ts";
import { getObjectTextIfExists } from "./s3-json.ts";
import {
  type BatchContext,
  type DetectedLabel,
  type ImageRef,
  type ImageResultRecord,
  RESULT_SCHEMA_VERSION,
} from "./shapes.ts";

/**
 * The per-image ledger: one JSON `ImageResultRecord` per image at
 * `resultKeyFor(resultsPrefix, imageKey)` in the results bucket. The object's
 * user metadata repeats the image version it describes, so a HEAD is enough
 * to tell whether it is current.
 *
 * A result is current for an image when it records the image's ETag: versions
 * are compared, never write times (a result written after the image was
 * replaced may still describe the old bytes).
 */

/** User-metadata keys on every result object (S3 lowercases them). */
export const RESULT_METADATA = {
  imageLastModified: "image-last-modified",
  imageEtag: "image-etag",
  status: "result-status",
  runId: "run-id",
} as const;

/**
 * A result object larger than this is not a record this job wrote (a record
 * holds at most a few hundred labels): it is treated as unreadable, unread.
 */
export const MAX_RESULT_BYTES = 1024 * 1024;

/** An ETag without its quotes: listings and metadata disagree on them. */
export function normalizeEtag(etag: string | undefined): string {
  return (etag ?? "").replaceAll('"', "");
}

interface RecordBase {
  context: BatchContext;
  image: ImageRef;
  attempts: number;
  analyzedAt: string;
}

function imageOf(context: BatchContext, image: ImageRef): ImageResultRecord["image"] {
  // The image fields are copied one by one: the record is for exactly this version.
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
    schemaVersion: RESULT_SCHEMA_VERSION,
    status: "succeeded",
    image: imageOf(base.context, base.image),
    projectVersionArn: base.context.projectVersionArn,
    labels: base.labels,
    analyzedAt: base.analyzedAt,
    runId: base.context.runId,
    attempts: base.attempts,
  };
}

/**
 * The record of an image that did not give labels: `failed` when the image
 * itself is bad (final until it changes), `unreadable` when it could not be
 * read (tried again by the next run).
 */
export function failureRecord(
  base: RecordBase & {
    error: { name: string; message: string };
    status?: "failed" | "unreadable";
  },
): ImageResultRecord {
  return {
    schemaVersion: RESULT_SCHEMA_VERSION,
    status: base.status ?? "failed",
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
        [RESULT_METADATA.imageEtag]: normalizeEtag(record.image.etag),
        [RESULT_METADATA.status]: record.status,
        [RESULT_METADATA.runId]: record.runId,
      },
    }),
  );
  return key;
}

/**
 * True when a result settles this version of the image: it records the same
 * ETag, and says the image was analysed (succeeded) or is bad (failed). An
 * `unreadable` result, or one without the version in its metadata, does not.
 */
export function isResultCurrent(
  result: { metadata?: Record<string, string> },
  image: Pick<ImageRef, "etag">,
): boolean {
  const recordedEtag = result.metadata?.[RESULT_METADATA.imageEtag];
  const status = result.metadata?.[RESULT_METADATA.status];
  return (
    recordedEtag !== undefined &&
    recordedEtag === normalizeEtag(image.etag) &&
    (status === "succeeded" || status === "failed")
  );
}

const labelSchema = z.object({
  Name: z.string(),
  Confidence: z.number(),
});

const recordSchema = z.object({
  schemaVersion: z.number().int().min(1).max(RESULT_SCHEMA_VERSION).optional(),
  status: z.enum(["succeeded", "failed", "unreadable"]),
  image: z.object({
    bucket: z.string(),
    key: z.string(),
    etag: z.string(),
    size: z.number(),
    lastModified: z.string(),
  }),
  projectVersionArn: z.string(),
  labels: z.array(labelSchema),
  error: z.object({ name: z.string(), message: z.string() }).optional(),
  analyzedAt: z.string(),
  runId: z.string(),
  attempts: z.number(),
});

/**
 * A result object's text as a record of `imageKey`, or undefined when it is
 * not one: not JSON, another shape, empty, too large, or for another image.
 * Such an entry is treated as absent: the image is analysed again and the
 * entry overwritten.
 */
export function parseResultRecord(text: string, imageKey?: string): ImageResultRecord | undefined {
  if (text.length === 0 || Buffer.byteLength(text, "utf8") > MAX_RESULT_BYTES) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = recordSchema.safeParse(value);
  if (!parsed.success) return undefined;
  if (imageKey !== undefined && parsed.data.image.key !== imageKey) return undefined;
  // The parsed value itself, not zod's copy: label fields zod does not list are kept.
  return value as ImageResultRecord;
}

/**
 * The current result of an image if one exists (an earlier attempt of this
 * batch finished it), else undefined. A HEAD first (the common case is "no
 * result"); the body is read only when the result is current. A result that is
 * unreadable, too large or belongs to another key counts as absent: the image
 * is redone and the entry overwritten.
 */
export async function readCurrentResult(
  s3: S3Client,
  context: BatchContext,
  image: ImageRef,
): Promise<ImageResultRecord | undefined> {
  const key = resultKeyFor(context.resultsPrefix, image.key);
  let head: { Metadata?: Record<string, string>; ContentLength?: number };
  try {
    head = await s3.send(new HeadObjectCommand({ Bucket: context.resultsBucket, Key: key }));
  } catch (error) {
    if (isNotFoundError(error)) return undefined;
    throw error;
  }
  if (!isResultCurrent({ metadata: head.Metadata }, image)) return undefined;
  if ((head.ContentLength ?? 0) > MAX_RESULT_BYTES) return undefined;
  const text = await getObjectTextIfExists({ s3, bucket: context.resultsBucket, key });
  if (text === undefined) return undefined;
  const record = parseResultRecord(text, image.key);
  // The body must agree with the metadata: an entry rewritten by hand is redone.
  if (!record || normalizeEtag(record.image.etag) !== normalizeEtag(image.etag)) return undefined;
  if (record.status === "unreadable") return undefined;
  return record;
}
