import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseEnv, promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../harness/local/s3-server.ts";
import type { Plan } from "../../src/shapes.ts";

/**
 * What a user does with two terminals: `npm run local:stack` in one,
 * `npm run local:events` and `npx osls invoke local --stage local ...` in the
 * other. The stack runs as a child process on free ports; osls bundles the
 * real function with serverless-esbuild and invokes it against the stack.
 */

const run = promisify(execFile);
/** Our own esbuild folder: a concurrent `osls package` deletes the default one when done. */
const WORK_FOLDER = `.esbuild-invoke-local-${process.pid}`;

/** One sample event per function in serverless.yml. */
const EVENT_NAMES = [
  "plan",
  "ensure-model-running",
  "check-model",
  "process-batch",
  "stop-model",
  "report",
  "safety-stop",
  "reaper",
];

let directory: string;
let stack: ChildProcess | undefined;
let environment: NodeJS.Dict<string>;
let stackOutput = "";

/** Resolves once the stack prints that it is ready, or rejects when it exits first. */
function waitForReady(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`stack not ready:\n${stackOutput}`)),
      timeoutMs,
    );
    child.stdout?.on("data", (chunk: Buffer) => {
      stackOutput += chunk.toString();
      if (stackOutput.includes("Local stack ready")) {
        clearTimeout(timer);
        resolvePromise();
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stackOutput += chunk.toString();
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`stack exited with ${code}:\n${stackOutput}`));
    });
  });
}

/** `osls invoke local` prints the handler's result as indented JSON after any log lines. */
function invokeResult(stdout: string): unknown {
  const start = stdout.search(/^\{$/m);
  if (start < 0) throw new Error(`no result in the output:\n${stdout}`);
  const end = stdout.lastIndexOf("}");
  return JSON.parse(stdout.slice(start, end + 1));
}

async function oslsInvoke(fn: string, eventFile: string): Promise<unknown> {
  const { stdout } = await run(
    "npx",
    ["osls", "invoke", "local", "--stage", "local", "-f", fn, "-p", eventFile],
    {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...environment, ESBUILD_WORK_FOLDER: WORK_FOLDER },
      timeout: 90_000,
    },
  );
  return invokeResult(stdout);
}

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "invoke-local-"));
  // Node itself with tsx's loader (not npx), so that SIGTERM reaches the stack's handler.
  stack = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "harness/local/stack-cli.ts",
      "--data",
      directory,
      // Otherwise a fresh stack as a user starts it: the committed events/ must match it.
      "--s3-port",
      "0",
      "--rekognition-port",
      "0",
      "--cloudwatch-port",
      "0",
    ],
    { cwd: PROJECT_ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  await waitForReady(stack, 60_000);
  environment = parseEnv(await readFile(join(directory, "invoke.env"), "utf8"));
  await run(
    "npx",
    ["tsx", "harness/local/events-cli.ts", "--data", directory, "--out", directory],
    { cwd: PROJECT_ROOT, timeout: 60_000 },
  );
}, 120_000);

afterAll(async () => {
  if (stack && stack.exitCode === null) {
    const exited = new Promise((done) => stack?.once("exit", done));
    stack.kill("SIGTERM");
    await exited;
  }
  if (directory) await rm(directory, { recursive: true, force: true });
  await rm(resolve(PROJECT_ROOT, WORK_FOLDER), { recursive: true, force: true });
});

describe("npm run local:stack + local:events + osls invoke local", () => {
  it("writes an environment that points at the stack on 127.0.0.1", () => {
    expect(environment.AWS_ENDPOINT_URL_S3).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(environment.AWS_ENDPOINT_URL_REKOGNITION).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(environment.POWERTOOLS_METRICS_DISABLED).toBe("true");
  });

  it("writes follow-on events that agree with the plan it ran", async () => {
    const check = JSON.parse(await readFile(join(directory, "check-model.json"), "utf8")) as {
      plan: Plan;
    };
    const batch = JSON.parse(await readFile(join(directory, "process-batch.json"), "utf8")) as {
      Items: { key: string }[];
    };
    expect(check.plan.counts.pending).toBeGreaterThanOrEqual(4);
    expect(batch.Items.length).toBeGreaterThan(0);
    expect(batch.Items.every((item) => item.key.startsWith("incoming/"))).toBe(true);
  });

  it("osls invoke local -f checkModel answers with the model's status from the emulator", async () => {
    const result = (await oslsInvoke("checkModel", resolve(directory, "check-model.json"))) as {
      status: string;
      ready: boolean;
      attempt: number;
    };
    // Nothing started the model: the emulator's declared version is trained, not running.
    expect(result).toMatchObject({ status: "TRAINING_COMPLETED", ready: false, attempt: 1 });
  }, 120_000);

  it("osls invoke local reports a refused input under the name the workflow routes on", async () => {
    const eventFile = join(directory, "plan-bad-input.json");
    await writeFile(eventFile, JSON.stringify({ input: { noSuchField: 1 }, executionId: "x" }));
    // A failed invocation exits 1: its output is on the rejected call.
    const failure = (await oslsInvoke("plan", eventFile).then(
      () => {
        throw new Error("the invalid input was accepted");
      },
      (error: { stdout?: string }) => error,
    )) as { stdout?: string };
    expect(invokeResult(failure.stdout ?? "")).toMatchObject({ errorType: "InvalidRunInput" });
  }, 120_000);

  it("osls invoke local -f plan plans with the stack's TPS per unit and start-up, not serverless.yml's defaults", async () => {
    const { plan } = (await oslsInvoke("plan", resolve(directory, "plan.json"))) as { plan: Plan };
    expect(plan.sizing.tpsPerUnit).toBe(Number(environment.TPS_PER_UNIT));
    expect(plan.sizing.startupSeconds).toBeCloseTo(Number(environment.STARTUP_MINUTES) * 60, 6);
  }, 120_000);

  it("the committed events/ are those of a fresh local stack", async () => {
    // Equal but for the run id and the times, which differ from run to run.
    const normalized = async (folder: string, name: string) =>
      (await readFile(resolve(folder, `${name}.json`), "utf8"))
        .replace(/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ-[0-9a-f]+/g, "<run id>")
        .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, "<time>");
    for (const name of EVENT_NAMES) {
      const hint = `events/${name}.json is not a fresh stack's: regenerate events/ with \`npm run local:stack -- --fresh\`, then \`npm run local:events\``;
      expect(await normalized(resolve(PROJECT_ROOT, "events"), name), hint).toBe(
        await normalized(directory, name),
      );
    }
  });

  it("the committed sample events parse and cover every function in serverless.yml", async () => {
    for (const name of EVENT_NAMES) {
      const text = await readFile(resolve(PROJECT_ROOT, "events", `${name}.json`), "utf8");
      expect(() => JSON.parse(text), name).not.toThrow();
    }
  });
});
