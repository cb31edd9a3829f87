import { describe, expect, it } from "vitest";
import type { LocalLambdaContext } from "../../../harness/local/workflow/lambda-binding.ts";
import {
  LAMBDA_TIMEOUT_ERROR,
  LocalInvoker,
  TaskFailure,
} from "../../../harness/local/workflow/lambda-invoker.ts";
import { systemClock } from "../../../src/runtime.ts";

const request = (
  handler: (event: never, context: LocalLambdaContext) => unknown,
  timeoutMs = 60_000,
) => ({
  binding: { handler },
  functionName: "fn",
  arn: "arn:aws:lambda:us-east-1:000000000000:function:fn",
  event: { a: 1 },
  timeoutMs,
});

describe("LocalInvoker", () => {
  it("passes a copy of the event and a Lambda-like context; returns the result as JSON", async () => {
    const invoker = new LocalInvoker(systemClock);
    let seen: { event: unknown; context?: LocalLambdaContext } = { event: undefined };
    const result = await invoker.invoke(
      request((event, context) => {
        seen = { event, context };
        return { when: new Date(0), gone: undefined, n: 1 };
      }),
      new AbortController().signal,
    );
    expect(result).toEqual({ when: "1970-01-01T00:00:00.000Z", n: 1 });
    expect(seen.event).toEqual({ a: 1 });
    expect(seen.context).toMatchObject({ functionName: "fn", functionVersion: "$LATEST" });
    expect(seen.context?.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen.context?.getRemainingTimeInMillis()).toBeGreaterThan(0);
    expect(seen.context?.getRemainingTimeInMillis()).toBeLessThanOrEqual(60_000);
  });

  it("reports a thrown error by its name and message, as Lambda reports errorType", async () => {
    class ModelNotReady extends Error {
      override name = "ModelNotReady";
    }
    const invoker = new LocalInvoker(systemClock);
    const failing = invoker.invoke(
      request(() => {
        throw new ModelNotReady("stopped");
      }),
      new AbortController().signal,
    );
    await expect(failing).rejects.toBeInstanceOf(TaskFailure);
    await expect(failing).rejects.toMatchObject({ name: "ModelNotReady" });
    // The Cause is the Node.js runtime's error response, as a JSON string.
    const cause = JSON.parse(((await failing.catch((error) => error)) as Error).message);
    expect(cause).toMatchObject({ errorType: "ModelNotReady", errorMessage: "stopped" });
    expect(cause.trace[0]).toBe("ModelNotReady: stopped");
  });

  it("fails a call past the function's timeout and aborts the handler's signal", async () => {
    const invoker = new LocalInvoker(systemClock);
    let aborted = false;
    const call = invoker.invoke(
      request(
        (_event, context) =>
          new Promise<void>((resolve) => {
            context.signal.addEventListener("abort", () => {
              aborted = true;
              resolve();
            });
          }),
        20,
      ),
      new AbortController().signal,
    );
    await expect(call).rejects.toMatchObject({ name: LAMBDA_TIMEOUT_ERROR });
    expect(aborted).toBe(true);
    expect(await invoker.drain(5_000)).toBe(true);
    expect(invoker.running).toBe(0);
  });

  it("leaves a running handler alone when the run is aborted (as AWS does), and starts nothing afterwards", async () => {
    const invoker = new LocalInvoker(systemClock);
    const run = new AbortController();
    let started = false;
    let sawAbort = false;
    let finish: (value: string) => void = () => {};
    const call = invoker.invoke(
      request(
        (_event, context) =>
          new Promise((resolve) => {
            started = true;
            finish = resolve;
            context.signal.addEventListener("abort", () => {
              sawAbort = true;
            });
          }),
      ),
      run.signal,
    );
    while (!started) await new Promise((resolve) => setImmediate(resolve));
    expect(invoker.running).toBe(1);
    run.abort();
    await new Promise((resolve) => setImmediate(resolve));
    expect(invoker.running).toBe(1);
    expect(sawAbort).toBe(false);
    finish("done");
    await expect(call).resolves.toBe("done");
    let ranLate = false;
    const late = invoker.invoke(
      request(() => {
        ranLate = true;
      }),
      run.signal,
    );
    await expect(late).rejects.toMatchObject({ name: "States.Aborted" });
    expect(await invoker.drain(5_000)).toBe(true);
    expect(ranLate).toBe(false);
    expect(invoker.running).toBe(0);
  });

  it("does not start a handler whose run was aborted between the call and its start", async () => {
    const invoker = new LocalInvoker(systemClock);
    const run = new AbortController();
    let ran = false;
    const call = invoker.invoke(
      request(() => {
        ran = true;
      }),
      run.signal,
    );
    run.abort();
    await expect(call).rejects.toBeInstanceOf(TaskFailure);
    expect(ran).toBe(false);
  });
});
