import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runLocalCli } from "../support/run-process.ts";

/** After --abort, npm run local's summary says how many images were done and how many are left. */

let directory: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "abort-summary-"));
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe("npm run local --abort", () => {
  it("prints the images analysed before the stop and those still pending", async () => {
    const { code, stdout } = await runLocalCli([
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
