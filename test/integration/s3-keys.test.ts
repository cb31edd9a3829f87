import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  paginateListObjectsV2,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type EmbeddedS3,
  localS3ClientConfig,
  startS3Server,
} from "../../harness/local/s3-server.ts";

/**
 * Every key S3 accepts (up to 1,024 UTF-8 bytes, any segment length, any
 * characters) must round-trip through the embedded S3, list in S3's order
 * (UTF-8 bytes) and never take the server down.
 */

const BUCKET = "key-test";
let dataDir: string;
let server: EmbeddedS3;
let s3: S3Client;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "s3-keys-test-"));
  server = await startS3Server({ directory: dataDir, buckets: [BUCKET] });
  s3 = new S3Client({ ...localS3ClientConfig(server.endpoint), maxAttempts: 1 });
});

afterAll(async () => {
  s3?.destroy();
  await server?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const bytes = (key: string) => Buffer.byteLength(key, "utf8");
const byUtf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

async function put(key: string, body: string, bucket = BUCKET) {
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: "text/plain" }),
  );
}

async function get(key: string): Promise<string> {
  const response = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return (await response.Body?.transformToString()) ?? "";
}

async function listAll(prefix: string, pageSize: number) {
  const keys: string[] = [];
  for await (const page of paginateListObjectsV2(
    { client: s3, pageSize },
    { Bucket: BUCKET, Prefix: prefix },
  )) {
    for (const object of page.Contents ?? []) keys.push(object.Key ?? "");
  }
  return keys;
}

/** S3 lists such keys only with EncodingType=url (XML 1.0 cannot carry them), which s3rver lacks. */
const hasNoControlCharacters = (key: string) =>
  [...key].every((c) => (c.codePointAt(0) ?? 0) >= 0x20);

describe("keys the file system cannot hold as-is", () => {
  const long = (length: number, folder: string) => `${folder}/${"x".repeat(length - 4)}.jpg`;
  // A 1,000-byte segment: the whole key stays under S3's 1,024 bytes.
  const cases = [230, 235, 240, 255, 1000].map((length) => [
    length,
    long(length, `long-${length}`),
  ]);

  it.each(cases)("a %i-byte segment is stored, read, listed and deleted", async (_, key) => {
    await put(key as string, `body of ${key}`);
    expect(await get(key as string)).toBe(`body of ${key}`);
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key as string }));
    expect(head.ContentType).toBe("text/plain");
    const folder = (key as string).split("/")[0] as string;
    expect(await listAll(`${folder}/`, 1000)).toEqual([key]);
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key as string }));
    expect(await listAll(`${folder}/`, 1000)).toEqual([]);
  });

  it("multi-byte keys near 1,024 bytes round-trip", async () => {
    const keys = [
      `mb/${"é".repeat(510)}`, // 3 + 1,020 bytes
      `mb/${"😀".repeat(255)}.`, // 3 + 1,020 + 1 bytes
      `mb/${"日本/".repeat(100)}${"語".repeat(40)}`, // many folders, then a long name
    ];
    for (const key of keys) expect(bytes(key)).toBeLessThanOrEqual(1024);
    for (const key of keys) await put(key, key);
    for (const key of keys) expect(await get(key)).toBe(key);
    expect(await listAll("mb/", 2)).toEqual([...keys].sort(byUtf8));
  });

  it("keys with empty, '.', '..' and look-alike segments stay distinct and inside the bucket", async () => {
    const keys = [
      "odd/a/b",
      "odd/a//b",
      "odd//a/b",
      "odd/./a/b",
      "odd/../odd/a/b",
      "odd/a/",
      "odd/a",
      "odd/x._S3rver_object",
      "odd/x._S3rver_metadata.json",
      "odd/~s3~keys/y",
      "odd/sp ace+plus%25&amp;<>\"'?#=",
    ];
    for (const key of keys) await put(key, `v:${key}`);
    for (const key of keys) expect(await get(key)).toBe(`v:${key}`);
    expect(await listAll("odd/", 3)).toEqual([...keys].sort(byUtf8));
    // Nothing escaped the bucket's folder.
    expect((await readdir(dataDir)).sort()).toEqual([BUCKET]);
  });

  it("lists in UTF-8 byte order, where UTF-16 order differs", async () => {
    // In UTF-16 the emoji (surrogates 0xD83D...) sorts before U+FF5E; in
    // UTF-8 bytes (F0 9F... against EF BD...) it sorts after.
    const keys = ["order/\uFF5E", "order/\u{1F600}", "order/a", "order/\u00E9"];
    for (const key of keys) await put(key, key);
    const expected = [...keys].sort(byUtf8);
    expect(expected).not.toEqual([...keys].sort()); // the two orders really differ here
    expect(await listAll("order/", 1)).toEqual(expected);
  });

  it("property: any set of valid keys lists exactly, in byte order, under any page size", async () => {
    const segment = fc.oneof(
      fc.string({ unit: "grapheme", maxLength: 12 }),
      fc.constantFrom("", ".", "..", "~s3~keys", "x._S3rver_object"),
      fc.string({ unit: "grapheme-ascii", minLength: 200, maxLength: 300 }),
    );
    const key = fc
      .array(segment, { minLength: 1, maxLength: 4 })
      .map((segments) => segments.join("/"))
      .filter((k) => k.length > 0 && bytes(`p/${k}`) <= 1024 && hasNoControlCharacters(k));
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(key, { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 4 }),
        async (suffixes, pageSize) => {
          const prefix = `prop-${run++}/`;
          const keys = suffixes.map((suffix) => `${prefix}${suffix}`);
          for (const k of keys) await put(k, k);
          expect(await listAll(prefix, pageSize)).toEqual([...keys].sort(byUtf8));
          for (const k of keys) expect(await get(k)).toBe(k);
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe("storage errors", () => {
  it("a write the disk refuses is a 500 InternalError, and the server keeps serving", async () => {
    // A file where the key's folder would have to be: mkdir fails (ENOTDIR / EEXIST).
    await writeFile(join(dataDir, BUCKET, "blocked"), "not a folder");
    const error = await put("blocked/image.jpg", "x").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(S3ServiceException);
    expect((error as S3ServiceException).name).toBe("InternalError");
    expect((error as S3ServiceException).$metadata.httpStatusCode).toBe(500);
    await put("after-error.txt", "still alive");
    expect(await get("after-error.txt")).toBe("still alive");
    const listing = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "after-" }));
    expect(listing.Contents?.map((object) => object.Key)).toEqual(["after-error.txt"]);
  });

  it("a damaged metadata or checksum file does not poison the object or the listing", async () => {
    await put("damaged/a.txt", "intact body");
    const folder = join(dataDir, BUCKET, "damaged");
    await writeFile(join(folder, "a.txt._S3rver_metadata.json"), '{"content-type": "te');
    await writeFile(join(folder, "a.txt._S3rver_object.md5"), "");
    expect(await get("damaged/a.txt")).toBe("intact body");
    const listing = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "damaged/" }));
    const md5 = createHash("md5").update("intact body").digest("hex");
    expect(listing.Contents?.map((object) => object.ETag)).toEqual([`"${md5}"`]);
  });

  it("a half-written long key left by an older store does not wedge the key or the listing", async () => {
    // What s3rver's own layout left after ENAMETOOLONG: the object file, no metadata.
    const segment = "y".repeat(235);
    await mkdir(join(dataDir, BUCKET, "wedged"), { recursive: true });
    await writeFile(join(dataDir, BUCKET, "wedged", `${segment}._S3rver_object`), "half");
    expect(await listAll("wedged/", 1000)).toEqual([]);
    await put(`wedged/${segment}`, "whole");
    expect(await get(`wedged/${segment}`)).toBe("whole");
    expect(await listAll("wedged/", 1000)).toEqual([`wedged/${segment}`]);
  });
});
