import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../harness/local/s3-server.ts";

/** After --abort, npm run local's summary says how many images were done and how many are left. */

let directory: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "abort-summary-"));
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

function runLocal(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((done, fail) => {
    const child = spawn(
      resolve(PROJECT_ROOT, "node_modules/.bin/tsx"),
      [resolve(PROJECT_ROOT, "harness/local/cli.ts"), ...args],
      {
        cwd: PROJECT_ROOT,
        env: { ...process.env, LOG_LEVEL: "silent" },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let stdout = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.once("error", fail);
    child.once("close", (code) => done({ code, stdout }));
  });
}

describe("npm run local --abort", () => {
  it("prints the images analysed before the stop and those still pending", async () => {
    const { code, stdout } = await runLocal([
      "--data",
      directory,
      "--images",
      "40",
      "--tps-per-unit",
      "5",
      "--latency",
      "50",
      "--start-delay",
      "200",
      "--abort",
      "1",
    ]);
    expect(code, stdout).toBe(1);
    expect(stdout).toContain("Execution   ABORTED");
    const line =
      /(\d+) pending at plan: (\d+) succeeded, (\d+) failed before the stop, (\d+) still pending/.exec(
        stdout,
      );
    expect(line, stdout).not.toBeNull();
    const [pending, succeeded, failed, left] = (line as RegExpExecArray).slice(1).map(Number);
    expect(pending).toBeGreaterThan(0);
    expect((succeeded as number) + (failed as number) + (left as number)).toBe(pending);
    expect(left).toBeGreaterThan(0); // 40 images at 5 TPS take 8 s; the abort came after 1 s
  });
});
