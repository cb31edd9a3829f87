import type { IncomingMessage, ServerResponse } from "node:http";

/** Requests larger than this are refused before parsing (4 MB of image is ~5.6 MB of base64). */
export const MAX_REQUEST_BYTES = 8 * 1024 * 1024;

export class RequestTooLarge extends Error {}

/** Reads the whole body, refusing more than `limit` bytes. */
export async function readBody(
  request: IncomingMessage,
  limit = MAX_REQUEST_BYTES,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new RequestTooLarge(`request body over ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}
