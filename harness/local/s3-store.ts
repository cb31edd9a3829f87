import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream, type Dirent } from "node:fs";
import {
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  rmdir,
  stat,
  unlink,
  writeFile,
} from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { getConfigModel } from "s3rver/lib/models/config.js";
import S3Object from "s3rver/lib/models/object.js";
import FilesystemStore from "s3rver/lib/stores/filesystem.js";

/**
 * s3rver's store, made safe for every key S3 accepts.
 *
 * s3rver keeps an object as `<key>._S3rver_object` (plus `.md5` and
 * `._S3rver_metadata.json` beside it), one folder per path segment. That
 * breaks on keys S3 accepts: a segment near 255 bytes overflows the file-name
 * limit (ENAMETOOLONG, once an unhandled stream error that killed the
 * process), `//`, `.` and `..` segments collapse or climb out of the bucket,
 * and a segment containing `._S3rver_` collides with the store's own files.
 *
 * Keys that are safe as paths keep s3rver's layout (existing data folders
 * stay readable). Every other key lives under `~s3~keys/<sha256 of key>`, with
 * the real key in a `<sha256>._S3rver_key` file beside it so that listings can
 * name it. Listings sort the real keys by their UTF-8 bytes, as S3 does.
 *
 * Writes go to a temporary file renamed into place, so a failed or
 * interrupted upload never leaves a half-written object behind; a metadata or
 * checksum file that cannot be parsed is treated as absent rather than
 * failing every later request for that key.
 */

/** Marks the store's own names; no key segment that starts with it is kept as-is. */
const MARKER = "~s3~";
/** Folder (at the bucket's top level) for keys that are not safe as paths. */
const HASHED_FOLDER = `${MARKER}keys`;
const S3RVER_INFIX = "._S3rver_";
const OBJECT_SUFFIX = `${S3RVER_INFIX}object`;
const KEY_SUFFIX = `${S3RVER_INFIX}key`;
/**
 * The longest segment kept as a file name. File systems allow 255 bytes; the
 * longest suffix s3rver appends is `._S3rver_metadata.json` (22 bytes).
 */
const MAX_SEGMENT_BYTES = 200;
/** Longer keys are hashed whatever their segments, to stay well within path-length limits. */
const MAX_PLAIN_KEY_BYTES = 600;

/** Whether `key` can be stored under s3rver's own one-file-per-key layout. */
export function isPathSafeKey(key: string): boolean {
  if (Buffer.byteLength(key, "utf8") > MAX_PLAIN_KEY_BYTES) return false;
  const segments = key.split("/");
  return segments.every((segment, index) => {
    const last = index === segments.length - 1;
    // Empty, "." and ".." folders would collapse in path.join; a last segment
    // only ever becomes part of a file name, where they are harmless.
    if (!last && (segment === "" || segment === "." || segment === "..")) return false;
    return (
      !segment.startsWith(MARKER) &&
      !segment.includes(S3RVER_INFIX) &&
      !segment.includes("\0") &&
      !segment.includes("\\") &&
      Buffer.byteLength(segment, "utf8") <= MAX_SEGMENT_BYTES
    );
  });
}

const digestOf = (key: string) => createHash("sha256").update(key, "utf8").digest("hex");

const isNotFound = (error: unknown) =>
  (error as NodeJS.ErrnoException)?.code === "ENOENT" ||
  (error as NodeJS.ErrnoException)?.code === "ENOTDIR";

/** Writes a file so that readers see either the old content or the new, never a part. */
async function writeFileAtomic(path: string, content: string | Buffer): Promise<void> {
  const temporary = join(dirname(path), `${MARKER}tmp-${randomUUID()}`);
  try {
    await writeFile(temporary, content);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Byte order of UTF-8, S3's listing order (JavaScript's `<` compares UTF-16 units). */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

interface ListOptions {
  delimiter?: string;
  startAfter?: string;
  prefix?: string;
  maxKeys?: number;
}

/** What s3rver's store answers for a bucket that exists. */
type StoredBucket = { name: string; creationDate: Date };

// biome-ignore lint/suspicious/noExplicitAny: s3rver's models are untyped JavaScript.
type S3rverObject = any;

/** The standard headers s3rver keeps with an object (besides x-amz-meta-*). */
const ALLOWED_METADATA = new Set<string>(S3Object.ALLOWED_METADATA);

export class SafeKeyStore extends FilesystemStore {
  /** digest -> key; a digest always names the same key, so this never goes stale. */
  private readonly hashedKeys = new Map<string, string>();
  /**
   * Bucket -> its S3Bucket (name and creation date), for buckets known to
   * exist. s3rver looks the bucket up on every request (a `stat`), and reads
   * the bucket's CORS and website configurations (two more file reads, which
   * almost always fail with ENOENT): together about a tenth of the CPU of a
   * request. Every change to buckets and their configurations goes through
   * this store (the data folder belongs to one process at a time), which
   * drops the cached entries it changes.
   */
  private readonly buckets = new Map<string, Promise<StoredBucket | null>>();
  /** "<bucket>/<type>" -> the bucket-level configuration's XML, or null when there is none. */
  private readonly bucketConfigs = new Map<string, Promise<string | null>>();
  /**
   * Folders this store made or found, so that a write to a key whose folder
   * exists makes no `mkdir` (two per PUT otherwise). A folder this store
   * removes is dropped; one removed behind its back makes a write fail once
   * with ENOENT, which drops it too, and S3 clients retry the 500.
   */
  private readonly folders = new Set<string>();

  private async ensureFolder(folder: string): Promise<void> {
    if (this.folders.has(folder)) return;
    await mkdir(folder, { recursive: true });
    this.folders.add(folder);
  }

  private forgetFolders(under: string): void {
    for (const folder of this.folders) {
      if (folder === under || folder.startsWith(`${under}/`)) this.folders.delete(folder);
    }
  }

  override getResourcePath(bucket: string, key = "", resource: string): string {
    if (isPathSafeKey(key)) return super.getResourcePath(bucket, key, resource);
    return join(
      this.getBucketPath(bucket),
      HASHED_FOLDER,
      `${digestOf(key)}${S3RVER_INFIX}${resource}`,
    );
  }

  override getBucket(bucket: string): Promise<StoredBucket | null> {
    const cached = this.buckets.get(bucket);
    if (cached) return cached;
    const found = super.getBucket(bucket);
    // Only a bucket that exists is remembered: a missing one is looked up again.
    this.buckets.set(bucket, found);
    found.then(
      (value) => {
        if (!value && this.buckets.get(bucket) === found) this.buckets.delete(bucket);
      },
      () => {
        if (this.buckets.get(bucket) === found) this.buckets.delete(bucket);
      },
    );
    return found;
  }

  override async putBucket(bucket: string): Promise<StoredBucket | null> {
    this.forgetBucket(bucket);
    return super.putBucket(bucket);
  }

  override async deleteBucket(bucket: string): Promise<void> {
    this.forgetBucket(bucket);
    try {
      await super.deleteBucket(bucket);
    } finally {
      this.forgetBucket(bucket);
    }
  }

  private forgetBucket(bucket: string): void {
    this.buckets.delete(bucket);
    this.forgetFolders(this.getBucketPath(bucket));
    for (const name of [...this.bucketConfigs.keys()]) {
      if (name.startsWith(`${bucket}/`)) this.bucketConfigs.delete(name);
    }
  }

  /** A bucket-level configuration (CORS, website, ...) is read once; an object's (tagging) every time. */
  override async getSubresource(
    bucket: string,
    key: string | undefined,
    type: string,
  ): Promise<unknown> {
    if (key) return super.getSubresource(bucket, key, type);
    const name = `${bucket}/${type}`;
    let xml = this.bucketConfigs.get(name);
    if (!xml) {
      const path = this.getResourcePath(bucket, undefined, `${type}.xml`);
      const read = readFile(path, "utf8").catch((error: unknown) => {
        if (isNotFound(error)) return null;
        throw error;
      });
      xml = read;
      this.bucketConfigs.set(name, read);
      read.catch(() => {
        if (this.bucketConfigs.get(name) === read) this.bucketConfigs.delete(name);
      });
    }
    const text = await xml;
    // A new model each time, as s3rver's own store gives: callers never share one.
    return text === null ? null : new (getConfigModel(type))(text);
  }

  override async putSubresource(
    bucket: string,
    key: string | undefined,
    resource: { type: string },
  ): Promise<void> {
    if (!key) this.bucketConfigs.delete(`${bucket}/${resource.type}`);
    try {
      await super.putSubresource(bucket, key, resource);
    } finally {
      if (!key) this.bucketConfigs.delete(`${bucket}/${resource.type}`);
    }
  }

  override async deleteSubresource(
    bucket: string,
    key: string | undefined,
    type: string,
  ): Promise<void> {
    if (!key) this.bucketConfigs.delete(`${bucket}/${type}`);
    try {
      await super.deleteSubresource(bucket, key, type);
    } finally {
      if (!key) this.bucketConfigs.delete(`${bucket}/${type}`);
    }
  }

  /** Records the real key of a hashed one, before its object appears. */
  private async rememberKey(bucket: string, key: string): Promise<void> {
    if (isPathSafeKey(key)) return;
    const digest = digestOf(key);
    if (this.hashedKeys.get(digest) === key) return;
    const path = this.getResourcePath(bucket, key, "key");
    await this.ensureFolder(dirname(path));
    await writeFileAtomic(path, key);
    this.hashedKeys.set(digest, key);
  }

  /**
   * An object's size, and its bytes on demand; null when there is none. For
   * reads that need only the bytes (the emulator's Image.S3Object): one stat
   * and one read, without the metadata and checksum files a GetObject reads.
   */
  async readObjectContent(
    bucket: string,
    key: string,
  ): Promise<{ size: number; read: () => Promise<Buffer> } | null> {
    const objectPath = this.getResourcePath(bucket, key, "object");
    try {
      const { size } = await stat(objectPath);
      return { size, read: () => readFile(objectPath) };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  override async getMetadata(bucket: string, key: string): Promise<Record<string, unknown>> {
    const objectPath = this.getResourcePath(bucket, key, "object");
    const metadataPath = this.getResourcePath(bucket, key, "metadata.json");
    const md5Path = `${objectPath}.md5`;
    // Throws ENOENT when the object does not exist, which callers expect.
    const stats = await stat(objectPath);
    const stored = await readFile(metadataPath, "utf8").then(
      (text) => {
        try {
          return JSON.parse(text) as Record<string, unknown>;
        } catch {
          return undefined; // unreadable metadata: the object is still served
        }
      },
      (error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      },
    );
    let md5 = await readFile(md5Path, "utf8").catch((error: unknown) => {
      if (isNotFound(error)) return "";
      throw error;
    });
    if (!/^[0-9a-f]{32}$/.test(md5)) {
      const hash = createHash("md5");
      await pipeline(createReadStream(objectPath), hash);
      md5 = hash.digest("hex");
      await writeFileAtomic(md5Path, md5);
    }
    return {
      ...stored,
      etag: JSON.stringify(md5),
      "last-modified": stats.mtime.toUTCString(),
      "content-length": stats.size,
    };
  }

  override async putMetadata(
    bucket: string,
    key: string,
    metadata: Record<string, unknown>,
    md5?: string,
  ): Promise<void> {
    const metadataPath = this.getResourcePath(bucket, key, "metadata.json");
    await this.ensureFolder(dirname(metadataPath));
    await this.rememberKey(bucket, key);
    const kept = Object.fromEntries(
      Object.entries(metadata).filter(
        ([name]) => ALLOWED_METADATA.has(name) || name.startsWith("x-amz-meta-"),
      ),
    );
    if (md5) await writeFileAtomic(this.getResourcePath(bucket, key, "object.md5"), md5);
    await writeFileAtomic(metadataPath, JSON.stringify(kept, null, 2));
  }

  override async putObject(object: S3rverObject): Promise<{ size: number; md5: string }> {
    const { bucket, key } = object as { bucket: string; key: string };
    const objectPath = this.getResourcePath(bucket, key, "object");
    await this.ensureFolder(dirname(objectPath));
    await this.rememberKey(bucket, key);
    const temporary = join(dirname(objectPath), `${MARKER}tmp-${randomUUID()}`);
    const hash = createHash("md5");
    let size = 0;
    try {
      const content: Readable = Buffer.isBuffer(object.content)
        ? Readable.from([object.content])
        : object.content;
      // pipeline() routes every stream's error to the promise: a failed write
      // is an S3 error response, never an unhandled 'error' event.
      await pipeline(
        content,
        new Transform({
          transform(chunk: Buffer, _encoding, done) {
            hash.update(chunk);
            size += chunk.length;
            done(null, chunk);
          },
        }),
        createWriteStream(temporary),
      );
      const md5 = hash.digest("hex");
      await this.putMetadata(bucket, key, object.metadata ?? {});
      // The old checksum goes first: if we stop between the renames, the
      // checksum is recomputed from whichever object is in place.
      await unlink(`${objectPath}.md5`).catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
      await rename(temporary, objectPath);
      await writeFileAtomic(`${objectPath}.md5`, md5);
      return { size, md5 };
    } catch (error) {
      if (isNotFound(error)) this.forgetFolders(dirname(objectPath));
      await rm(temporary, { force: true });
      throw error;
    }
  }

  override async copyObject(
    srcBucket: string,
    srcKey: string,
    destBucket: string,
    destKey: string,
    replacementMetadata?: Record<string, unknown>,
  ): Promise<unknown> {
    await this.rememberKey(destBucket, destKey);
    return super.copyObject(srcBucket, srcKey, destBucket, destKey, replacementMetadata);
  }

  override async deleteObject(bucket: string, key: string): Promise<void> {
    await Promise.all(
      ["object", "object.md5", "metadata.json"].map((resource) =>
        rm(this.getResourcePath(bucket, key, resource), { force: true }),
      ),
    );
    if (!isPathSafeKey(key)) return;
    // Remove the folders the key leaves empty (a missing one is fine: S3
    // deletes of absent keys succeed).
    const bucketPath = this.getBucketPath(bucket);
    const folders = key.split("/").slice(0, -1);
    while (folders.length > 0) {
      try {
        const folder = join(bucketPath, ...folders);
        this.forgetFolders(folder);
        await rmdir(folder);
      } catch {
        return; // not empty, or already gone
      }
      folders.pop();
    }
  }

  override async listObjects(
    bucket: string,
    options: ListOptions,
  ): Promise<{ objects: S3rverObject[]; commonPrefixes: string[]; isTruncated: boolean }> {
    const {
      delimiter = "",
      startAfter = "",
      prefix = "",
      maxKeys = Number.POSITIVE_INFINITY,
    } = options;
    const bucketPath = this.getBucketPath(bucket);
    const wanted = (key: string) =>
      key.startsWith(prefix) && (startAfter === "" || compareUtf8(key, startAfter) > 0);
    /** Whether a folder holding keys that start with `folderPrefix` can hold any wanted key. */
    const mayHold = (folderPrefix: string) =>
      (folderPrefix.startsWith(prefix) || prefix.startsWith(folderPrefix)) &&
      (startAfter === "" ||
        startAfter.startsWith(folderPrefix) ||
        compareUtf8(folderPrefix, startAfter) > 0);

    /**
     * The path-safe keys in byte order, lazily, so a page stops reading once
     * it is full. Each folder's entries are sorted by their key (a file) or
     * their key prefix "<name>/" (a folder): no sibling key falls between two
     * keys of one folder, so visiting in that order yields global byte order.
     */
    async function* plainKeys(folder: string, keyPrefix: string): AsyncGenerator<string> {
      let entries: Dirent[];
      try {
        entries = await readdir(folder, { withFileTypes: true });
      } catch (error) {
        if (isNotFound(error)) return;
        throw error;
      }
      const items: { order: Buffer; key?: string; folder?: string }[] = [];
      for (const entry of entries) {
        const name = entry.name;
        if (entry.isDirectory()) {
          // The store's own folders: hashed keys (merged in below) and uploads.
          if (name.startsWith(MARKER) || name.includes(S3RVER_INFIX)) continue;
          const folderPrefix = `${keyPrefix}${name}/`;
          if (mayHold(folderPrefix)) items.push({ order: Buffer.from(folderPrefix), folder: name });
        } else if (name.endsWith(OBJECT_SUFFIX)) {
          const key = keyPrefix + name.slice(0, -OBJECT_SUFFIX.length);
          if (wanted(key) && isPathSafeKey(key)) items.push({ order: Buffer.from(key), key });
        }
      }
      items.sort((a, b) => Buffer.compare(a.order, b.order));
      for (const item of items) {
        if (item.key !== undefined) yield item.key;
        else if (item.folder !== undefined) {
          yield* plainKeys(join(folder, item.folder), `${keyPrefix}${item.folder}/`);
        }
      }
    }
    const hashed = (await this.hashedKeysOf(bucketPath)).filter(wanted).sort(compareUtf8);
    /** Plain and hashed keys merged, in byte order. */
    async function* allKeys(): AsyncGenerator<string> {
      let next = 0;
      for await (const key of plainKeys(bucketPath, "")) {
        while (next < hashed.length && compareUtf8(hashed[next] as string, key) < 0) {
          yield hashed[next++] as string;
        }
        yield key;
      }
      while (next < hashed.length) yield hashed[next++] as string;
    }

    const commonPrefixes = new Set<string>();
    const page: string[] = [];
    let isTruncated = false;
    for await (const key of allKeys()) {
      if (delimiter) {
        const index = key.indexOf(delimiter, prefix.length);
        if (index !== -1) {
          commonPrefixes.add(key.slice(0, index + delimiter.length));
          continue;
        }
      }
      if (page.length >= maxKeys) {
        isTruncated = true;
        break;
      }
      page.push(key);
    }
    const metadata = await Promise.all(
      page.map((key) =>
        this.getMetadata(bucket, key).catch((error: unknown) => {
          if (isNotFound(error)) return undefined; // deleted while we listed
          throw error;
        }),
      ),
    );
    return {
      objects: page.flatMap((key, index) =>
        metadata[index] === undefined ? [] : [new S3Object(bucket, key, null, metadata[index])],
      ),
      commonPrefixes: [...commonPrefixes].sort(compareUtf8),
      isTruncated,
    };
  }

  /** The real keys of the hashed objects in a bucket. */
  private async hashedKeysOf(bucketPath: string): Promise<string[]> {
    const folder = join(bucketPath, HASHED_FOLDER);
    let names: string[];
    try {
      names = await readdir(folder);
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
    const keys: string[] = [];
    for (const name of names) {
      if (!name.endsWith(OBJECT_SUFFIX)) continue;
      const digest = name.slice(0, -OBJECT_SUFFIX.length);
      let key = this.hashedKeys.get(digest);
      if (key === undefined) {
        key = await readFile(join(folder, `${digest}${KEY_SUFFIX}`), "utf8").catch(() => undefined);
        // A key file that is missing or does not match its digest names nothing.
        if (key === undefined || digestOf(key) !== digest) continue;
        this.hashedKeys.set(digest, key);
      }
      keys.push(key);
    }
    return keys;
  }
}
