import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { LAMBDA_SERVICE_ERROR_NAMES } from "../../src/errors.ts";

/**
 * The retry lists of the state machine, read from the files that are deployed:
 * every Lambda Task retries what AWS recommends, a `States.Timeout` is only
 * matched where a `TimeoutSeconds` can raise it, and each TimeoutSeconds sits
 * above its Lambda's own timeout.
 */

const root = join(import.meta.dirname, "../..");
const definition = parseYaml(
  readFileSync(join(root, "statemachines/weekly-batch.asl.yml"), "utf8"),
);
const serverless = parseYaml(readFileSync(join(root, "serverless.yml"), "utf8"));

interface Retrier {
  ErrorEquals: string[];
}
interface TaskState {
  Type: string;
  Resource?: unknown;
  Retry?: Retrier[];
  TimeoutSeconds?: number;
}

/** Every Task invoking one of our Lambdas, with the function's key in serverless.yml. */
function lambdaTasks(): { name: string; state: TaskState; functionKey: string }[] {
  const found: { name: string; state: TaskState; functionKey: string }[] = [];
  const visit = (states: Record<string, TaskState & { ItemProcessor?: { States: never } }>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.ItemProcessor) visit(state.ItemProcessor.States);
      const getAtt = (state.Resource as { "Fn::GetAtt"?: [string, string] } | undefined)?.[
        "Fn::GetAtt"
      ];
      if (state.Type !== "Task" || !getAtt) continue;
      const logicalId = getAtt[0];
      const key = logicalId.replace(/LambdaFunction$/, "");
      found.push({ name, state, functionKey: key.charAt(0).toLowerCase() + key.slice(1) });
    }
  };
  visit(definition.States);
  return found;
}

/** The function's timeout in seconds, with `${self:custom.x}` resolved. */
function functionTimeout(functionKey: string): number {
  const raw = serverless.functions[functionKey]?.timeout ?? serverless.provider.timeout;
  const custom = /^\$\{self:custom\.(\w+)\}$/.exec(String(raw));
  return Number(custom ? serverless.custom[custom[1] as string] : raw);
}

const covered = (retry: Retrier[] | undefined, name: string) =>
  (retry ?? []).some((r) => r.ErrorEquals.includes(name) || r.ErrorEquals.includes("States.ALL"));

describe("retry lists of the Lambda Tasks", () => {
  const tasks = lambdaTasks();

  it("finds every Lambda Task, the Map's ProcessBatch included", () => {
    expect(tasks.map((t) => t.name).sort()).toEqual(
      [
        "CheckModel",
        "CheckStopped",
        "EnsureModelRunning",
        "EvaluateRound",
        "MergePlan",
        "Plan",
        "PlanShard",
        "ProcessBatch",
        "Report",
        "ReportFailure",
        "RestartStopModel",
        "StopAfterFailure",
        "StopModel",
      ].sort(),
    );
  });

  it.each(lambdaTasks().map((t) => [t.name, t.state] as const))(
    "%s retries AWS's recommended Lambda service errors",
    (_name, state) => {
      const missing = LAMBDA_SERVICE_ERROR_NAMES.filter((n) => !covered(state.Retry, n));
      expect(missing).toEqual([]);
    },
  );

  it("matches States.Timeout only where TimeoutSeconds can raise it", () => {
    const dead = tasks
      .filter((t) => t.state.TimeoutSeconds === undefined)
      .filter((t) => (t.state.Retry ?? []).some((r) => r.ErrorEquals.includes("States.Timeout")))
      .map((t) => t.name);
    expect(dead).toEqual([]);
  });

  it("sets each TimeoutSeconds above its Lambda's timeout, so it fires only for a lost invocation", () => {
    for (const { name, state, functionKey } of tasks) {
      expect(state.TimeoutSeconds, name).toBeDefined();
      const lambda = functionTimeout(functionKey);
      expect(Number.isFinite(lambda), `${name}: timeout of ${functionKey}`).toBe(true);
      expect(state.TimeoutSeconds as number, name).toBeGreaterThan(lambda);
    }
  });

  it("retries a ProcessBatch that timed out or ran out of memory (its finished images are written)", () => {
    const batch = tasks.find((t) => t.name === "ProcessBatch")?.state;
    for (const name of ["Sandbox.Timedout", "Runtime.OutOfMemory", "BatchIncomplete"]) {
      expect(covered(batch?.Retry, name), name).toBe(true);
    }
  });

  it("retries ControlPlaneUnavailable in every step that calls the model's control plane", () => {
    for (const name of [
      "EnsureModelRunning",
      "CheckModel",
      "CheckStopped",
      "StopModel",
      "RestartStopModel",
      "StopAfterFailure",
    ]) {
      const state = tasks.find((t) => t.name === name)?.state;
      expect(covered(state?.Retry, "ControlPlaneUnavailable"), name).toBe(true);
    }
  });
});
