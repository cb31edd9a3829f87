import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DeleteBucketCommand,
  DeleteBucketCorsCommand,
  DeleteObjectCommand,
  GetBucketCorsCommand,
  GetObjectCommand,
  PutBucketCorsCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type EmbeddedS3,
  localS3ClientConfig,
  startS3Server,
} from "../../harness/local/s3-server.ts";

/**
 * The embedded S3's store remembers which buckets exist and their bucket-level
 * configurations (read on every request). These check that what it remembers
 * is never stale after a change made through S3, and never crosses buckets.
 */

let dataDir: string;
let server: EmbeddedS3;
let s3: S3Client;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "s3-store-cache-"));
  server = await startS3Server({ directory: dataDir, buckets: ["cache-a", "cache-b"] });
  s3 = new S3Client(localS3ClientConfig(server.endpoint));
});

afterAll(async () => {
  s3?.destroy();
  await server?.close();
  await rm(dataDir, { recursive: true, force: true });
});

const RULES = [{ AllowedMethods: ["GET"], AllowedOrigins: ["https://example.com"] }];

async function corsRules(bucket: string): Promise<unknown> {
  try {
    return (await s3.send(new GetBucketCorsCommand({ Bucket: bucket }))).CORSRules;
  } catch (error) {
    return (error as Error).name;
  }
}

/** A browser's preflight for a GET from example.com: the CORS middleware's view of the bucket. */
async function preflight(bucket: string): Promise<number> {
  const response = await fetch(`${server.endpoint}/${bucket}/some-key`, {
    method: "OPTIONS",
    headers: { Origin: "https://example.com", "Access-Control-Request-Method": "GET" },
  });
  await response.arrayBuffer();
  return response.status;
}

describe("the embedded S3 store's bucket caches", () => {
  it("sees a CORS configuration as soon as it is put or deleted, on its own bucket only", async () => {
    await s3.send(new PutObjectCommand({ Bucket: "cache-a", Key: "k", Body: "x" }));
    // Both buckets' configurations are now looked up (and absent).
    expect(await preflight("cache-a")).toBe(403);
    expect(await preflight("cache-b")).toBe(403);
    expect(await corsRules("cache-a")).toBe("NoSuchCORSConfiguration");

    await s3.send(
      new PutBucketCorsCommand({ Bucket: "cache-a", CORSConfiguration: { CORSRules: RULES } }),
    );
    expect(await corsRules("cache-a")).toMatchObject(RULES);
    expect(await preflight("cache-a")).toBe(200);
    expect(await corsRules("cache-b")).toBe("NoSuchCORSConfiguration");
    expect(await preflight("cache-b")).toBe(403);

    await s3.send(new DeleteBucketCorsCommand({ Bucket: "cache-a" }));
    expect(await corsRules("cache-a")).toBe("NoSuchCORSConfiguration");
    expect(await preflight("cache-a")).toBe(403);
  });

  it("forgets a deleted bucket, and knows it again once it is created again", async () => {
    await server.ensureBucket("cache-c");
    await s3.send(new PutObjectCommand({ Bucket: "cache-c", Key: "k", Body: "x" }));
    await s3.send(
      new PutBucketCorsCommand({ Bucket: "cache-c", CORSConfiguration: { CORSRules: RULES } }),
    );
    expect(await preflight("cache-c")).toBe(200);
    await s3.send(new DeleteObjectCommand({ Bucket: "cache-c", Key: "k" }));
    await s3.send(new DeleteBucketCommand({ Bucket: "cache-c" }));

    await expect(
      s3.send(new GetObjectCommand({ Bucket: "cache-c", Key: "k" })),
    ).rejects.toMatchObject({ name: "NoSuchBucket" });
    await expect(
      s3.send(new PutObjectCommand({ Bucket: "cache-c", Key: "k", Body: "x" })),
    ).rejects.toMatchObject({ name: "NoSuchBucket" });

    await server.ensureBucket("cache-c");
    await s3.send(new PutObjectCommand({ Bucket: "cache-c", Key: "k", Body: "y" }));
    const body = await (
      await s3.send(new GetObjectCommand({ Bucket: "cache-c", Key: "k" }))
    ).Body?.transformToString();
    expect(body).toBe("y");
    // The old bucket's configuration went with it.
    expect(await corsRules("cache-c")).toBe("NoSuchCORSConfiguration");
  });

  it("does not remember a bucket that does not exist", async () => {
    await expect(
      s3.send(new GetObjectCommand({ Bucket: "cache-d", Key: "k" })),
    ).rejects.toMatchObject({ name: "NoSuchBucket" });
    await server.ensureBucket("cache-d");
    await s3.send(new PutObjectCommand({ Bucket: "cache-d", Key: "k", Body: "z" }));
    await expect(
      s3.send(new GetObjectCommand({ Bucket: "cache-d", Key: "k" })),
    ).resolves.toBeDefined();
  });

  const text = async (bucket: string, key: string) =>
    (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body?.transformToString();

  it("writes into a folder again after its last object was deleted (the folder went with it)", async () => {
    await s3.send(new PutObjectCommand({ Bucket: "cache-a", Key: "deep/er/one", Body: "1" }));
    await s3.send(new DeleteObjectCommand({ Bucket: "cache-a", Key: "deep/er/one" }));
    await s3.send(new PutObjectCommand({ Bucket: "cache-a", Key: "deep/er/two", Body: "2" }));
    expect(await text("cache-a", "deep/er/two")).toBe("2");
  });

  it("writes into a folder removed behind its back, at the latest on the client's retry", async () => {
    await s3.send(new PutObjectCommand({ Bucket: "cache-a", Key: "gone/first", Body: "1" }));
    await rm(join(dataDir, "cache-a", "gone"), { recursive: true, force: true });
    // The default client retries a 500 (the first write may fail with ENOENT).
    await s3.send(new PutObjectCommand({ Bucket: "cache-a", Key: "gone/second", Body: "2" }));
    expect(await text("cache-a", "gone/second")).toBe("2");
  });
});
