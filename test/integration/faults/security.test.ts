import { connect } from "node:net";
import { networkInterfaces } from "node:os";
import { posix } from "node:path";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import fc from "fast-check";
import { afterEach, describe, expect, it, onTestFinished } from "vitest";
import { LOCAL_S3_CREDENTIALS } from "../../../harness/local/s3-server.ts";
import { startLocalSfnApi } from "../../../harness/local/sfn-api.ts";
import { MAX_S3_KEY_BYTES, resultKeyFor, resultsFolder } from "../../../src/result-keys.ts";
import {
  type FaultStack,
  IMAGES_PREFIX,
  runFaultJob,
  seedImages,
  startFaultStack,
} from "../../support/fault-harness.ts";

/** Result keys stay under the results prefix, the report escapes keys, servers are loopback-only, logs leak nothing. */

let fixture: FaultStack | undefined;
const SESSION_TOKEN = "canary-session-token-7c1e9b";

afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

/** Keys built from path-like pieces (`..`, `.`, empty segments, slashes) and arbitrary unicode. */
const hostileKey = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 300 }),
  fc
    .array(
      fc.oneof(
        fc.constantFrom("..", ".", "", "%2E%2E", "%00", "~", "<script>", "a b+c"),
        fc.string({ unit: "grapheme", maxLength: 40 }),
      ),
      { maxLength: 30 },
    )
    .map((segments) => segments.join("/")),
  fc.string({ minLength: 900, maxLength: 1100 }),
);

describe("security", () => {
  it("a result key never escapes the results folder, whatever the image key", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("rekognition-results/", "out", "a/b/", ""),
        hostileKey,
        (prefix, imageKey) => {
          const folder = resultsFolder(prefix);
          const key = resultKeyFor(prefix, imageKey);
          expect(key.startsWith(folder)).toBe(true);
          expect(Buffer.byteLength(key, "utf8")).toBeLessThanOrEqual(MAX_S3_KEY_BYTES);
          const below = key.slice(folder.length).split("/");
          expect(below).not.toContain("..");
          expect(below).not.toContain(".");
          expect(below).not.toContain("");
          // A consumer that maps keys to paths stays inside the folder too.
          expect(
            posix.normalize(`/root/${key}`).startsWith(posix.normalize(`/root/${folder}`)),
          ).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("the HTML report shows a hostile image key as text, never as markup", async () => {
    fixture = await startFaultStack();
    const { stack } = fixture;
    await seedImages(stack, 3);
    const hostile = `${IMAGES_PREFIX}<img src=x onerror=alert(1)>.jpg`;
    // Not a JPEG: the model rejects it, so its key is listed among the failures.
    await stack.s3.send(
      new PutObjectCommand({ Bucket: stack.imagesBucket, Key: hostile, Body: "not an image" }),
    );
    const result = await runFaultJob(fixture);
    expect(result.execution.status).toBe("SUCCEEDED");
    expect(result.summary?.failures.images.map((failure) => failure.key)).toContain(hostile);
    const reportKey = result.report?.reportKey ?? "";
    const page = await stack.s3.send(
      new GetObjectCommand({ Bucket: stack.resultsBucket, Key: reportKey }),
    );
    const text = (await page.Body?.transformToString("utf-8")) ?? "";
    expect(text).toContain("&lt;img src=x onerror=alert(1)&gt;.jpg");
    expect(text).not.toContain("<img src=x");
    expect(text).not.toMatch(/onerror=alert\(1\)>/);
  });

  it("the local servers listen on 127.0.0.1 only", async () => {
    fixture = await startFaultStack();
    const { stack } = fixture;
    const sfnApi = await startLocalSfnApi({ stack });
    onTestFinished(() => sfnApi.close());
    const endpoints = [stack.s3Server.endpoint, stack.emulator.endpoint, sfnApi.endpoint].map(
      (url) => new URL(url),
    );
    for (const endpoint of endpoints) expect(endpoint.hostname).toBe("127.0.0.1");
    const external = Object.values(networkInterfaces())
      .flat()
      .find((address) => address && address.family === "IPv4" && !address.internal);
    for (const endpoint of endpoints) {
      expect(await canConnect("127.0.0.1", Number(endpoint.port))).toBe(true);
      if (external) expect(await canConnect(external.address, Number(endpoint.port))).toBe(false);
    }
  });

  it("logs never contain the secret key or image bytes, even at debug level with images sent as bytes", async () => {
    fixture = await startFaultStack();
    const { stack } = fixture;
    const sample = await seedImages(stack, 6);
    const output: string[] = [];
    const capture = (stream: NodeJS.WriteStream) => {
      const write = stream.write.bind(stream);
      // Captured, not printed: the test's output stays quiet.
      stream.write = ((chunk: string | Uint8Array) => {
        output.push(String(chunk));
        return true;
      }) as typeof stream.write;
      return () => {
        stream.write = write;
      };
    };
    const restoreOut = capture(process.stdout);
    const restoreErr = capture(process.stderr);
    let status: string;
    try {
      const result = await runFaultJob(fixture, {
        // A distinctive session token: sent with every request, must never be printed.
        environment: { LOG_LEVEL: "debug", AWS_SESSION_TOKEN: SESSION_TOKEN },
        input: { imageMode: "Bytes" },
      });
      status = result.execution.status;
    } finally {
      restoreOut();
      restoreErr();
    }
    expect(status).toBe("SUCCEEDED");
    const logs = output.join("");
    expect(logs.length).toBeGreaterThan(0);
    expect(logs).not.toContain(LOCAL_S3_CREDENTIALS.secretAccessKey);
    expect(logs).not.toContain(SESSION_TOKEN);
    for (const image of sample.images) {
      const object = await stack.s3.send(
        new GetObjectCommand({ Bucket: stack.imagesBucket, Key: image.key }),
      );
      const bytes = Buffer.from((await object.Body?.transformToByteArray()) ?? []);
      // Any 48-byte run of the image, base64-encoded, would start like this.
      expect(logs).not.toContain(bytes.subarray(0, 48).toString("base64"));
      expect(logs).not.toContain(bytes.subarray(100, 148).toString("base64"));
    }
  });
});

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
