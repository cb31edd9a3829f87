import {
  DescribeProjectVersionsCommand,
  DetectCustomLabelsCommand,
  RekognitionClient,
  StartProjectVersionCommand,
  StopProjectVersionCommand,
} from "@aws-sdk/client-rekognition";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../harness/local/emulator/index.ts";

/**
 * The emulator's control-plane faults over real sockets: AWS-shaped answers
 * (name, HTTP status), counted and rate faults, the admin HTTP API, the
 * settings that arm them at start, and that a fault changes nothing.
 */

let emulator: Emulator;
let client: RekognitionClient;
let projectArn: string;
let versionArn: string;

async function start(options: Parameters<typeof startEmulator>[0] = {}) {
  emulator = await startEmulator({ startDelayMs: 20, stopDelayMs: 20, ...options });
  ({ projectArn, projectVersionArn: versionArn } = emulator.admin.declareModel({
    project: "faults",
    version: "v1",
    status: "STOPPED",
  }));
  client = new RekognitionClient({
    endpoint: emulator.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 1,
  });
}

const describeVersion = () =>
  client.send(new DescribeProjectVersionsCommand({ ProjectArn: projectArn }));
const status = () => emulator.admin.state().models.find((m) => m.arn === versionArn)?.status;

beforeEach(async () => {
  await start();
});

afterEach(async () => {
  client?.destroy();
  await emulator?.close();
});

describe("control-plane faults", () => {
  it("the next N calls answer ThrottlingException with HTTP 400, then calls pass again", async () => {
    emulator.admin.failControlPlane({
      operation: "DescribeProjectVersions",
      error: "ThrottlingException",
      count: 2,
    });
    for (let i = 0; i < 2; i += 1) {
      await expect(describeVersion()).rejects.toMatchObject({
        name: "ThrottlingException",
        $metadata: { httpStatusCode: 400 },
      });
    }
    await expect(describeVersion()).resolves.toMatchObject({
      ProjectVersionDescriptions: [expect.objectContaining({ Status: "STOPPED" })],
    });
    expect(emulator.admin.controlPlaneErrors("DescribeProjectVersions")).toBe(2);
    expect(emulator.admin.state().controlPlane.faults).toEqual([]);
  });

  it("InternalServerError is a 500, and a failed StartProjectVersion starts nothing", async () => {
    emulator.admin.failControlPlane({
      operation: "StartProjectVersion",
      error: "InternalServerError",
      count: 1,
    });
    await expect(
      client.send(
        new StartProjectVersionCommand({ ProjectVersionArn: versionArn, MinInferenceUnits: 1 }),
      ),
    ).rejects.toMatchObject({ name: "InternalServerError", $metadata: { httpStatusCode: 500 } });
    expect(status()).toBe("STOPPED");
    await client.send(
      new StartProjectVersionCommand({ ProjectVersionArn: versionArn, MinInferenceUnits: 1 }),
    );
    expect(status()).toBe("STARTING");
  });

  it("a fault on one operation leaves the others and DetectCustomLabels alone", async () => {
    emulator.admin.failControlPlane({
      operation: "StopProjectVersion",
      error: "ThrottlingException",
      count: 1,
    });
    await describeVersion();
    await expect(
      client.send(new StopProjectVersionCommand({ ProjectVersionArn: versionArn })),
    ).rejects.toMatchObject({ name: "ThrottlingException" });
    // DetectCustomLabels is not a control-plane call: it fails for its own reason.
    await expect(
      client.send(
        new DetectCustomLabelsCommand({
          ProjectVersionArn: versionArn,
          Image: { Bytes: new Uint8Array([1]) },
        }),
      ),
    ).rejects.toMatchObject({ name: "ResourceNotReadyException" });
  });

  it("a rate fault for every operation, armed over the admin HTTP API, until cleared", async () => {
    const post = (body: unknown) =>
      fetch(`${emulator.endpoint}/_emulator/faults`, {
        method: "POST",
        body: JSON.stringify(body),
      });
    expect(
      (await post({ type: "control-plane", error: "InternalServerError", rate: 1 })).status,
    ).toBe(200);
    await expect(describeVersion()).rejects.toMatchObject({ name: "InternalServerError" });
    await expect(
      client.send(new StopProjectVersionCommand({ ProjectVersionArn: versionArn })),
    ).rejects.toMatchObject({ name: "InternalServerError" });
    const state = (await (await fetch(`${emulator.endpoint}/_emulator/state`)).json()) as {
      controlPlane: { injected: Record<string, number> };
    };
    expect(state.controlPlane.injected).toEqual({
      "DescribeProjectVersions InternalServerError": 1,
      "StopProjectVersion InternalServerError": 1,
    });
    expect((await post({ type: "clear" })).status).toBe(200);
    await expect(describeVersion()).resolves.toBeDefined();
  });

  it("refuses a fault that is not well formed, naming the problem", async () => {
    const response = await fetch(`${emulator.endpoint}/_emulator/faults`, {
      method: "POST",
      body: JSON.stringify({ type: "control-plane", error: "ThrottlingException" }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      error: "InvalidFault",
      message: expect.stringContaining("exactly one of count"),
    });
    expect(() =>
      emulator.admin.failControlPlane({
        operation: "DetectCustomLabels" as never,
        error: "ThrottlingException",
        count: 1,
      }),
    ).toThrow(/operation/);
  });

  it("settings arm a fault at start (a config file or the --control-plane-* flags do the same)", async () => {
    await emulator.close();
    client.destroy();
    await start({
      controlPlaneFaults: [
        { operation: "DescribeProjects", error: "ThrottlingException", rate: 1 },
      ],
    });
    const { DescribeProjectsCommand } = await import("@aws-sdk/client-rekognition");
    await expect(client.send(new DescribeProjectsCommand({}))).rejects.toMatchObject({
      name: "ThrottlingException",
    });
    await expect(describeVersion()).resolves.toBeDefined();
  });
});

describe("the emulator's --control-plane-* flags", () => {
  it("become rate faults for every control-plane operation, and bad values are refused", async () => {
    const { parseCommandLine } = await import("../../harness/local/emulator/command-line.ts");
    expect(
      parseCommandLine([
        "--control-plane-throttle-rate",
        "0.2",
        "--control-plane-error-rate",
        "0.05",
      ]).controlPlaneFaults,
    ).toEqual([
      { operation: "*", error: "ThrottlingException", rate: 0.2 },
      { operation: "*", error: "InternalServerError", rate: 0.05 },
    ]);
    expect(() => parseCommandLine(["--control-plane-throttle-rate", "2"])).toThrow(
      /--control-plane-throttle-rate must be a number from 0 to 1/,
    );
  });
});
