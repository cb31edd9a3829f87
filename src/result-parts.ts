import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { runFiles } from "./result-keys.ts";
import type { BatchContext, ImageResultRecord, ResultStatus } from "./shapes.ts";

/**
 * The run's results as a dataset: each batch writes one part,
 * `<prefix>runs/<runId>/results/part-<id>.jsonl.gz`, gzip-compressed JSON
 * Lines with one line per image the batch finished (analysed, failed for good,
 * or unreadable). The ledger under `results/` stays the job's memory; the
 * parts are the copy to query (the Athena table in resources/athena.cjs, the
 * `results` command), one small file per batch instead of one object per image.
 *
 * A part is named after its batch, not its attempt: `<id>` is a digest of the
 * batch's first image key (a run's batches never share an image), so a retried
 * batch overwrites its own part and no image appears twice.
 */

/** Bump when a field changes meaning or goes away; new fields do not bump it. */
export const PART_SCHEMA_VERSION = 1;

const boundingBoxSchema = z.object({
  width: z.number().nullable(),
  height: z.number().nullable(),
  left: z.number().nullable(),
  top: z.number().nullable(),
});

/**
 * One line of a part. Snake case, as the Athena table's columns (the JSON
 * SerDe maps keys to columns by name); the run is the folder, not a field.
 */
export const partLineSchema = z.object({
  schema_version: z.number().int().min(1),
  key: z.string(),
  etag: z.string(),
  status: z.enum(["succeeded", "failed", "unreadable"]),
  labels: z.array(
    z.object({
      name: z.string(),
      confidence: z.number(),
      geometry: z.object({ bounding_box: boundingBoxSchema.nullable() }).nullable(),
    }),
  ),
  error: z.object({ name: z.string(), message: z.string() }).nullable(),
  analyzed_at: z.string(),
  model_version: z.string(),
});

export type PartLine = z.infer<typeof partLineSchema>;
export type PartStatus = Extract<ResultStatus, PartLine["status"]>;

/** The part line of a ledger record. */
export function partLineOf(record: ImageResultRecord): PartLine {
  return {
    schema_version: PART_SCHEMA_VERSION,
    key: record.image.key,
    etag: record.image.etag,
    status: record.status,
    labels: record.labels.map((label) => {
      const box = label.Geometry?.BoundingBox;
      return {
        name: label.Name,
        confidence: label.Confidence,
        geometry: label.Geometry
          ? {
              bounding_box: box
                ? {
                    width: box.Width ?? null,
                    height: box.Height ?? null,
                    left: box.Left ?? null,
                    top: box.Top ?? null,
                  }
                : null,
            }
          : null,
      };
    }),
    error: record.error ? { name: record.error.name, message: record.error.message } : null,
    analyzed_at: record.analyzedAt,
    model_version: record.projectVersionArn,
  };
}

/** The key of the part of the batch whose first image is `firstImageKey`. */
export function partKeyFor(resultsPrefix: string, runId: string, firstImageKey: string): string {
  const id = createHash("sha256").update(firstImageKey, "utf8").digest("hex").slice(0, 32);
  return `${runFiles.resultParts(resultsPrefix, runId)}part-${id}.jsonl.gz`;
}

/** The part's text is handed to gzip in pieces of about this size. */
export const PART_TEXT_CHUNK_BYTES = 64 * 1024;

/**
 * The part's lines, a few at a time: pieces of about `chunkBytes` (a single
 * line longer than that is one piece). Never the whole text at once.
 */
export function* partTextChunks(
  records: readonly ImageResultRecord[],
  chunkBytes = PART_TEXT_CHUNK_BYTES,
): Generator<Buffer> {
  let pending: string[] = [];
  let size = 0;
  for (const record of records) {
    const line = `${JSON.stringify(partLineOf(record))}\n`;
    pending.push(line);
    size += line.length;
    if (size >= chunkBytes) {
      yield Buffer.from(pending.join(""), "utf8");
      pending = [];
      size = 0;
    }
  }
  if (pending.length > 0) yield Buffer.from(pending.join(""), "utf8");
}

/**
 * The gzip-compressed part. The lines are streamed through gzip and only the
 * compressed bytes are kept: a batch of a few thousand images with hundreds
 * of long labels each is hundreds of MB of text but a fraction of that gzipped.
 */
export async function compressPart(records: readonly ImageResultRecord[]): Promise<Buffer> {
  const compressed: Buffer[] = [];
  await pipeline(Readable.from(partTextChunks(records)), createGzip(), async (gzipped) => {
    for await (const chunk of gzipped) compressed.push(chunk as Buffer);
  });
  return Buffer.concat(compressed);
}

/**
 * Writes (or rewrites) the batch's part with one line per record, in one
 * request: a batch holds at most a few thousand images (its input is under
 * 256 KiB), so its compressed part is held in memory, not its text. The key
 * depends on the batch only, so a retry replaces the part as a whole. Nothing
 * is written for a batch that finished no image.
 */
export async function writeResultPart(opts: {
  s3: S3Client;
  context: BatchContext;
  firstImageKey: string;
  records: readonly ImageResultRecord[];
}): Promise<{ key: string; lines: number } | undefined> {
  const { s3, context, records } = opts;
  if (records.length === 0) return undefined;
  const key = partKeyFor(context.resultsPrefix, context.runId, opts.firstImageKey);
  await s3.send(
    new PutObjectCommand({
      Bucket: context.resultsBucket,
      Key: key,
      Body: await compressPart(records),
      // No Content-Encoding: clients would then unzip on download and the
      // `.gz` name (which is how Athena knows to decompress) would lie.
      ContentType: "application/gzip",
    }),
  );
  return { key, lines: records.length };
}
