import { spawn } from "node:child_process";
import { join } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { describe, expect, it } from "vitest";

const PROJECT_ROOT = join(import.meta.dirname, "..", "..");

/**
 * What does not belong in a passing test run's output: log lines (the tests
 * provoke errors on purpose, and their logs would bury a real failure), stack
 * traces, process warnings (MaxListenersExceededWarning and the like), and
 * console output that vitest relays from a test.
 */
function noiseIn(output: string): string[] {
  const noise = [
    /^\s*\{.*"(level|message)":/, // a JSON log line
    /^\s+at .+(:\d+:\d+\)?|\(native\)|\(<anonymous>\))$/, // a stack frame
    /\b[A-Z]\w*Warning\b/, // MaxListenersExceededWarning, DeprecationWarning, ...
    /^(stdout|stderr) \| /, // console output relayed by vitest
  ];
  return stripVTControlCharacters(output)
    .split("\n")
    .filter((line) => noise.some((pattern) => pattern.test(line)));
}

function runVitest(file: string): Promise<{ code: number | null; output: string }> {
  // The child relies on the project's own test settings, not on this process's.
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
  delete env.LOG_LEVEL;
  delete env.POWERTOOLS_LOG_LEVEL;
  delete env.VITEST;
  delete env.VITEST_WORKER_ID;
  delete env.VITEST_POOL_ID;
  const vitest = join(PROJECT_ROOT, "node_modules", "vitest", "vitest.mjs");
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [vitest, "run", file], { cwd: PROJECT_ROOT, env });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += String(chunk);
    });
    child.stderr.on("data", (chunk) => {
      output += String(chunk);
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, output }));
  });
}

describe("quiet tests", () => {
  it("recognises the noise a run used to print", () => {
    const before = [
      " ✓ test/integration/handlers.test.ts (9 tests) 2661ms",
      '{"level":"warn","message":"STATE_MACHINE_ARN is not set: the concurrent-execution check is off","function":"plan"}',
      '{"level":"ERROR","message":"handler failed","service":"rekognition-weekly-batch","error":{"name":"BatchIncomplete"}}',
      "    at assertNoConcurrentExecution (src/workflow-steps.ts:95:13)",
      "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
      "(node:1234) MaxListenersExceededWarning: Possible EventTarget memory leak detected. 11 abort listeners added to [AbortSignal].",
      "stderr | test/integration/faults/batch.test.ts > a batch that times out",
      "      Tests  16 passed (16)",
    ].join("\n");
    expect(noiseIn(before)).toHaveLength(6);
    expect(
      noiseIn(" ✓ stops the model when batches fail (Catch -> StopAfterFailure) 3728ms"),
    ).toEqual([]);
  });

  // The handlers' tests provoke what used to be printed: the STATE_MACHINE_ARN
  // warning, InvalidImageFormatException on bad images, handlers that fail.
  it("a test file whose Lambdas log warnings and errors prints only vitest's report", async () => {
    const { code, output } = await runVitest("test/integration/handlers.test.ts");
    expect(code, output).toBe(0);
    expect(output).toContain("passed");
    expect(noiseIn(output)).toEqual([]);
  }, 240_000);
});
