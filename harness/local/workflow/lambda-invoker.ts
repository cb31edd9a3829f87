import { randomUUID } from "node:crypto";
import type { Clock } from "../../../src/runtime.ts";
import type { JsonValue } from "./asl.ts";
import type { HandlerBinding, LocalLambdaContext } from "./lambda-binding.ts";

/**
 * Calls local handlers the way Lambda calls them from Step Functions: a
 * JSON-serialised event and result, a context with the remaining time, the
 * function's timeout enforced, and a failure reported by its error name (what
 * AWS reports as `errorType`, so `Retry`/`Catch` `ErrorEquals` match by name,
 * and the Cause is the runtime's error JSON).
 *
 * As on AWS, nothing stops an invocation once it runs: not StopExecution, not
 * a Task timeout, not a failed Map aborting its child executions (AWS runs the
 * function to its end or its own timeout). The execution moves on without it;
 * every call is tracked so the caller can wait for these orphans afterwards.
 */

/** A Task's failure as the state machine sees it: `name` is the Error, `message` the Cause. */
export class TaskFailure extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** The error name Lambda reports when a function runs past its timeout. */
export const LAMBDA_TIMEOUT_ERROR = "Sandbox.Timedout";

export interface InvokeRequest {
  binding: HandlerBinding;
  functionName: string;
  arn: string;
  event: JsonValue;
  /** The function's timeout: past it the call fails with {@link LAMBDA_TIMEOUT_ERROR} and the handler's signal fires. */
  timeoutMs: number;
}

export class LocalInvoker {
  private readonly inFlight = new Set<Promise<unknown>>();
  private handlersRunning = 0;
  private orphanCount = 0;

  constructor(private readonly clock: Clock) {}

  /** Handlers currently running. */
  get running(): number {
    return this.handlersRunning;
  }

  /** Invocations whose (child) execution ended or was stopped while they ran: they ran on. */
  get orphans(): number {
    return this.orphanCount;
  }

  /**
   * Invokes a handler; resolves with its JSON result or rejects with a
   * {@link TaskFailure}. `signal` is the run's: once it is aborted no new call
   * starts; a handler already running is not told (`context.signal` fires
   * only at the function's own timeout).
   */
  invoke(request: InvokeRequest, signal: AbortSignal): Promise<JsonValue> {
    if (signal.aborted) {
      return Promise.reject(new TaskFailure("States.Aborted", "The execution was aborted"));
    }
    return this.track(this.call(request, signal));
  }

  /** Keeps `work` in the set {@link drain} waits for. */
  track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    const forget = () => this.inFlight.delete(work);
    work.then(forget, forget);
    return work;
  }

  /**
   * Waits until every tracked call has settled (calls started meanwhile
   * included), or until `timeoutMs` passes. Resolves true when nothing is left.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = this.clock.now() + timeoutMs;
    while (this.inFlight.size > 0) {
      const remaining = deadline - this.clock.now();
      if (remaining <= 0) return false;
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, remaining);
      });
      await Promise.race([Promise.allSettled([...this.inFlight]), expired]);
      clearTimeout(timer);
    }
    return true;
  }

  private async call(request: InvokeRequest, signal: AbortSignal): Promise<JsonValue> {
    const { binding, functionName, arn, event, timeoutMs } = request;
    const controller = new AbortController();
    const deadline = this.clock.now() + timeoutMs;
    const seconds = timeoutMs / 1000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new TaskFailure(
          LAMBDA_TIMEOUT_ERROR,
          `Task timed out after ${seconds.toFixed(2)} seconds`,
        );
        controller.abort(error);
        reject(error);
      }, timeoutMs);
    });
    // Aborted between the call and the handler's start: the invocation never
    // begins. Aborted later: it runs on, an orphan.
    let started = false;
    let abortedBeforeStart = false;
    const onAbort = () => {
      if (started) this.orphanCount += 1;
      else abortedBeforeStart = true;
    };
    signal.addEventListener("abort", onAbort, { once: true });
    const requestId = randomUUID();
    const context: LocalLambdaContext = {
      awsRequestId: requestId,
      functionName,
      functionVersion: "$LATEST",
      invokedFunctionArn: arn,
      memoryLimitInMB: "1024",
      logGroupName: `/aws/lambda/${functionName}`,
      logStreamName: `local/${requestId}`,
      callbackWaitsForEmptyEventLoop: false,
      getRemainingTimeInMillis: () => Math.max(0, deadline - this.clock.now()),
      signal: controller.signal,
    };
    this.handlersRunning += 1;
    // The handler's own promise is tracked too: after a timeout it may still
    // be running, and an aborted run must wait for it.
    const handlerRun = this.track(
      Promise.resolve()
        .then(() => {
          started = true;
          if (abortedBeforeStart) {
            throw new TaskFailure("States.Aborted", "The execution was aborted");
          }
          return binding.handler(structuredClone(event) as never, context);
        })
        .finally(() => {
          this.handlersRunning -= 1;
          signal.removeEventListener("abort", onAbort);
        }),
    );
    try {
      const result = await Promise.race([handlerRun, timedOut]);
      // Lambda returns JSON: what does not serialise (undefined, functions, Dates) changes as it would.
      const serialised = JSON.stringify(result);
      return serialised === undefined ? null : (JSON.parse(serialised) as JsonValue);
    } catch (error) {
      throw toTaskFailure(error);
    } finally {
      clearTimeout(timer);
      handlerRun.catch(() => {});
    }
  }
}

/**
 * What Step Functions reports for a value a function threw: the Error is the
 * runtime's `errorType` (the error's name), the Cause the runtime's error
 * response as a JSON string, `{"errorType","errorMessage","trace"}` (AWS Lambda
 * Developer Guide, "AWS Lambda function errors in Node.js"), which a Catch's
 * ResultPath carries as `Cause`.
 */
export function toTaskFailure(error: unknown): TaskFailure {
  if (error instanceof TaskFailure) return error;
  const errorType = error instanceof Error ? error.name || "Error" : "Error";
  const errorMessage = error instanceof Error ? error.message : String(error);
  const trace = error instanceof Error ? (error.stack ?? "").split("\n") : [];
  return new TaskFailure(errorType, JSON.stringify({ errorType, errorMessage, trace }));
}
