/**
 * The part of s3rver 3.7.1 (which ships no types) that the embedded S3 server
 * uses. See `src/local/s3-server.ts`.
 */
declare module "s3rver" {
  import type { RequestListener } from "node:http";

  interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory?: string;
    resetOnClose?: boolean;
    allowMismatchedSignatures?: boolean;
    vhostBuckets?: boolean;
    serviceEndpoint?: string;
  }

  interface S3rverStore {
    getBucket(name: string): Promise<{ name: string; creationDate: Date } | null>;
    putBucket(name: string): Promise<{ name: string; creationDate: Date } | null>;
  }

  class S3rver {
    constructor(options?: S3rverOptions);
    readonly store: S3rverStore;
    readonly logger: { close(): void };
    /** The Koa request handler, for mounting on an HTTP server of our own. */
    callback(): RequestListener;
  }

  export default S3rver;
}
