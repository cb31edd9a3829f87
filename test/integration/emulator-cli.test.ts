import { type ChildProcess, execFile, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Emulator,
  type EmulatorState,
  startEmulator,
} from "../../harness/local/emulator/index.ts";
import { eventually } from "../support/emulator/fixtures.ts";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

async function awsCliAvailable(): Promise<boolean> {
  try {
    await run("aws", ["--version"]);
    return true;
  } catch {
    return false;
  }
}

const hasAws = await awsCliAvailable();
if (!hasAws) console.warn("emulator-cli: the AWS CLI (`aws`) is not on PATH; skipping its test.");

describe.skipIf(!hasAws)("the AWS CLI against the emulator", () => {
  let emulator: Emulator;
  let projectArn: string;
  let versionArn: string;
  const cliEnv = () => ({
    ...process.env,
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_DEFAULT_REGION: "us-east-1",
    AWS_CONFIG_FILE: "/dev/null",
    AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
    AWS_PAGER: "",
    AWS_MAX_ATTEMPTS: "1",
  });
  const aws = (...args: string[]) =>
    run("aws", ["rekognition", ...args, "--endpoint-url", emulator.endpoint, "--output", "json"], {
      env: cliEnv(),
    });

  beforeAll(async () => {
    emulator = await startEmulator({ startDelayMs: 50, stopDelayMs: 50 });
    ({ projectArn, projectVersionArn: versionArn } = emulator.admin.declareModel({
      project: "cli",
      version: "v1",
    }));
  });

  afterAll(async () => {
    await emulator?.close();
  });

  it("describe-project-versions, start-project-version and its error output", async () => {
    const described = JSON.parse(
      (await aws("describe-project-versions", "--project-arn", projectArn)).stdout,
    );
    expect(described.ProjectVersionDescriptions).toEqual([
      expect.objectContaining({ ProjectVersionArn: versionArn, Status: "TRAINING_COMPLETED" }),
    ]);
    const started = JSON.parse(
      (
        await aws(
          "start-project-version",
          "--project-version-arn",
          versionArn,
          "--min-inference-units",
          "1",
        )
      ).stdout,
    );
    expect(started.Status).toBe("STARTING");
    await expect(
      aws("stop-project-version", "--project-version-arn", `${versionArn}0`),
    ).rejects.toMatchObject({ stderr: expect.stringContaining("ResourceNotFoundException") });
  });

  it("describe-projects shows an injected ThrottlingException, then answers again", async () => {
    // Armed over the admin HTTP API, as a shell script would.
    const armed = await fetch(`${emulator.endpoint}/_emulator/faults`, {
      method: "POST",
      body: JSON.stringify({
        type: "control-plane",
        operation: "DescribeProjects",
        error: "ThrottlingException",
        count: 1,
      }),
    });
    expect(armed.status).toBe(200);
    await expect(aws("describe-projects", "--project-names", "cli")).rejects.toMatchObject({
      stderr: expect.stringMatching(/ThrottlingException.*DescribeProjects/),
    });
    const projects = JSON.parse((await aws("describe-projects", "--project-names", "cli")).stdout);
    expect(projects.ProjectDescriptions).toEqual([
      expect.objectContaining({ ProjectArn: projectArn }),
    ]);
    expect(emulator.admin.controlPlaneErrors("DescribeProjects")).toBe(1);
  });
});

describe("npm run emulator (main.ts)", () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
  });

  it("prints its endpoint and model ARNs, serves, and exits cleanly on SIGTERM", async () => {
    let output = "";
    child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "harness/local/emulator/main.ts",
        "--port",
        "0",
        "--model",
        "shop/v2:OBJECT_DETECTION",
      ],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
    });
    child.stderr?.on("data", () => {});
    const exited = new Promise<number | null>((resolve) => child?.on("exit", resolve));
    await eventually(
      () => output,
      (text) => text.includes("Admin API"),
      {
        timeoutMs: 30_000,
        what: "the emulator's banner",
      },
    );
    const endpoint = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
    expect(endpoint).toBeDefined();
    expect(output).toMatch(
      /version: arn:aws:rekognition:us-east-1:123456789012:project\/shop\/version\/v2\/\d+/,
    );
    expect(output).toContain("aws rekognition describe-project-versions");
    const state = (await (await fetch(`${endpoint}/_emulator/state`)).json()) as EmulatorState;
    expect(state.models[0]).toMatchObject({ project: "shop", feature: "OBJECT_DETECTION" });
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });
});
