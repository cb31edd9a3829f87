import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { operatorHarness } from "../../harness/local/operator-harness.ts";
import { PROJECT_ROOT } from "../../harness/local/s3-server.ts";
import { runCli } from "../../src/cli/main.ts";
import { runProcess } from "../support/run-process.ts";

/** The installed command (the package's bin) and `--local`, each as a user runs them. */

const BIN = resolve(PROJECT_ROOT, "bin/rekognition-weekly-batch.js");
const runBin = (args: string[]) => runProcess(process.execPath, [BIN, ...args]);
let dataDirectory: string;

beforeAll(async () => {
  dataDirectory = await mkdtemp(join(tmpdir(), "cli-local-"));
});

afterAll(async () => {
  await rm(dataDirectory, { recursive: true, force: true });
});

describe("the rekognition-weekly-batch command", () => {
  it("runs from its bin entry: help exits 0, a bad flag exits 2", async () => {
    const help = await runBin(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: rekognition-weekly-batch <command>");
    const bad = await runBin(["plan", "--bogus"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown option '--bogus'");
  });

  it("local passes its options to npm run local", async () => {
    const help = await runBin(["local", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: npm run local");
  });

  it("--local plans against an in-process local stack on the data folder, in JSON", async () => {
    const out: string[] = [];
    const code = await runCli(
      ["plan", "--local", "--data", dataDirectory, "--json", "--images", "900"],
      {
        stdout: { write: (text: string) => out.push(text) },
        stderr: { write: () => true },
        env: process.env,
      },
      { localHarness: operatorHarness },
    );
    expect(code).toBe(0);
    const report = JSON.parse(out.join(""));
    expect(report.assumedCount).toBe(true);
    expect(report.counts.pending).toBe(900);
    expect(report.sizing.units).toBeGreaterThanOrEqual(1);
    // The local stack and its environment are gone afterwards.
    expect(process.env.STATE_MACHINE_ARN).toBeUndefined();
  });

  it("plan says what a unit failure would cost a one-unit run, and how to choose two", async () => {
    const out: string[] = [];
    const code = await runCli(
      ["plan", "--local", "--data", dataDirectory, "--images", "300", "--min-units", "1"],
      {
        stdout: { write: (text: string) => out.push(text) },
        stderr: { write: () => true },
        env: process.env,
      },
      { localHarness: operatorHarness },
    );
    expect(code).toBe(0);
    const text = out.join("");
    expect(text).toMatch(/Recommended 1 inference unit/);
    expect(text).toMatch(/Resilience {2}One inference unit: .*the run waits rather than fails/);
    expect(text).toContain("with minUnits=2 (--min-units 2");
  });
});
