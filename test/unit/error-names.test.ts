import { readFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { LAMBDA_RUNTIME_ERROR_NAMES, RunnerError } from "../../src/errors.ts";
import { runnerErrorClasses, runnerErrorNames } from "../support/runner-errors.ts";

const root = join(import.meta.dirname, "../..");

/** Every name matched by an `ErrorEquals` anywhere in the state machine, Map children included. */
function errorEqualsNames(): Set<string> {
  const definition = parseYaml(
    readFileSync(join(root, "statemachines/weekly-batch.asl.yml"), "utf8"),
  );
  const names = new Set<string>();
  const collect = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(collect);
    else if (node && typeof node === "object") {
      for (const [key, value] of Object.entries(node)) {
        if (key === "ErrorEquals") for (const name of value as string[]) names.add(name);
        else collect(value);
      }
    }
  };
  collect(definition);
  return names;
}

/** Names AWS raises, not our code: Step Functions' own, the Lambda service's, the Lambda runtime's. */
function raisedByAws(name: string): boolean {
  return (
    name.startsWith("States.") ||
    name.startsWith("Lambda.") ||
    (LAMBDA_RUNTIME_ERROR_NAMES as readonly string[]).includes(name)
  );
}

/**
 * Errors the code throws that no Retry or Catch names on purpose: each ends
 * the run through the `States.ALL` Catch (StopAfterFailure), with the name as
 * the execution's error, because trying the step again cannot help.
 */
const DELIBERATELY_UNROUTED: Record<string, string> = {
  InvalidRunInput: "the input or configuration is wrong; the operator must fix it",
  ConcurrentExecution: "another execution owns the model; this one must not touch it",
  ModelNotUsable: "the model version is FAILED, DELETING or EXPIRED; no retry changes that",
  ModelStartFailed: "the model ended in FAILED after the start; an operator must look",
  InferenceUnitQuotaExceeded: "the account's quota refuses the units; it must be raised first",
  ModelStartTimeout: "the model did not start within the wait the run allows",
  ModelNotReady: "the model stopped mid-run; starting it again is a new run's decision",
  AccessDenied: "the role lacks a permission; retrying fails the same way",
  ResourceNotFound: "the model, bucket or manifest does not exist",
};

describe("error names", () => {
  it("finds the error classes", () => {
    expect(runnerErrorClasses.length).toBeGreaterThan(5);
  });

  it.each(runnerErrorClasses.map((errorClass) => [errorClass.name, errorClass] as const))(
    "%s: the instance's name and the class name osls prints are the routed name",
    (name, errorClass) => {
      const error = new errorClass("m");
      expect(error).toBeInstanceOf(RunnerError);
      expect(name).toMatch(/^[A-Z][A-Za-z]+$/);
      expect(name).not.toMatch(/Error$/);
      expect(error.name).toBe(name);
      expect(error.constructor.name).toBe(name);
      expect(String(error)).toBe(`${name}: m`);
    },
  );

  it("gives each class its own name", () => {
    expect(new Set(runnerErrorNames).size).toBe(runnerErrorNames.length);
  });

  it("keeps the names when the code is bundled and minified", async () => {
    // The Lambda bundles are built by esbuild; a minifier renames classes, so
    // a name taken from the class's own identifier would not survive.
    const bundle = await build({
      entryPoints: [join(root, "src/errors.ts")],
      bundle: true,
      minify: true,
      format: "cjs",
      platform: "node",
      target: "node20",
      write: false,
      logLevel: "silent",
    });
    const module = { exports: {} as Record<string, unknown> };
    new Function("module", "exports", bundle.outputFiles[0]?.text ?? "")(module, module.exports);
    const base = module.exports.RunnerError as typeof Error;
    const minified = Object.values(module.exports).filter(
      (value): value is new (message: string) => Error =>
        typeof value === "function" && value.prototype instanceof base,
    );
    const names = minified.map((errorClass) => new errorClass("m").name);
    expect(names.sort()).toEqual([...runnerErrorNames].sort());
    expect(minified.map((errorClass) => errorClass.name).sort()).toEqual(names);
  });
});

describe("the state machine's ErrorEquals and the names the code throws", () => {
  const routed = errorEqualsNames();

  it("reads the definition", () => {
    expect(routed.has("States.ALL")).toBe(true);
  });

  it("matches only names that AWS raises or the code can throw", () => {
    const unknown = [...routed].filter(
      (name) => !raisedByAws(name) && !runnerErrorNames.includes(name),
    );
    expect(unknown).toEqual([]);
  });

  it("routes every name the code throws, or says why not", () => {
    const neither = runnerErrorNames.filter(
      (name) => !routed.has(name) && !(name in DELIBERATELY_UNROUTED),
    );
    expect(neither).toEqual([]);
  });

  it("lists as unrouted only names that are thrown and really not routed", () => {
    for (const name of Object.keys(DELIBERATELY_UNROUTED)) {
      expect(runnerErrorNames).toContain(name);
      expect(routed.has(name), `${name} is routed after all`).toBe(false);
    }
  });
});
