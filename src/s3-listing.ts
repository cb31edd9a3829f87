import { type _Object, paginateListObjectsV2, type S3Client } from "@aws-sdk/client-s3";
import { MAX_S3_KEY_BYTES } from "./result-keys.ts";

/** One listed object, with the fields the job uses always present. */
export interface ListedObject {
  key: string;
  size: number;
  etag: string;
  lastModified: Date;
}

/** S3 lists keys in the order of their UTF-8 bytes. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/**
 * The greatest key S3 can hold that starts with `prefix`: every key under the
 * prefix sorts at or before it, every other key after it sorts after it too.
 * As a `StartAfter` it jumps over the whole prefix in one request. Built from
 * the greatest UTF-8 sequence of each length (U+10FFFF is F4 8F BF BF), filling
 * the 1,024 bytes a key may have.
 */
export function greatestKeyWithPrefix(prefix: string): string {
  const room = Math.max(0, MAX_S3_KEY_BYTES - Buffer.byteLength(prefix, "utf8"));
  const tail = ["", "\u007F", "\u07FF", "\uFFFF"][room % 4];
  return `${prefix}${"\u{10FFFF}".repeat(Math.floor(room / 4))}${tail}`;
}

/**
 * A range of keys `(after, upTo]`: after `after` (exclusive, as S3's
 * `StartAfter`), up to and including `upTo`. Either end may be open. A
 * sharded Plan gives each shard one such range (see `plan-shards.ts`).
 */
export interface KeyRange {
  after?: string;
  upTo?: string;
}

/** Whether `key` lies in `range`. */
export function inRange(key: string, range: KeyRange): boolean {
  if (range.after !== undefined && compareKeys(key, range.after) <= 0) return false;
  return range.upTo === undefined || compareKeys(key, range.upTo) <= 0;
}

/**
 * Every object under `prefix`, page by page (ListObjectsV2 through the SDK
 * paginator), in S3's key order. Keys arrive exactly as stored: no
 * `EncodingType=url`, so nothing needs decoding and `+`, spaces and unicode
 * pass through unchanged.
 *
 * An empty `prefix` sends no `prefix` parameter at all (the whole bucket).
 * `exclude` names folders under `prefix` that are not listed: when the listing
 * reaches one, it starts again after it (`StartAfter`), so a large folder
 * costs one request, not its pages. A key inside an excluded folder is never
 * yielded, even from a server that orders keys differently.
 *
 * `range` lists only the keys in `(after, upTo]`: the listing starts after
 * `after` and stops at the first key past `upTo`, without reading further.
 */
export async function* listObjects(
  s3: S3Client,
  opts: {
    bucket: string;
    prefix: string;
    pageSize?: number;
    exclude?: readonly string[];
    range?: KeyRange;
  },
): AsyncGenerator<ListedObject> {
  const upTo = opts.range?.upTo;
  const excluded = [...(opts.exclude ?? [])]
    .filter((folder) => folder !== "" && folder.startsWith(opts.prefix))
    .sort(compareKeys);
  let startAfter: string | undefined = opts.range?.after;
  let next = 0; // the first excluded folder not yet passed
  listing: for (;;) {
    const pages = paginateListObjectsV2(
      { client: s3, pageSize: opts.pageSize },
      {
        Bucket: opts.bucket,
        Prefix: opts.prefix === "" ? undefined : opts.prefix,
        ...(startAfter === undefined ? {} : { StartAfter: startAfter }),
      },
    );
    for await (const page of pages) {
      for (const object of page.Contents ?? []) {
        const listed = toListed(object);
        if (!listed) continue;
        if (upTo !== undefined && compareKeys(listed.key, upTo) > 0) return;
        if (startAfter !== undefined && compareKeys(listed.key, startAfter) <= 0) continue;
        while (
          next < excluded.length &&
          !listed.key.startsWith(excluded[next] as string) &&
          compareKeys(listed.key, excluded[next] as string) > 0
        ) {
          next += 1; // an empty excluded folder: already behind us
        }
        const folder = excluded[next];
        if (folder !== undefined && listed.key.startsWith(folder)) {
          startAfter = greatestKeyWithPrefix(folder);
          next += 1;
          continue listing;
        }
        if (excluded.some((f) => listed.key.startsWith(f))) continue;
        yield listed;
      }
    }
    return;
  }
}

function toListed(object: _Object): ListedObject | undefined {
  if (object.Key === undefined) return undefined;
  return {
    key: object.Key,
    size: object.Size ?? 0,
    etag: object.ETag ?? "",
    lastModified: object.LastModified ?? new Date(0),
  };
}

/**
 * Passes a listing through, failing when a key does not sort after the one
 * before it: the merge-joins over listings are exact only in S3's key order.
 */
export async function* inKeyOrder<T extends { key: string }>(
  listing: AsyncIterable<T>,
  what: string,
): AsyncGenerator<T> {
  let previous: string | undefined;
  for await (const item of listing) {
    if (previous !== undefined && compareKeys(item.key, previous) <= 0) {
      throw new Error(
        `${what} is not in S3's key order (UTF-8 bytes): ${JSON.stringify(item.key)} came after ${JSON.stringify(previous)}`,
      );
    }
    previous = item.key;
    yield item;
  }
}
