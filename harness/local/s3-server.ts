import { mkdir } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import S3rver from "s3rver";
import { CLIENT_DEFAULTS } from "../../src/clients.ts";
import { SafeKeyStore } from "./s3-store.ts";

/**
 * The embedded S3: s3rver (patched, see `patches/s3rver+3.7.1.patch`) served
 * in-process on loopback, keeping buckets and objects as plain files.
 */

/** Where the local stack keeps its data: `.local-data/` under the project root (git-ignored). */
export const PROJECT_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const DEFAULT_S3_DIRECTORY = resolve(PROJECT_ROOT, ".local-data", "s3");

/** The only address any local server binds to. */
export const LOOPBACK_HOST = "127.0.0.1";

/** s3rver checks SigV4 signatures against this single built-in account. */
export const LOCAL_S3_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

export const LOCAL_REGION = "us-east-1";

export interface S3ServerOptions {
  /** TCP port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  /** Folder holding the buckets; default `.local-data/s3` under the project root. Created if missing. */
  directory?: string;
  /** Buckets to create before the server accepts requests (existing ones are kept). */
  buckets?: string[];
  /** Log every request to the console; default false. */
  verbose?: boolean;
  /** Runs before s3rver (IAM enforcement); resolves true when it answered the request itself. */
  gate?: (request: IncomingMessage, response: ServerResponse) => Promise<boolean>;
}

/** An object read from the store: its length and a stream of its bytes. */
export interface StoredObjectRead {
  contentLength: number;
  body: Readable;
}

export interface EmbeddedS3 {
  /** `http://127.0.0.1:<port>`, for `endpoint` / `AWS_ENDPOINT_URL_S3`. */
  endpoint: string;
  port: number;
  directory: string;
  /** Creates the bucket if it does not exist; safe to call any number of times. */
  ensureBucket(name: string): Promise<void>;
  /**
   * Reads an object straight from the store, as a GetObject by s3rver's own
   * account would (no IAM gate, no HTTP): for the emulator's `Image.S3Object`
   * reads, which are the model's own and need no request of their own. A
   * missing bucket or key rejects with S3's NoSuchBucket or NoSuchKey.
   */
  readObject(bucket: string, key: string): Promise<StoredObjectRead>;
  /** Stops accepting connections, closes idle keep-alive sockets, waits for in-flight requests. */
  close(): Promise<void>;
}

// S3's naming rules (the subset s3rver enforces on CreateBucket, applied here
// too because ensureBucket writes through s3rver's store, not its API).
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Throws when `name` is not a valid S3 bucket name. */
export function assertBucketName(name: string): void {
  if (!BUCKET_NAME.test(name) || name.includes("..")) {
    throw new Error(
      `Invalid bucket name "${name}": use 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit`,
    );
  }
}

/**
 * Starts s3rver in this process on 127.0.0.1 (never on other interfaces).
 * Resolves once the port is listening and the requested buckets exist.
 */
export async function startS3Server(options: S3ServerOptions = {}): Promise<EmbeddedS3> {
  const directory = resolve(options.directory ?? DEFAULT_S3_DIRECTORY);
  for (const bucket of options.buckets ?? []) assertBucketName(bucket);
  await mkdir(directory, { recursive: true });

  const s3rver = new S3rver({
    directory,
    silent: !options.verbose,
    // Clients use path-style URLs; without this s3rver would read any
    // non-IP host name as a virtual-hosted bucket.
    vhostBuckets: false,
    resetOnClose: false,
  });
  // s3rver's own store fails on keys S3 accepts (long segments, "..", "//"):
  // this one stores every valid key and turns storage errors into S3 errors.
  const store = new SafeKeyStore(directory);
  s3rver.store = store;
  s3rver.context.store = store;

  const ensureBucket = async (name: string) => {
    assertBucketName(name);
    await s3rver.store.putBucket(name);
  };
  for (const bucket of options.buckets ?? []) await ensureBucket(bucket);
  const readObject = async (bucket: string, key: string): Promise<StoredObjectRead> => {
    // The same checks and messages as s3rver's GetObject.
    if (!(await store.getBucket(bucket))) {
      throw s3Error("NoSuchBucket", "The specified bucket does not exist");
    }
    const object = await store.readObjectContent(bucket, key);
    if (!object) throw s3Error("NoSuchKey", "The specified key does not exist.");
    // The bytes are read only when the body is: an object over the caller's limit is never loaded.
    const body = Readable.from(
      (async function* () {
        yield await object.read();
      })(),
    );
    return { contentLength: object.size, body };
  };

  // Our own HTTP server around s3rver's handler (rather than s3rver.run()) so
  // that a failed listen (port taken) rejects instead of crashing the process.
  const handler = s3rver.callback();
  const { gate } = options;
  const server = createServer(
    gate
      ? (request, response) => {
          gate(request, response).then(
            (answered) => {
              if (!answered) handler(request, response);
            },
            (error: unknown) => {
              response.writeHead(500).end(String(error));
            },
          );
        }
      : handler,
  );
  try {
    await listen(server, options.port ?? 0);
  } catch (error) {
    s3rver.logger.close();
    throw error;
  }
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://${LOOPBACK_HOST}:${port}`,
    port,
    directory,
    ensureBucket,
    readObject,
    close: () => {
      closing ??= new Promise<void>((done, fail) => {
        server.close((error) => {
          s3rver.logger.close();
          if (error) fail(error);
          else done();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

function s3Error(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((done, fail) => {
    const onError = (error: Error) => fail(error);
    server.once("error", onError);
    server.listen(port, LOOPBACK_HOST, () => {
      server.off("error", onError);
      done();
    });
  });
}

/**
 * Why `WHEN_REQUIRED` for both checksum settings: since early 2025 the SDK
 * adds a CRC32 checksum to every upload by default. For a body of unknown
 * or streamed content it does so by sending the body `aws-chunked` (chunk
 * sizes and a trailing checksum interleaved with the data). s3rver predates
 * that encoding and stores the request body as it arrives, framing included,
 * so the object comes back corrupted. `WHEN_REQUIRED` restores plain bodies.
 * The response setting stops the SDK asking for checksums s3rver never sends.
 */
const LOCAL_CHECKSUM_MODE = "WHEN_REQUIRED" as const;

/** Settings for an `S3Client` that talks to the embedded S3 at `endpoint`. */
export function localS3ClientConfig(endpoint: string) {
  return {
    endpoint,
    region: LOCAL_REGION,
    forcePathStyle: true,
    credentials: { ...LOCAL_S3_CREDENTIALS },
    requestChecksumCalculation: LOCAL_CHECKSUM_MODE,
    responseChecksumValidation: LOCAL_CHECKSUM_MODE,
    ...CLIENT_DEFAULTS,
  };
}

export interface LocalEndpoints {
  s3: string;
  rekognition?: string;
  sfn?: string;
  cloudwatch?: string;
}

/**
 * The environment variables that make `createAwsClients()` (and the AWS CLI)
 * talk to the local servers: standard `AWS_ENDPOINT_URL_*` endpoints, the
 * checksum settings above (which the SDK reads from the environment itself),
 * path-style S3 addressing, a region, and the credentials s3rver accepts.
 */
export function localAwsEnvironment(endpoints: LocalEndpoints): Record<string, string> {
  const env: Record<string, string> = {
    AWS_ENDPOINT_URL_S3: endpoints.s3,
    S3_FORCE_PATH_STYLE: "true",
    AWS_REQUEST_CHECKSUM_CALCULATION: LOCAL_CHECKSUM_MODE,
    AWS_RESPONSE_CHECKSUM_VALIDATION: LOCAL_CHECKSUM_MODE,
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
  if (endpoints.rekognition) env.AWS_ENDPOINT_URL_REKOGNITION = endpoints.rekognition;
  if (endpoints.sfn) env.AWS_ENDPOINT_URL_SFN = endpoints.sfn;
  if (endpoints.cloudwatch) env.AWS_ENDPOINT_URL_CLOUDWATCH = endpoints.cloudwatch;
  return env;
}
