import { once } from "node:events";
import { PassThrough } from "node:stream";
import { createGzip } from "node:zlib";
import type { S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { readJsonLines } from "./json-lines.ts";
import { runFiles } from "./result-keys.ts";
import type { ImageRef, SkippedObject } from "./shapes.ts";

const JSONL_CONTENT_TYPE = "application/x-ndjson";

/**
 * Streams JSON lines into one S3 object (multipart once it passes 5 MB), so
 * a million-line manifest is never held in memory. Call `close()` to finish
 * the object, or `abort()` to drop it.
 */
export class JsonlObjectWriter<T> {
  private readonly body = new PassThrough();
  private readonly upload: Upload;
  private readonly finished: Promise<unknown>;
  /** Rejects as soon as the upload fails; never resolves. */
  private readonly failed: Promise<never>;
  private uploadError: unknown;
  lines = 0;
  bytes = 0;

  /** `gzip` compresses the object as it streams (`application/gzip`). */
  constructor(opts: { s3: S3Client; bucket: string; key: string; gzip?: boolean }) {
    this.upload = new Upload({
      client: opts.s3,
      params: {
        Bucket: opts.bucket,
        Key: opts.key,
        Body: opts.gzip ? this.body.pipe(createGzip()) : this.body,
        ContentType: opts.gzip ? "application/gzip" : JSONL_CONTENT_TYPE,
      },
    });
    this.finished = this.upload.done();
    this.failed = this.finished.then(
      () => new Promise<never>(() => {}),
      (error: unknown) => {
        this.uploadError = error;
        throw error;
      },
    );
    // Failures surface through write()/close(); this only keeps Node from
    // reporting the rejection as unhandled in the meantime.
    this.failed.catch(() => {});
  }

  /** Appends one record as one line; waits while the upload catches up. */
  async write(record: T): Promise<void> {
    if (this.uploadError !== undefined) throw this.uploadError;
    const line = `${JSON.stringify(record)}\n`;
    this.lines += 1;
    this.bytes += Buffer.byteLength(line, "utf8");
    if (!this.body.write(line)) await Promise.race([once(this.body, "drain"), this.failed]);
  }

  /** Ends the object and waits until S3 has it. */
  async close(): Promise<{ lines: number; bytes: number }> {
    this.body.end();
    await this.finished;
    return { lines: this.lines, bytes: this.bytes };
  }

  /** Drops the object (a multipart upload in progress is aborted). */
  async abort(): Promise<void> {
    await this.upload.abort().catch(() => {});
    this.body.destroy();
    await this.finished.catch(() => {});
  }
}

/** Writes every record as one JSON line to `bucket`/`key`. */
export async function writeJsonl<T>(opts: {
  s3: S3Client;
  bucket: string;
  key: string;
  records: Iterable<T> | AsyncIterable<T>;
}): Promise<{ lines: number; bytes: number }> {
  const writer = new JsonlObjectWriter<T>(opts);
  try {
    for await (const record of opts.records) await writer.write(record);
  } catch (error) {
    await writer.abort();
    throw error;
  }
  return writer.close();
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

interface RunFileLocation {
  s3: S3Client;
  bucket: string;
  resultsPrefix: string;
  runId: string;
}

/** Reads a run's manifest back. */
export function readManifest(opts: RunFileLocation): Promise<ImageRef[]> {
  return collect(
    readJsonLines<ImageRef>({
      s3: opts.s3,
      bucket: opts.bucket,
      key: runFiles.manifest(opts.resultsPrefix, opts.runId),
    }),
  );
}

/** Reads a run's skipped list back. */
export function readSkippedList(opts: RunFileLocation): Promise<SkippedObject[]> {
  return collect(
    readJsonLines<SkippedObject>({
      s3: opts.s3,
      bucket: opts.bucket,
      key: runFiles.skipped(opts.resultsPrefix, opts.runId),
    }),
  );
}
