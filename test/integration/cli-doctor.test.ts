import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { operatorHarness } from "../../harness/local/operator-harness.ts";
import type { CliIo } from "../../src/cli/context.ts";
import { runCli } from "../../src/cli/main.ts";

/**
 * `doctor --local` as an operator runs it: a local stack started in the
 * command, real S3, Custom Labels emulator and Step Functions API over
 * sockets; broken settings given as run input flags.
 */

let dataDirectory: string;
/** The local model's ARN (its account and creation digits are fixed by the local stack). */
const LOCAL_MODEL =
  "arn:aws:rekognition:us-east-1:123456789012:project/local-demo/version/v1/1767225600001";

beforeAll(async () => {
  dataDirectory = await mkdtemp(join(tmpdir(), "cli-doctor-"));
});

afterAll(async () => {
  await rm(dataDirectory, { recursive: true, force: true });
});

async function doctor(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: { write: (text: string) => out.push(text) },
    stderr: { write: (text: string) => err.push(text) },
    env: process.env,
  };
  const code = await runCli(["doctor", "--local", "--data", dataDirectory, ...args], io, {
    localHarness: operatorHarness,
  });
  return { code, stdout: out.join(""), stderr: err.join("") };
}

describe("doctor --local", () => {
  it("passes against a healthy local stack; what it cannot answer is skipped with the reason", async () => {
    const { code, stdout } = await doctor([]);
    expect(code).toBe(0);
    expect(stdout).toContain("Preflight against the local stack");
    expect(stdout).toMatch(/✓ Model version +TRAINING_COMPLETED/);
    expect(stdout).toMatch(/✓ Images bucket +local-images \(images\) exists in us-east-1/);
    expect(stdout).toMatch(/✓ Results bucket +local-results \(results\) exists in us-east-1/);
    expect(stdout).toMatch(/✓ State machine +arn:aws:states:us-east-1:\d{12}:stateMachine:/);
    expect(stdout).toMatch(/- Credentials +skipped: the local stack has no STS/);
    expect(stdout).toMatch(/- Unit quota +skipped: /);
    expect(stdout).toMatch(/Doctor: 7 checks passed, 0 failed, 5 skipped/);
  });

  it("fails with exit code 1 for a bucket and a model version that do not exist", async () => {
    const { code, stderr } = await doctor([
      "--images-bucket",
      "no-such-images",
      "--project-version-arn",
      LOCAL_MODEL.replace("/v1/", "/v9/"),
    ]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/✗ Images bucket +no-such-images does not exist/);
    expect(stderr).toContain("fix: create it in us-east-1 (aws s3 mb s3://no-such-images");
    expect(stderr).toMatch(/✗ Model version +model version .*\/version\/v9\/\d+ not found/);
    expect(stderr).toMatch(/Doctor: \d+ checks passed, 2 failed/);
  });

  it("fails for a model in another region, in JSON for machines", async () => {
    const { code, stdout } = await doctor([
      "--json",
      "--project-version-arn",
      LOCAL_MODEL.replace("us-east-1", "eu-west-1"),
    ]);
    expect(code).toBe(1);
    const report = JSON.parse(stdout);
    expect(report.ok).toBe(false);
    const byId = Object.fromEntries(report.checks.map((c: { id: string }) => [c.id, c]));
    expect(byId["model-region"]).toMatchObject({
      status: "fail",
      detail: expect.stringContaining("the model is in eu-west-1, the deployment in us-east-1"),
    });
    expect(byId["model-version"].status).toBe("skip");
  });

  it("--help says what it checks, the flags and the exit code", async () => {
    const out: string[] = [];
    const code = await runCli(["doctor", "--help"], {
      stdout: { write: (text: string) => out.push(text) },
      stderr: { write: () => true },
      env: {},
    });
    expect(code).toBe(0);
    const help = out.join("");
    expect(help).toContain("Usage: rekognition-weekly-batch doctor [options]");
    expect(help).toContain("--stage <stage>");
    expect(help).toContain("exit code 1 when any check fails");
    expect(help).toContain("--stack-name <name>");
    expect(help).toContain("With --local, the checks the");
  });
});
