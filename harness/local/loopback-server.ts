import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { LOOPBACK_HOST } from "./s3-server.ts";

/**
 * The one way the harness's AWS JSON-protocol servers (the Custom Labels
 * emulator, the local Step Functions API, the local CloudWatch) listen and
 * read their requests.
 */

export interface LoopbackServer {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  port: number;
  /** Stops listening and cuts open connections; the same promise on every call. */
  close(): Promise<void>;
}

/** Serves `handler` on 127.0.0.1 (`port` 0: any free port). */
export async function listenOnLoopback(
  handler: RequestListener,
  port = 0,
): Promise<LoopbackServer> {
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, LOOPBACK_HOST, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    endpoint: `http://${LOOPBACK_HOST}:${bound}`,
    port: bound,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

/**
 * The operation an AWS JSON-protocol request names
 * (`X-Amz-Target: <service>.<Operation>`), or `undefined` when it names none
 * of `service`'s.
 */
export function awsJsonOperation(request: IncomingMessage, service: string): string | undefined {
  const target = request.headers["x-amz-target"];
  const prefix = `${service}.`;
  return typeof target === "string" && target.startsWith(prefix) && target.length > prefix.length
    ? target.slice(prefix.length)
    : undefined;
}

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
