/**
 * Reading S3 objects as text, JSON and JSON Lines: the one way every part of
 * the product (and the local harness) does it.
 */
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { isNotFoundError } from "./aws-errors.ts";

/** Where an object is, and what may cancel reading it. */
export interface ObjectLocation {
  s3: S3Client;
  bucket: string;
  key: string;
  signal?: AbortSignal;
}

/** The object's body as UTF-8 text ("" when it has none). S3 errors are thrown as they are. */
export async function getObjectText(location: ObjectLocation): Promise<string> {
  const { s3, bucket, key, signal } = location;
  const response = await s3.send(
    new GetObjectCommand({ Bucket: bucket, Key: key }),
    signal ? { abortSignal: signal } : {},
  );
  return (await response.Body?.transformToString("utf-8")) ?? "";
}

/** Like `getObjectText`, but `undefined` when there is no such object (a 404). */
export async function getObjectTextIfExists(location: ObjectLocation): Promise<string | undefined> {
  try {
    return await getObjectText(location);
  } catch (error) {
    if (isNotFoundError(error)) return undefined;
    throw error;
  }
}

/** The object parsed as JSON. Throws, naming `s3://bucket/key`, when it is not JSON. */
export async function getObjectJson(location: ObjectLocation): Promise<unknown> {
  return parseJson(await getObjectText(location), s3Uri(location));
}

/** Parses JSON text; the error names `where`. */
export function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${where} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

/** JSON Lines: one JSON value per line (LF or CRLF); blank lines are skipped. The error names the line. */
export function parseJsonLines(text: string, where: string): unknown[] {
  const items: unknown[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === "") return;
    items.push(parseJson(line, `${where} line ${index + 1}`));
  });
  return items;
}

export function s3Uri(location: { bucket: string; key: string }): string {
  return `s3://${location.bucket}/${location.key}`;
}
