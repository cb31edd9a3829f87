import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
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

const gzipAsync = promisify(gzip);

/**
 * Writes (or rewrites) the batch's part with one line per record. A batch
 * holds at most a few thousand images (its input is under 256 KiB), so the
 * part is built in memory and put in one request. Nothing is written for a
 * batch that finished no image.
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
  const text = records.map((record) => `${JSON.stringify(partLineOf(record))}\n`).join("");
  await s3.send(
    new PutObjectCommand({
      Bucket: context.resultsBucket,
      Key: key,
      Body: await gzipAsync(Buffer.from(text, "utf8")),
      // No Content-Encoding: clients would then unzip on download and the
      // `.gz` name (which is how Athena knows to decompress) would lie.
      ContentType: "application/gzip",
    }),
  );
  return { key, lines: records.length };
}
