import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RekognitionClient, StartProjectVersionCommand } from "@aws-sdk/client-rekognition";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localDeploymentEnvironment } from "../../harness/local/local-job.ts";
import { type LocalStack, startLocalStack } from "../../harness/local/local-stack.ts";
import { writeSampleImages } from "../../harness/local/sample-images.ts";
import { type LocalSfnApi, startLocalSfnApi } from "../../harness/local/sfn-api.ts";
import type { CliIo } from "../../src/cli/context.ts";
import { runCli } from "../../src/cli/main.ts";
import { readLearnedTps } from "../../src/learned-tps.ts";
import { silentLogger } from "../../src/runtime.ts";

/**
 * The CLI's commands against the local stack through the standard endpoint
 * variables: the emulator for Rekognition, the embedded S3, and the local
 * Step Functions API, all over sockets.
 */

const TPS_PER_UNIT = 6;
let dataDirectory: string;
let stack: LocalStack;
let api: LocalSfnApi;
let restoreEnvironment: () => void;

beforeAll(async () => {
  dataDirectory = await mkdtemp(join(tmpdir(), "cli-commands-"));
  stack = await startLocalStack({
    dataDirectory,
    emulator: { startDelayMs: 200, stopDelayMs: 100, latencyMs: 10, tpsPerUnit: TPS_PER_UNIT },
  });
  api = await startLocalSfnApi({ stack, job: { waitMs: 50 } });
  process.env.LOG_LEVEL = "silent";
  // What an operator's shell has after deploying: the deployment's settings and endpoints.
  const deployment = localDeploymentEnvironment(stack);
  delete deployment.TPS_PER_UNIT;
  restoreEnvironment = stack.applyEnvironment({ ...deployment, ...api.environment });
  await writeSampleImages({
    s3: stack.s3,
    bucket: stack.imagesBucket,
    prefix: "incoming/",
    count: 10,
    largeImages: 0,
  });
});

afterAll(async () => {
  restoreEnvironment?.();
  await api?.close();
  await stack?.close();
  await rm(dataDirectory, { recursive: true, force: true });
});

function io(confirm?: (question: string) => Promise<boolean>) {
  const out: string[] = [];
  const err: string[] = [];
  const value: CliIo = {
    stdout: { write: (text: string) => out.push(text) },
    stderr: { write: (text: string) => err.push(text) },
    env: process.env,
    ...(confirm ? { confirm } : {}),
  };
  return {
    io: value,
    out: () => out.join(""),
    err: () => err.join(""),
    json: () => JSON.parse(out.join("")),
  };
}

function model() {
  const state = stack.emulator.admin.state().models.find((m) => m.arn === stack.projectVersionArn);
  if (!state) throw new Error("the declared model is missing");
  return state;
}

async function until(condition: () => boolean, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}

async function startModel() {
  const rekognition = new RekognitionClient({});
  try {
    await rekognition.send(
      new StartProjectVersionCommand({
        ProjectVersionArn: stack.projectVersionArn,
        MinInferenceUnits: 1,
      }),
    );
  } finally {
    rekognition.destroy();
  }
  await until(() => model().status === "RUNNING", "the model to run");
}

describe("the CLI against the local stack", () => {
  it("plan lists the images and sizes the run with the default TPS", async () => {
    const run = io();
    expect(await runCli(["plan", "--json", "--target-window-minutes", "1"], run.io)).toBe(0);
    const report = run.json();
    expect(report.counts).toEqual({ listed: 10, pending: 10, skipped: 0, alreadyDone: 0 });
    expect(report.sizing).toMatchObject({ tpsSource: "default", tpsPerUnit: 5, units: 1 });
    expect(report.cost.chosen.units).toBe(1);

    const text = io();
    expect(await runCli(["plan", "--images", "100000"], text.io)).toBe(0);
    expect(text.out()).toMatch(/Recommended 5 inference unit\(s\)/);
    expect(text.out()).toMatch(/>\s+5 /);
  });

  it("calibrate refuses a stopped model (exit 1), finds what one unit serves on a running one, and plan picks it up", async () => {
    const stopped = io();
    expect(await runCli(["calibrate"], stopped.io)).toBe(1);
    expect(stopped.err()).toMatch(/is TRAINING_COMPLETED: calibrate probes a RUNNING model/);

    await startModel();
    const run = io();
    const code = await runCli(
      ["calibrate", "--json", "--start-tps", "4", "--step-seconds", "2", "--max-tps", "12"],
      run.io,
    );
    expect(code).toBe(0);
    const { calibration, stored } = run.json();
    expect(stored).toBe(true);
    expect(calibration.measured).toBe(true);
    // 1 unit x 6 TPS: within one step of the emulator's limit.
    expect(calibration.tpsPerUnit).toBeGreaterThanOrEqual(TPS_PER_UNIT - 1);
    expect(calibration.tpsPerUnit).toBeLessThanOrEqual(TPS_PER_UNIT + 1);
    expect(calibration.steps.at(-1).throttledShare).toBeGreaterThan(0.02);
    const learned = await readLearnedTps({
      s3: stack.s3,
      bucket: stack.resultsBucket,
      resultsPrefix: "rekognition-results/",
      logger: silentLogger,
      projectVersionArn: stack.projectVersionArn,
    });
    expect(learned?.tpsPerUnit).toBe(calibration.tpsPerUnit);
    expect(learned?.measured).toBe(true);

    const plan = io();
    expect(await runCli(["plan", "--json"], plan.io)).toBe(0);
    expect(plan.json().sizing).toMatchObject({
      tpsSource: "learned",
      tpsPerUnit: calibration.tpsPerUnit,
    });
  });

  it("status shows the running model; stop asks first, then stops it", async () => {
    if (model().status !== "RUNNING") await startModel();
    const status = io();
    expect(await runCli(["status", "--json"], status.io)).toBe(0);
    expect(status.json()).toMatchObject({
      model: { status: "RUNNING", minInferenceUnits: 1 },
      runningExecutions: [],
      // The current figures come from CloudWatch GetMetricData (the local endpoint).
      unitMetrics: {
        status: "read",
        periodSeconds: 1,
        figures: {
          inService: { value: 1 },
          desired: { value: 1 },
          min: { value: 1 },
          max: { value: 1 },
        },
      },
    });
    const text = io();
    expect(await runCli(["status"], text.io)).toBe(0);
    expect(text.out()).toMatch(/Metrics {5}in service 1, desired 1, min 1, max 1 \(CloudWatch, /);

    const noTerminal = io();
    expect(await runCli(["stop"], noTerminal.io)).toBe(2);
    expect(noTerminal.err()).toContain("--yes");
    const questions: string[] = [];
    const declined = io(async (question) => {
      questions.push(question);
      return false;
    });
    expect(await runCli(["stop"], declined.io)).toBe(1);
    expect(questions[0]).toContain(`stop model ${stack.projectVersionArn} (now RUNNING)`);
    expect(model().status).toBe("RUNNING");

    const stop = io();
    expect(await runCli(["stop", "--yes", "--json"], stop.io)).toBe(0);
    expect(stop.json().model.stopped).toBe(true);
    await until(() => model().status === "STOPPED", "the model to stop");
  });

  it("start --follow runs the workflow to the end and prints its summary; not-found errors exit 1", async () => {
    const run = io();
    const code = await runCli(
      ["start", "--follow", "--poll-seconds", "0.05", "--target-window-minutes", "5"],
      run.io,
    );
    expect(run.out()).toContain("Execution   SUCCEEDED");
    expect(code).toBe(0);
    expect(run.out() + run.err()).toMatch(/Results\s+10 succeeded, 0 failed \(counts reconcile\)/);
    expect(run.out()).toMatch(
      /Written\s+10 result line\(s\) in \d+ part\(s\) under s3:\/\/\S+\/runs\/\S+\/results\/\n/,
    );
    expect(run.err()).toMatch(/\[#+\] 10\/10 images/);
    expect(model().status).not.toBe("RUNNING");

    const wrongMachine = io();
    expect(
      await runCli(
        [
          "start",
          "--state-machine-arn",
          "arn:aws:states:us-east-1:000000000000:stateMachine:other",
        ],
        wrongMachine.io,
      ),
    ).toBe(1);
    expect(wrongMachine.err()).toContain("state machine not found");

    const wrongModel = io();
    expect(
      await runCli(
        [
          "status",
          "--project-version-arn",
          stack.projectVersionArn.replace("local-demo", "missing"),
        ],
        wrongModel.io,
      ),
    ).toBe(1);
    expect(wrongModel.err()).toContain("not found");
  });
});
