import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { connect } from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import {
  GetObjectCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  PutObjectCommand,
  paginateListObjectsV2,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import pMap from "p-map";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import {
  DEFAULT_S3_DIRECTORY,
  type EmbeddedS3,
  localAwsEnvironment,
  localS3ClientConfig,
  startS3Server,
} from "../../harness/local/s3-server.ts";
import { createAwsClients } from "../../src/clients.ts";

const BUCKET = "server-test";
const MB = 1024 * 1024;

let dataDir: string;
let server: EmbeddedS3;
let s3: S3Client;

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

async function listAllKeys(client: S3Client, prefix: string, pageSize?: number) {
  const keys: string[] = [];
  let pages = 0;
  for await (const page of paginateListObjectsV2(
    { client, pageSize },
    { Bucket: BUCKET, Prefix: prefix },
  )) {
    pages++;
    for (const object of page.Contents ?? []) keys.push(object.Key ?? "");
  }
  return { keys, pages };
}

async function getBytes(client: S3Client, key: string, bucket = BUCKET): Promise<Buffer> {
  const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from((await response.Body?.transformToByteArray()) ?? []);
}

/** A stream the SDK cannot measure up front, delivered in uneven chunks. */
function chunkedStream(bytes: Buffer): Readable {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += 300_001) {
    chunks.push(bytes.subarray(offset, offset + 300_001));
  }
  return Readable.from(chunks);
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "s3-server-test-"));
  server = await startS3Server({ directory: dataDir, buckets: [BUCKET] });
  s3 = new S3Client(localS3ClientConfig(server.endpoint));
});

afterAll(async () => {
  s3?.destroy();
  await server?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe("the embedded S3 server", () => {
  it("listens on 127.0.0.1 only, on the free port it was given", async () => {
    expect(server.endpoint).toBe(`http://127.0.0.1:${server.port}`);
    expect(server.port).toBeGreaterThan(0);

    const tryConnect = (host: string) =>
      new Promise<"connected" | string>((done) => {
        const socket = connect({ host, port: server.port });
        socket.once("connect", () => {
          socket.destroy();
          done("connected");
        });
        socket.once("error", (error: NodeJS.ErrnoException) => done(error.code ?? "error"));
      });

    expect(await tryConnect("127.0.0.1")).toBe("connected");
    const otherAddresses = Object.values(networkInterfaces())
      .flat()
      .filter((info) => info && !info.internal)
      .map((info) => info?.address ?? "");
    for (const address of [...otherAddresses, "::1"]) {
      expect(await tryConnect(address), address).not.toBe("connected");
    }
  });

  it("keeps its data in the given folder, and by default under .local-data/s3 of the project", async () => {
    const projectRoot = resolve(fileURLToPath(new URL("../../", import.meta.url)));
    expect(DEFAULT_S3_DIRECTORY).toBe(join(projectRoot, ".local-data", "s3"));
    expect(server.directory).toBe(resolve(dataDir));

    const body = Buffer.from("kept on disk");
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "disk/check.txt", Body: body }));
    const onDisk = await readFile(join(dataDir, BUCKET, "disk", "check.txt._S3rver_object"));
    expect(onDisk.equals(body)).toBe(true);

    // A second server on the same folder sees the same bucket and object.
    const again = await startS3Server({ directory: dataDir });
    const client = new S3Client(localS3ClientConfig(again.endpoint));
    try {
      expect((await getBytes(client, "disk/check.txt")).equals(body)).toBe(true);
    } finally {
      client.destroy();
      await again.close();
    }
  });

  it("creates buckets on demand, idempotently, and rejects invalid names", async () => {
    await server.ensureBucket("on-demand");
    await s3.send(new PutObjectCommand({ Bucket: "on-demand", Key: "a.txt", Body: "first" }));
    await server.ensureBucket("on-demand");
    await server.ensureBucket("on-demand");

    await expect(s3.send(new HeadBucketCommand({ Bucket: "on-demand" }))).resolves.toBeDefined();
    expect((await getBytes(s3, "a.txt", "on-demand")).toString()).toBe("first");
    const { Buckets } = await s3.send(new ListBucketsCommand({}));
    expect(Buckets?.filter((bucket) => bucket.Name === "on-demand")).toHaveLength(1);
    expect(existsSync(join(dataDir, "on-demand"))).toBe(true);

    await expect(server.ensureBucket("Bad_Name")).rejects.toThrow(/Invalid bucket name/);
    await expect(server.ensureBucket("ab")).rejects.toThrow(/Invalid bucket name/);
  });

  it("creates the buckets named at start", async () => {
    await expect(s3.send(new HeadBucketCommand({ Bucket: BUCKET }))).resolves.toBeDefined();
  });

  it("rejects a port that is already taken instead of crashing", async () => {
    await expect(startS3Server({ directory: dataDir, port: server.port })).rejects.toThrow(
      /EADDRINUSE/,
    );
  });
});

describe("ListObjectsV2 pagination (the patched continuation tokens)", () => {
  const manyKeys = Array.from(
    { length: 1_013 },
    (_, i) => `many/${String(i).padStart(4, "0")}.jpg`,
  );

  beforeAll(async () => {
    await pMap(
      [...manyKeys, "other/outside-the-prefix.jpg", "many-but-not-this-prefix.jpg"],
      (key) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key })),
      { concurrency: 16 },
    );
    // Generous: a thousand uploads on a busy shared machine.
  }, 180_000);

  it("pages through 1,001+ objects, every key exactly once, in key order", async () => {
    const { keys, pages } = await listAllKeys(s3, "many/");
    expect(pages).toBe(2);
    expect(keys).toEqual([...manyKeys].sort());
    expect(new Set(keys).size).toBe(manyKeys.length);
  });

  it("pages with a small MaxKeys under a narrower prefix", async () => {
    const expected = manyKeys.filter((key) => key.startsWith("many/00"));
    const { keys, pages } = await listAllKeys(s3, "many/00", 7);
    expect(expected).toHaveLength(100);
    expect(pages).toBe(Math.ceil(100 / 7));
    expect(keys).toEqual(expected);
  });

  it("lists awkward keys back exactly as written, across page boundaries", async () => {
    const oddKeys = [
      "odd/with space/photo 01.jpg",
      "odd/plus+sign/a+b=c.png",
      "odd/café/naïve ü.jpg",
      "odd/日本/写真 (1).jpg",
      "odd/deep/a/b/c/d/e/f/g/h/i/j/k/leaf.jpg",
      "odd/percent%20literal.jpg",
      "odd/tilde~ (paren) !'*.jpg",
    ];
    await pMap(oddKeys, (key) =>
      s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: `body of ${key}` })),
    );

    for (const pageSize of [undefined, 2]) {
      const { keys } = await listAllKeys(s3, "odd/", pageSize);
      expect([...keys].sort()).toEqual([...oddKeys].sort());
    }
    for (const key of oddKeys) {
      expect((await getBytes(s3, key)).toString()).toBe(`body of ${key}`);
    }
  });
});

describe("byte-identical round trips", () => {
  const payload = randomBytes(4 * MB + 12_345);
  const bigPayload = randomBytes(11 * MB + 777);

  it("a Buffer through PutObject", async () => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "trip/buffer.bin", Body: payload }));
    expect(sha256(await getBytes(s3, "trip/buffer.bin"))).toBe(sha256(payload));
  });

  it("a stream through PutObject with ContentLength", async () => {
    await s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: "trip/stream.bin",
        Body: chunkedStream(payload),
        ContentLength: payload.length,
      }),
    );
    expect(sha256(await getBytes(s3, "trip/stream.bin"))).toBe(sha256(payload));
  });

  it("a stream through lib-storage Upload, single part and multipart", async () => {
    for (const [key, bytes] of [
      ["trip/upload-single.bin", payload],
      ["trip/upload-multipart.bin", bigPayload],
    ] as const) {
      await new Upload({
        client: s3,
        params: { Bucket: BUCKET, Key: key, Body: chunkedStream(bytes) },
        partSize: 5 * MB,
        queueSize: 2,
      }).done();
      expect(sha256(await getBytes(s3, key)), key).toBe(sha256(bytes));
    }
  });

  it("regression guard: with the SDK's default checksums a streamed upload is stored with its aws-chunked framing", async () => {
    const { requestChecksumCalculation, responseChecksumValidation, ...rest } = localS3ClientConfig(
      server.endpoint,
    );
    expect([requestChecksumCalculation, responseChecksumValidation]).toEqual([
      "WHEN_REQUIRED",
      "WHEN_REQUIRED",
    ]);
    const defaults = new S3Client(rest);
    try {
      await defaults.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: "trip/corrupted.bin",
          Body: chunkedStream(payload),
          ContentLength: payload.length,
        }),
      );
      const stored = await getBytes(defaults, "trip/corrupted.bin");
      expect(stored.length).toBeGreaterThan(payload.length);
      expect(sha256(stored)).not.toBe(sha256(payload));
      // The framing: "<hex chunk size>\r\n<data>...0\r\nx-amz-checksum-crc32:<value>\r\n"
      expect(stored.subarray(0, 20).toString("latin1")).toMatch(/^[0-9a-f]+\r\n/);
      expect(stored.subarray(-60).toString("latin1")).toMatch(/x-amz-checksum-[a-z0-9]+:/);
    } finally {
      defaults.destroy();
    }
  });
});

describe("localAwsEnvironment: the environment route that createAwsClients() follows", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  /** Sets `env`, and keeps any AWS config on this machine out of the way. */
  function stubEnvironment(env: Record<string, string | undefined>) {
    vi.stubEnv("AWS_PROFILE", undefined);
    vi.stubEnv("AWS_CONFIG_FILE", join(dataDir, "no-such-config"));
    vi.stubEnv("AWS_SHARED_CREDENTIALS_FILE", join(dataDir, "no-such-credentials"));
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  }

  it("names the standard variables", () => {
    const env = localAwsEnvironment({
      s3: server.endpoint,
      rekognition: "http://127.0.0.1:1111",
      sfn: "http://127.0.0.1:2222",
    });
    expect(env).toEqual({
      AWS_ENDPOINT_URL_S3: server.endpoint,
      AWS_ENDPOINT_URL_REKOGNITION: "http://127.0.0.1:1111",
      AWS_ENDPOINT_URL_SFN: "http://127.0.0.1:2222",
      S3_FORCE_PATH_STYLE: "true",
      AWS_REQUEST_CHECKSUM_CALCULATION: "WHEN_REQUIRED",
      AWS_RESPONSE_CHECKSUM_VALIDATION: "WHEN_REQUIRED",
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    });
    expect(localAwsEnvironment({ s3: server.endpoint })).not.toHaveProperty(
      "AWS_ENDPOINT_URL_REKOGNITION",
    );
  });

  it("the SDK itself reads the checksum variables: a streamed upload arrives intact", async () => {
    stubEnvironment(localAwsEnvironment({ s3: server.endpoint }));
    const { s3: client, rekognition, sfn } = createAwsClients();
    try {
      expect(await client.config.requestChecksumCalculation()).toBe("WHEN_REQUIRED");
      expect(await client.config.responseChecksumValidation()).toBe("WHEN_REQUIRED");
      const bytes = randomBytes(2 * MB + 3);
      await client.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: "env/stream.bin",
          Body: chunkedStream(bytes),
          ContentLength: bytes.length,
        }),
      );
      // Read back through the test's own client: the upload really went to the embedded server.
      expect(sha256(await getBytes(s3, "env/stream.bin"))).toBe(sha256(bytes));
    } finally {
      for (const c of [client, rekognition, sfn]) c.destroy();
    }
  });

  it("without the checksum variables the same client corrupts the same upload", async () => {
    stubEnvironment({
      ...localAwsEnvironment({ s3: server.endpoint }),
      AWS_REQUEST_CHECKSUM_CALCULATION: undefined,
      AWS_RESPONSE_CHECKSUM_VALIDATION: undefined,
    });
    const { s3: client, rekognition, sfn } = createAwsClients();
    try {
      expect(await client.config.requestChecksumCalculation()).toBe("WHEN_SUPPORTED");
      const bytes = randomBytes(2 * MB + 3);
      await client.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: "env/corrupted.bin",
          Body: chunkedStream(bytes),
          ContentLength: bytes.length,
        }),
      );
      expect(sha256(await getBytes(s3, "env/corrupted.bin"))).not.toBe(sha256(bytes));
    } finally {
      for (const c of [client, rekognition, sfn]) c.destroy();
    }
  });
});
