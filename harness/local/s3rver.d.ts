/**
 * The part of s3rver 3.7.1 (which ships no types) that the embedded S3 server
 * uses. See `harness/local/s3-server.ts`.
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

  /** Its store: s3rver's own file store (declared below), or a subclass of it. */
  type S3rverStore = import("s3rver/lib/stores/filesystem.js").default;

  class S3rver {
    constructor(options?: S3rverOptions);
    store: S3rverStore;
    /** Koa's context prototype: request handlers read `ctx.store` from it. */
    readonly context: { store: S3rverStore };
    readonly logger: { close(): void };
    /** The Koa request handler, for mounting on an HTTP server of our own. */
    callback(): RequestListener;
  }

  export default S3rver;
}

/** s3rver's own file store, subclassed by `harness/local/s3-store.ts`. */
declare module "s3rver/lib/stores/filesystem.js" {
  class FilesystemStore {
    constructor(rootDirectory: string);
    readonly rootDirectory: string;
    getBucketPath(bucket: string): string;
    getResourcePath(bucket: string, key: string | undefined, resource: string): string;
    getMetadata(bucket: string, key: string): Promise<Record<string, unknown>>;
    putMetadata(
      bucket: string,
      key: string,
      metadata: Record<string, unknown>,
      md5?: string,
    ): Promise<void>;
    putObject(object: unknown): Promise<{ size: number; md5: string }>;
    copyObject(
      srcBucket: string,
      srcKey: string,
      destBucket: string,
      destKey: string,
      replacementMetadata?: Record<string, unknown>,
    ): Promise<unknown>;
    deleteObject(bucket: string, key: string): Promise<void>;
    listObjects(bucket: string, options: object): Promise<unknown>;
    getBucket(name: string): Promise<{ name: string; creationDate: Date } | null>;
    putBucket(name: string): Promise<{ name: string; creationDate: Date } | null>;
    deleteBucket(name: string): Promise<void>;
    /** Null when the object does not exist; `content` streams its bytes. */
    getObject(
      bucket: string,
      key: string,
    ): Promise<{ size: number; content: import("node:stream").Readable } | null>;
    getSubresource(bucket: string, key: string | undefined, type: string): Promise<unknown>;
    putSubresource(
      bucket: string,
      key: string | undefined,
      resource: { type: string },
    ): Promise<void>;
    deleteSubresource(bucket: string, key: string | undefined, type: string): Promise<void>;
  }
  export default FilesystemStore;
}

declare module "s3rver/lib/models/object.js" {
  class S3Object {
    static readonly ALLOWED_METADATA: string[];
    constructor(bucket: string, key: string, content: unknown, metadata: unknown);
  }
  export default S3Object;
}

declare module "s3rver/lib/models/config.js" {
  /** The class of a bucket or object configuration ("cors", "website", "tagging"), built from its XML. */
  export function getConfigModel(type: string): new (xml: string) => unknown;
}
