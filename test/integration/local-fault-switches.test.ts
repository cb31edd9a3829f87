import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import pMap from "p-map";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_DEFAULTS, startLocalStack } from "../../harness/local/local-stack.ts";
import { runLocalCli } from "../support/run-process.ts";

/**
 * A fault switch of `npm run local` on a data folder with nothing pending (as
 * right after the quick start) cannot take effect: the run starts no model and
 * has no Map Run. It once ran anyway and printed SUCCEEDED; it is refused
 * before the run, naming the switches and the ways to give the run work.
 * A timed fault that processing outran is named in the summary.
 */

let directory: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "fault-switches-"));
  // Images that are there but never pending (not a supported image): nothing to analyse.
  const stack = await startLocalStack({ dataDirectory: directory, command: "the test's stack" });
  try {
    await stack.s3.send(
      new PutObjectCommand({
        Bucket: stack.imagesBucket,
        Key: `${LOCAL_DEFAULTS.imagesPrefix}notes.txt`,
        Body: "not an image",
      }),
    );
  } finally {
    await stack.close();
  }
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe("npm run local's fault switches with nothing pending", () => {
  it("are refused before the run, naming them and --fresh / --add-images", async () => {
    const cases = [
      ["--fail-start"],
      ["--abort", "2"],
      ["--lose-unit", "1", "--throttle-storm", "1"],
    ];
    const results = await pMap(
      cases,
      (args) => runLocalCli(["--data", directory, "--start-delay", "200", ...args]),
      { concurrency: 1 },
    );
    results.forEach(({ code, stdout, stderr }, index) => {
      const args = cases[index] as string[];
      expect({ args, code, stdout }).toMatchObject({
        code: 2,
        stdout: expect.not.stringContaining("SUCCEEDED"),
      });
      for (const flag of args.filter((arg) => arg.startsWith("--"))) {
        expect(stderr).toContain(flag);
      }
      expect(stderr).toContain("Nothing is pending");
      expect(stderr).toContain("--fresh");
      expect(stderr).toContain("--add-images");
    });
  });

  it("a timed fault that processing outran is named in the summary", async () => {
    const fresh = join(directory, "late-fault");
    const { code, stdout } = await runLocalCli([
      "--data",
      fresh,
      "--images",
      "3",
      "--start-delay",
      "200",
      "--lose-zone",
      "3600",
    ]);
    expect(code, stdout).toBe(0);
    expect(stdout).toContain("Execution   SUCCEEDED");
    expect(stdout).toContain("Faults      --lose-zone 3600 did not fire: processing ended first");
    // A whole local run (and, after a change to serverless.yml, an osls package for its IAM).
  }, 240_000);
});
