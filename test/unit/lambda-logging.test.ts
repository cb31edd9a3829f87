import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ModelNotReadyError } from "../../src/errors.ts";
import { createHandler } from "../../src/lambda-handler.ts";
import { logLevelFromEnv } from "../../src/runtime.ts";

const SRC = join(import.meta.dirname, "..", "..", "src");

/** Captures what is written to stdout and stderr (and prints nothing) until restored. */
function captureOutput(): { lines: () => Record<string, unknown>[]; text: () => string } {
  const chunks: string[] = [];
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, "write").mockImplementation(((chunk: string | Uint8Array) => {
      chunks.push(String(chunk));
      return true;
    }) as typeof stream.write);
  }
  const text = () => chunks.join("");
  return {
    text,
    lines: () =>
      text()
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

const lambdaContext = (awsRequestId: string) =>
  ({
    awsRequestId,
    functionName: "rekognition-weekly-batch-dev-plan",
    functionVersion: "$LATEST",
    invokedFunctionArn:
      "arn:aws:lambda:eu-west-1:111122223333:function:rekognition-weekly-batch-dev-plan",
    memoryLimitInMB: "1024",
    getRemainingTimeInMillis: () => 60_000,
  }) as never;

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe("Lambda logs", () => {
  it("are Powertools JSON lines with the service, the function and the Lambda context", async () => {
    vi.stubEnv("LOG_LEVEL", "info");
    const handler = createHandler("plan", async (_event: unknown, { logger }) => {
      logger.info("planned", { pending: 3 });
      return "ok";
    });
    const output = captureOutput();
    await handler({}, lambdaContext("req-1"));
    expect(output.lines()).toEqual([
      expect.objectContaining({
        level: "INFO",
        message: "planned",
        pending: 3,
        service: "rekognition-weekly-batch",
        function: "plan",
        function_name: "rekognition-weekly-batch-dev-plan",
        function_request_id: "req-1",
        cold_start: expect.any(Boolean),
      }),
    ]);
  });

  it("log a failing handler's error with its name, message and stack, then rethrow it", async () => {
    vi.stubEnv("LOG_LEVEL", "error");
    const handler = createHandler("check-model", async () => {
      throw new ModelNotReadyError("the model is STOPPING");
    });
    const output = captureOutput();
    await expect(handler({}, lambdaContext("req-2"))).rejects.toMatchObject({
      name: "ModelNotReady",
    });
    const [line] = output.lines();
    expect(line).toMatchObject({
      level: "ERROR",
      message: "handler failed",
      function: "check-model",
      function_request_id: "req-2",
      error: { name: "ModelNotReady", message: "the model is STOPPING" },
    });
    expect((line?.error as { stack?: string } | undefined)?.stack).toContain("ModelNotReady");
  });

  it("read the level at each invocation (the local harness sets it per job), in any case", async () => {
    const handler = createHandler("report", async (_event: unknown, { logger }) => {
      logger.warn("slow");
      logger.info("done");
      return null;
    });
    const output = captureOutput();
    vi.stubEnv("LOG_LEVEL", "silent");
    await handler({}, lambdaContext("req-3"));
    expect(output.text()).toBe("");
    vi.stubEnv("LOG_LEVEL", "warn");
    await handler({}, lambdaContext("req-4"));
    expect(output.lines().map((line) => [line.message, line.function_request_id])).toEqual([
      ["slow", "req-4"],
    ]);
  });
});

describe("logLevelFromEnv", () => {
  it("prefers POWERTOOLS_LOG_LEVEL over LOG_LEVEL, in any case, and falls back to INFO", () => {
    expect(logLevelFromEnv({ POWERTOOLS_LOG_LEVEL: "debug", LOG_LEVEL: "ERROR" })).toBe("DEBUG");
    expect(logLevelFromEnv({ LOG_LEVEL: " Silent " })).toBe("SILENT");
    expect(logLevelFromEnv({ POWERTOOLS_LOG_LEVEL: "loud", LOG_LEVEL: "warn" })).toBe("WARN");
    expect(logLevelFromEnv({ LOG_LEVEL: "verbose" })).toBe("INFO");
    expect(logLevelFromEnv({})).toBe("INFO");
  });
});

/**
 * Powertools keeps these keys for itself: a field of that name in a log call
 * is dropped, with a warning line of its own. Checked over every call in src/.
 */
const POWERTOOLS_RESERVED_KEYS = ["level", "message", "sampling_rate", "service", "timestamp"];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith(".ts")
        ? [join(dir, entry.name)]
        : [],
  );
}

describe("log calls in src/", () => {
  it("use no field name that Powertools reserves", () => {
    const misuses: string[] = [];
    let calls = 0;
    for (const file of sourceFiles(SRC)) {
      const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest);
      const visit = (node: ts.Node): void => {
        if (
          ts.isCallExpression(node) &&
          ts.isPropertyAccessExpression(node.expression) &&
          /logger$/i.test(node.expression.expression.getText(source)) &&
          ["debug", "info", "warn", "error"].includes(node.expression.name.text)
        ) {
          calls += 1;
          for (const argument of node.arguments.slice(1)) {
            if (!ts.isObjectLiteralExpression(argument)) continue;
            for (const property of argument.properties) {
              const name = property.name?.getText(source);
              if (name && POWERTOOLS_RESERVED_KEYS.includes(name)) {
                const { line } = source.getLineAndCharacterOfPosition(property.getStart(source));
                misuses.push(`${file.slice(SRC.length + 1)}:${line + 1} ${name}`);
              }
            }
          }
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
    expect(calls).toBeGreaterThan(20);
    expect(misuses).toEqual([]);
  });
});
