import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  LOCAL_DEFAULTS,
  type LocalStack,
  startLocalStack,
} from "../../harness/local/local-stack.ts";
import { runLocalCli } from "../support/run-process.ts";

/**
 * A second `npm run local` on a data folder in use is refused before it
 * touches anything (two runs once analysed every image twice and left the
 * first run's model RUNNING while it exited 0).
 */

let directory: string;
let stack: LocalStack;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "data-lock-run-"));
  stack = await startLocalStack({ dataDirectory: directory, command: "the test's stack" });
});

afterAll(async () => {
  await stack?.close();
  await rm(directory, { recursive: true, force: true });
});

describe("npm run local on a data folder in use", () => {
  it("is refused with exit code 1, naming the holder, and seeds nothing", async () => {
    const marker = `${LOCAL_DEFAULTS.imagesPrefix}already-here.txt`;
    await stack.s3.send(
      new PutObjectCommand({ Bucket: stack.imagesBucket, Key: marker, Body: "x" }),
    );
    const second = await runLocalCli(["--data", directory, "--images", "5", "--fresh"]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`in use by process ${process.pid} (the test's stack`);
    expect(second.stdout).not.toContain("Seeding");
    // --fresh did not wipe the folder from under the running stack.
    const listing = await stack.s3.send(
      new ListObjectsV2Command({ Bucket: stack.imagesBucket, Prefix: LOCAL_DEFAULTS.imagesPrefix }),
    );
    expect(listing.Contents?.map((object) => object.Key)).toEqual([marker]);
  });
});
