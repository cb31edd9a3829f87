import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pMap from "p-map";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../harness/local/s3-server.ts";

/**
 * A bad flag value is exit code 2 with a message naming the flag, before
 * anything starts: never ignored (it once ran the whole job and exited 0).
 */

const TSX = resolve(PROJECT_ROOT, "node_modules/.bin/tsx");
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "bad-flags-"));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

function run(script: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(TSX, [resolve(PROJECT_ROOT, script), ...args], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, LOG_LEVEL: "silent" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.once("error", fail);
    child.once("close", (code) => done({ code, stderr }));
  });
}

describe("bad flag values", () => {
  it("npm run local refuses them with exit code 2, starting nothing", async () => {
    const cases: [string[], string][] = [
      [["--lose-zone", "abc"], "--lose-zone must be seconds"],
      [["--abort=-1"], "--abort must be seconds"],
      [["--images", ""], "--images must be a whole number"],
      [["--feature", "SEGMENTATION"], "--feature must be CLASSIFICATION or OBJECT_DETECTION"],
    ];
    const data = join(scratch, "never-created");
    const results = await pMap(
      cases,
      ([args]) => run("harness/local/cli.ts", [...args, "--data", data]),
      {
        concurrency: 2,
      },
    );
    results.forEach(({ code, stderr }, index) => {
      const [args, message] = cases[index] as [string[], string];
      expect({ args, code, stderr }).toMatchObject({
        code: 2,
        stderr: expect.stringContaining(message),
      });
    });
    expect(existsSync(data)).toBe(false);
  });

  it("npm run emulator refuses them with exit code 2", async () => {
    const cases: [string[], string][] = [
      [["--latency-ms=-5"], "--latency-ms"],
      [["--port", "70000"], "--port"],
      [["--bill-from", "never"], "--bill-from must be start-request or running"],
      [["--bogus"], "unknown option '--bogus'"],
    ];
    const results = await pMap(cases, ([args]) => run("harness/local/emulator/main.ts", args), {
      concurrency: 2,
    });
    results.forEach(({ code, stderr }, index) => {
      const [args, message] = cases[index] as [string[], string];
      expect({ args, code, stderr }).toMatchObject({
        code: 2,
        stderr: expect.stringContaining(message),
      });
    });
  });

  it("npm run bench refuses them with exit code 2, running nothing", async () => {
    const cases: [string[], string][] = [
      [["--ceiling-images", "0"], "--ceiling-images must be a whole number from 1 to 100000"],
      [["--ceiling-images", "12.5"], "--ceiling-images must be a whole number"],
    ];
    const data = join(scratch, "bench-never-created");
    const results = await pMap(
      cases,
      ([args]) => run("harness/bench/main.ts", [...args, "--scenario", "ceiling", "--data", data]),
      { concurrency: 2 },
    );
    results.forEach(({ code, stderr }, index) => {
      const [args, message] = cases[index] as [string[], string];
      expect({ args, code, stderr }).toMatchObject({
        code: 2,
        stderr: expect.stringContaining(message),
      });
    });
    expect(existsSync(data)).toBe(false);
  });
});
