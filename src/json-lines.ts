/**
 * Reading a JSON Lines object from S3 as a stream: the body (gunzipped when
 * asked), split into lines, each parsed and, given a schema, checked. Every
 * JSON Lines file the job reads (manifests, skipped lists, the ledger
 * snapshot, the result parts) goes through here, so each gets the same
 * bounded memory and the same errors, naming the object and the line.
 */
import { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { createGunzip } from "node:zlib";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import type { z } from "zod";
import type { ObjectLocation } from "./s3-json.ts";

/** The longest line read by default: far above any line the job writes. */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;

export interface JsonLinesOptions<T> {
  /** The object is gzip-compressed (`.jsonl.gz`). */
  gzip?: boolean;
  /** Checks each line; the error names the first field that does not match. */
  schema?: z.ZodType<T>;
  maxLineBytes?: number;
  /** What a valid line is, for errors: "a result line". */
  lineName?: string;
}

/** Splits a byte stream into lines (without "\n" or "\r\n"); the last line may lack one. */
export async function* splitLines(
  chunks: AsyncIterable<Buffer | string>,
  maxLineBytes = MAX_LINE_BYTES,
): AsyncGenerator<string> {
  const decoder = new StringDecoder("utf8");
  let pending = "";
  for await (const chunk of chunks) {
    pending += typeof chunk === "string" ? chunk : decoder.write(chunk);
    let start = 0;
    let newline = pending.indexOf("\n");
    while (newline !== -1) {
      yield pending.slice(start, newline).replace(/\r$/, "");
      start = newline + 1;
      newline = pending.indexOf("\n", start);
    }
    pending = pending.slice(start);
    if (pending.length > maxLineBytes) {
      throw new Error(`a line is longer than ${maxLineBytes} bytes`);
    }
  }
  pending += decoder.end();
  if (pending !== "") yield pending.replace(/\r$/, "");
}

function bodyStream(body: unknown): Readable {
  if (body instanceof Readable) return body;
  const sdkBody = body as {
    transformToWebStream?: () => unknown;
    transformToByteArray?: () => Promise<Uint8Array>;
  };
  if (sdkBody?.transformToWebStream) {
    return Readable.fromWeb(
      sdkBody.transformToWebStream() as import("node:stream/web").ReadableStream,
    );
  }
  if (sdkBody?.transformToByteArray) {
    const bytes = sdkBody.transformToByteArray.bind(sdkBody);
    return Readable.from(
      (async function* () {
        yield Buffer.from(await bytes());
      })(),
    );
  }
  throw new Error("the S3 response has no readable body");
}

/**
 * The object's lines as values, streamed (blank lines skipped). S3's own
 * errors (a missing object) are thrown as they are; a line that is not JSON
 * or does not match the schema throws an error naming the object and line.
 */
export async function* readJsonLines<T>(
  location: ObjectLocation,
  options: JsonLinesOptions<T> = {},
): AsyncGenerator<T> {
  const { s3, bucket, key, signal } = location;
  const where = `s3://${bucket}/${key}`;
  const response = await s3.send(
    new GetObjectCommand({ Bucket: bucket, Key: key }),
    signal ? { abortSignal: signal } : {},
  );
  if (!response.Body) return;
  const body = bodyStream(response.Body);
  const gunzip = options.gzip ? createGunzip() : undefined;
  // pipe() does not pass the body's errors on: the gunzip stream carries them.
  if (gunzip) body.once("error", (error) => gunzip.destroy(error));
  let lineNumber = 0;
  try {
    for await (const line of splitLines(gunzip ? body.pipe(gunzip) : body, options.maxLineBytes)) {
      lineNumber += 1;
      if (line.trim() === "") continue;
      yield parseLine(line, `${where} line ${lineNumber}`, options);
    }
  } catch (error) {
    if (error instanceof Error && error.message.startsWith(where)) throw error;
    throw new Error(
      `${where} could not be read: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  } finally {
    body.destroy();
    gunzip?.destroy();
  }
}

function parseLine<T>(line: string, where: string, options: JsonLinesOptions<T>): T {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new Error(`${where} is not JSON`, { cause: error });
  }
  if (!options.schema) return value as T;
  const parsed = options.schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new Error(
    `${where} is not ${options.lineName ?? "a valid line"}: ${issue?.path.join(".") || "(line)"} ${issue?.message ?? ""}`.trim(),
  );
}
