import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateProjectCommand,
  CreateProjectVersionCommand,
  DescribeProjectsCommand,
  DescribeProjectVersionsCommand,
  DetectCustomLabelsCommand,
  type RekognitionClient,
  StartProjectVersionCommand,
  StopProjectVersionCommand,
  waitUntilProjectVersionRunning,
} from "@aws-sdk/client-rekognition";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Emulator,
  type EmulatorState,
  startEmulator,
} from "../../harness/local/emulator/index.ts";
import {
  emulatorClient,
  eventually,
  paintedImage,
  RED,
  sdkError,
} from "../support/emulator/fixtures.ts";
import { ManualClock } from "../support/emulator/manual-clock.ts";

let emulator: Emulator;
let client: RekognitionClient;
let configDir: string;
let image: Uint8Array;

beforeAll(async () => {
  configDir = await mkdtemp(join(tmpdir(), "emulator-config-"));
  const configFile = join(configDir, "emulator.json");
  await writeFile(
    configFile,
    JSON.stringify({
      tpsPerUnit: 50,
      models: [{ project: "from-file", version: "v1", feature: "OBJECT_DETECTION" }],
    }),
  );
  emulator = await startEmulator({
    configFile,
    startDelayMs: 150,
    stopDelayMs: 100,
    latencyMs: 0,
    latencyJitterMs: 0,
    unitQuota: 5,
    models: [{ project: "from-options", version: "v1" }],
  });
  client = emulatorClient(emulator.endpoint);
  image = await paintedImage(64, 64, RED);
});

afterAll(async () => {
  client?.destroy();
  await emulator?.close();
  await rm(configDir, { recursive: true, force: true });
});

const statusOf = async (projectArn: string, version: string) => {
  const out = await client.send(
    new DescribeProjectVersionsCommand({ ProjectArn: projectArn, VersionNames: [version] }),
  );
  return out.ProjectVersionDescriptions?.[0];
};

async function newVersion(project: string, version = "v1") {
  const { ProjectArn } = await client.send(new CreateProjectCommand({ ProjectName: project }));
  const { ProjectVersionArn } = await client.send(
    new CreateProjectVersionCommand({
      ProjectArn,
      VersionName: version,
      OutputConfig: { S3Bucket: "models", S3KeyPrefix: `${project}/` },
    }),
  );
  return { projectArn: ProjectArn as string, versionArn: ProjectVersionArn as string };
}

describe("projects and versions", () => {
  it("creates them with AWS-shaped ARNs and describes them with the fields clients read", async () => {
    const { projectArn, versionArn } = await newVersion("shapes");
    expect(projectArn).toMatch(/^arn:aws:rekognition:us-east-1:123456789012:project\/shapes\/\d+$/);
    expect(versionArn).toMatch(
      /^arn:aws:rekognition:us-east-1:123456789012:project\/shapes\/version\/v1\/\d+$/,
    );
    const described = await statusOf(projectArn, "v1");
    expect(described).toMatchObject({
      ProjectVersionArn: versionArn,
      Status: "TRAINING_COMPLETED",
      Feature: "CUSTOM_LABELS",
      OutputConfig: { S3Bucket: "models", S3KeyPrefix: "shapes/" },
    });
    expect(described?.CreationTimestamp).toBeInstanceOf(Date);
    expect(Math.abs((described?.CreationTimestamp?.getTime() ?? 0) - Date.now())).toBeLessThan(
      60_000,
    );
    const projects = await client.send(new DescribeProjectsCommand({ ProjectNames: ["shapes"] }));
    expect(projects.ProjectDescriptions?.map((p) => p.ProjectArn)).toEqual([projectArn]);
  });

  it("lists versions newest first, filters by name and pages with NextToken", async () => {
    const { projectArn } = await newVersion("paged", "v1");
    for (const name of ["v2", "v3"]) {
      await client.send(
        new CreateProjectVersionCommand({
          ProjectArn: projectArn,
          VersionName: name,
          OutputConfig: { S3Bucket: "models" },
        }),
      );
    }
    const first = await client.send(
      new DescribeProjectVersionsCommand({ ProjectArn: projectArn, MaxResults: 2 }),
    );
    const second = await client.send(
      new DescribeProjectVersionsCommand({
        ProjectArn: projectArn,
        MaxResults: 2,
        NextToken: first.NextToken,
      }),
    );
    const names = [
      ...(first.ProjectVersionDescriptions ?? []),
      ...(second.ProjectVersionDescriptions ?? []),
    ].map((d) => d.ProjectVersionArn?.split("/")[3]);
    expect(names).toEqual(["v3", "v2", "v1"]);
    expect(second.NextToken).toBeUndefined();
    const filtered = await client.send(
      new DescribeProjectVersionsCommand({ ProjectArn: projectArn, VersionNames: ["v2"] }),
    );
    expect(filtered.ProjectVersionDescriptions).toHaveLength(1);
  });

  it("refuses duplicates and bad parameters with errors naming the field", async () => {
    const { projectArn } = await newVersion("strict");
    expect(
      await sdkError(client.send(new CreateProjectCommand({ ProjectName: "strict" }))),
    ).toMatchObject({
      name: "ResourceInUseException",
      status: 400,
    });
    const noOutput = await sdkError(
      client.send(
        new CreateProjectVersionCommand({ ProjectArn: projectArn, VersionName: "v9" } as never),
      ),
    );
    expect(noOutput).toMatchObject({ name: "InvalidParameterException", status: 400 });
    expect(noOutput.message).toContain("OutputConfig");
    const tooMany = await sdkError(
      client.send(
        new DescribeProjectVersionsCommand({
          ProjectArn: projectArn,
          VersionNames: Array.from({ length: 11 }, (_, i) => `v${i}`),
        }),
      ),
    );
    expect(tooMany).toMatchObject({ name: "InvalidParameterException", status: 400 });
    expect(tooMany.message).toContain("VersionNames");
    const badPage = await sdkError(
      client.send(new DescribeProjectVersionsCommand({ ProjectArn: projectArn, MaxResults: 0 })),
    );
    expect(badPage.message).toContain("MaxResults");
    expect(
      await sdkError(
        client.send(new DescribeProjectVersionsCommand({ ProjectArn: `${projectArn}0` })),
      ),
    ).toMatchObject({ name: "ResourceNotFoundException", status: 400 });
  });
});

describe("lifecycle", () => {
  it("starts, is seen RUNNING by the SDK waiter, serves and stops", async () => {
    const { projectArn, versionArn } = await newVersion("life");
    const started = await client.send(
      new StartProjectVersionCommand({
        ProjectVersionArn: versionArn,
        MinInferenceUnits: 1,
        MaxInferenceUnits: 2,
      }),
    );
    expect(started.Status).toBe("STARTING");
    const waited = await waitUntilProjectVersionRunning(
      { client, maxWaitTime: 20, minDelay: 1, maxDelay: 1 },
      { ProjectArn: projectArn, VersionNames: ["v1"] },
    );
    expect(waited.state).toBe("SUCCESS");
    expect(await statusOf(projectArn, "v1")).toMatchObject({
      Status: "RUNNING",
      MinInferenceUnits: 1,
      MaxInferenceUnits: 2,
    });
    const out = await client.send(
      new DetectCustomLabelsCommand({ ProjectVersionArn: versionArn, Image: { Bytes: image } }),
    );
    expect(out.CustomLabels).toEqual([{ Name: "red", Confidence: 100 }]);
    const stopped = await client.send(
      new StopProjectVersionCommand({ ProjectVersionArn: versionArn }),
    );
    expect(stopped.Status).toBe("STOPPING");
    await eventually(
      () => statusOf(projectArn, "v1"),
      (d) => d?.Status === "STOPPED",
      { what: "STOPPED" },
    );
  });

  it("validates start parameters and the unit quota", async () => {
    const { versionArn } = await newVersion("params");
    const start = (input: { MinInferenceUnits: number; MaxInferenceUnits?: number }) =>
      sdkError(
        client.send(new StartProjectVersionCommand({ ProjectVersionArn: versionArn, ...input })),
      );
    const zero = await start({ MinInferenceUnits: 0 });
    expect(zero).toMatchObject({ name: "InvalidParameterException", status: 400 });
    expect(zero.message).toContain("MinInferenceUnits");
    const inverted = await start({ MinInferenceUnits: 3, MaxInferenceUnits: 2 });
    expect(inverted).toMatchObject({ name: "InvalidParameterException", status: 400 });
    expect(inverted.message).toContain("MaxInferenceUnits");
    expect(await start({ MinInferenceUnits: 1, MaxInferenceUnits: 6 })).toMatchObject({
      name: "LimitExceededException",
      status: 400,
    });
    expect(
      await sdkError(
        client.send(
          new StartProjectVersionCommand({
            ProjectVersionArn: `${versionArn}9`,
            MinInferenceUnits: 1,
          }),
        ),
      ),
    ).toMatchObject({ name: "ResourceNotFoundException", status: 400 });
  });

  it("ends an injected failed start in FAILED with a StatusMessage; the waiter fails; it can start again", async () => {
    const { projectArn, versionArn } = await newVersion("flaky");
    emulator.admin.failNextStart(versionArn, "Injected: no capacity in the Region.");
    await client.send(
      new StartProjectVersionCommand({ ProjectVersionArn: versionArn, MinInferenceUnits: 1 }),
    );
    await expect(
      waitUntilProjectVersionRunning(
        { client, maxWaitTime: 20, minDelay: 1, maxDelay: 1 },
        { ProjectArn: projectArn, VersionNames: ["v1"] },
      ),
    ).rejects.toThrow(/FAILURE/);
    expect(await statusOf(projectArn, "v1")).toMatchObject({
      Status: "FAILED",
      StatusMessage: "Injected: no capacity in the Region.",
    });
    await client.send(
      new StartProjectVersionCommand({ ProjectVersionArn: versionArn, MinInferenceUnits: 1 }),
    );
    await eventually(
      () => statusOf(projectArn, "v1"),
      (d) => d?.Status === "RUNNING",
    );
    await client.send(new StopProjectVersionCommand({ ProjectVersionArn: versionArn }));
  });
});

describe("protocol", () => {
  const call = (target: string | undefined, body: string) =>
    fetch(emulator.endpoint, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        ...(target ? { "X-Amz-Target": target } : {}),
      },
      body,
    });

  it("answers unknown operations with UnknownOperationException, never a crash", async () => {
    const response = await call("RekognitionService.DetectLabels", "{}");
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ __type: "UnknownOperationException" });
    const missing = await call(undefined, "{}");
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { __type: string }).__type).toBe("UnknownOperationException");
  });

  it("answers malformed JSON with SerializationException", async () => {
    const response = await call("RekognitionService.DescribeProjects", "{not json");
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toBe("application/x-amz-json-1.1");
    expect(await response.json()).toMatchObject({ __type: "SerializationException" });
    // The server is still fine afterwards.
    expect((await call("RekognitionService.DescribeProjects", "{}")).status).toBe(200);
  });
});

describe("declared models", () => {
  it("exist from the config file and the options, with their feature", () => {
    const models = emulator.admin.state().models;
    expect(models.find((m) => m.project === "from-file")).toMatchObject({
      feature: "OBJECT_DETECTION",
      status: "TRAINING_COMPLETED",
    });
    expect(models.find((m) => m.project === "from-options")?.feature).toBe("CLASSIFICATION");
    expect(emulator.settings.tpsPerUnit).toBe(50);
  });

  it("return the same ARNs when declared twice, also over the admin HTTP endpoint", async () => {
    const first = emulator.admin.declareModel({ project: "declared", version: "v7" });
    const again = emulator.admin.declareModel({ project: "declared", version: "v7" });
    expect(again).toEqual(first);
    const response = await fetch(`${emulator.endpoint}/_emulator/models`, {
      method: "POST",
      body: JSON.stringify({ project: "declared", version: "v7" }),
    });
    expect(await response.json()).toEqual(first);
    const described = await statusOf(first.projectArn, "v7");
    expect(described?.ProjectVersionArn).toBe(first.projectVersionArn);
    const bad = await fetch(`${emulator.endpoint}/_emulator/models`, {
      method: "POST",
      body: JSON.stringify({ project: "declared", version: "bad name!" }),
    });
    expect(bad.status).toBe(400);
  });

  it("can be declared RUNNING and serve at once", async () => {
    const { projectVersionArn } = emulator.admin.declareModel({
      project: "hot",
      version: "v1",
      status: "RUNNING",
      minInferenceUnits: 2,
    });
    const out = await client.send(
      new DetectCustomLabelsCommand({
        ProjectVersionArn: projectVersionArn,
        Image: { Bytes: image },
      }),
    );
    expect(out.CustomLabels?.[0]?.Name).toBe("red");
    const state = (await (
      await fetch(`${emulator.endpoint}/_emulator/state`)
    ).json()) as EmulatorState;
    expect(state.models.find((m) => m.arn === projectVersionArn)).toMatchObject({
      status: "RUNNING",
      inServiceUnits: 2,
      capacityTps: 100,
    });
  });
});

/**
 * Transitions checked in states that last only a moment: under a manual clock
 * STARTING and STOPPING last until the test moves time on.
 */
describe("transitions (manual clock)", () => {
  let clock: ManualClock;
  let stepped: Emulator;
  let steppedClient: RekognitionClient;

  beforeAll(async () => {
    clock = new ManualClock();
    stepped = await startEmulator({
      clock,
      startDelayMs: 1000,
      stopDelayMs: 500,
      latencyMs: 0,
      latencyJitterMs: 0,
    });
    steppedClient = emulatorClient(stepped.endpoint);
  });

  afterAll(async () => {
    steppedClient?.destroy();
    await stepped?.close();
  });

  const model = (project: string) => {
    const { projectArn, projectVersionArn } = stepped.admin.declareModel({
      project,
      version: "v1",
    });
    const status = async () =>
      (
        await steppedClient.send(
          new DescribeProjectVersionsCommand({ ProjectArn: projectArn, VersionNames: ["v1"] }),
        )
      ).ProjectVersionDescriptions?.[0]?.Status;
    const start = (units = 1) =>
      steppedClient.send(
        new StartProjectVersionCommand({
          ProjectVersionArn: projectVersionArn,
          MinInferenceUnits: units,
        }),
      );
    const stop = () =>
      steppedClient.send(new StopProjectVersionCommand({ ProjectVersionArn: projectVersionArn }));
    const detect = () =>
      steppedClient.send(
        new DetectCustomLabelsCommand({
          ProjectVersionArn: projectVersionArn,
          Image: { Bytes: image },
        }),
      );
    return { arn: projectVersionArn, status, start, stop, detect };
  };

  it("allows only the transitions AWS allows; DetectCustomLabels needs RUNNING", async () => {
    const m = model("steps");
    const inUse = { name: "ResourceInUseException", status: 400 };
    const notReady = { name: "ResourceNotReadyException", status: 400 };
    expect(await sdkError(m.detect())).toMatchObject(notReady);
    expect(await sdkError(m.stop())).toMatchObject(inUse);

    expect((await m.start()).Status).toBe("STARTING");
    expect(await sdkError(m.start())).toMatchObject(inUse);
    expect(await sdkError(m.detect())).toMatchObject(notReady);
    await clock.advance(999);
    expect(await m.status()).toBe("STARTING");
    await clock.advance(1);
    expect(await m.status()).toBe("RUNNING");
    expect((await m.detect()).CustomLabels?.[0]?.Name).toBe("red");
    expect(await sdkError(m.start())).toMatchObject(inUse);

    expect((await m.stop()).Status).toBe("STOPPING");
    expect(await sdkError(m.stop())).toMatchObject(inUse);
    expect(await sdkError(m.start())).toMatchObject(inUse);
    expect(await sdkError(m.detect())).toMatchObject(notReady);
    await clock.advance(500);
    expect(await m.status()).toBe("STOPPED");
    expect(await sdkError(m.stop())).toMatchObject(inUse);

    // A stopped model starts again.
    expect((await m.start(2)).Status).toBe("STARTING");
    await clock.advance(1000);
    expect(await m.status()).toBe("RUNNING");
  });

  it("can stop a model that is still STARTING; it never becomes RUNNING", async () => {
    const m = model("early-stop");
    await m.start();
    await clock.advance(500);
    expect((await m.stop()).Status).toBe("STOPPING");
    await clock.advance(2000);
    expect(await m.status()).toBe("STOPPED");
  });

  it("force-stops a running model through the admin HTTP endpoint", async () => {
    const m = model("stolen");
    await m.start();
    await clock.advance(1000);
    const response = await fetch(`${stepped.endpoint}/_emulator/faults`, {
      method: "POST",
      body: JSON.stringify({ type: "force-stop", arn: m.arn }),
    });
    expect(response.status).toBe(200);
    expect(await m.status()).toBe("STOPPING");
    await clock.advance(500);
    expect(await m.status()).toBe("STOPPED");
    const again = await fetch(`${stepped.endpoint}/_emulator/faults`, {
      method: "POST",
      body: JSON.stringify({ type: "force-stop", arn: m.arn }),
    });
    expect(again.status).toBe(400);
  });
});
