import { randomUUID } from "node:crypto";
import type { Clock } from "../../runtime.ts";
import type { JsonValue } from "./asl.ts";
import type { HandlerBinding, LocalLambdaContext } from "./lambda-binding.ts";

/**
 * Calls local handlers the way Lambda calls them from Step Functions: a
 * JSON-serialised event and result, a context with the remaining time, the
 * function's timeout enforced, and a failure reported by its error name (what
 * AWS reports as `errorType`, so `Retry`/`Catch` `ErrorEquals` match by name).
 * Every call is tracked so an aborted run can wait until no handler is left running.
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
  /** The function's timeout: past it the call fails with {@link LAMBDA_TIMEOUT_ERROR}. */
  timeoutMs: number;
  /** When the handler's remaining time runs out and its signal fires (the Task's TimeoutSeconds, if sooner). */
  deadlineMs?: number;
}

export class LocalInvoker {
  private readonly inFlight = new Set<Promise<unknown>>();
  private handlersRunning = 0;

  constructor(private readonly clock: Clock) {}

  /** Handlers currently running. */
  get running(): number {
    return this.handlersRunning;
  }

  /**
   * Invokes a handler; resolves with its JSON result or rejects with a
   * {@link TaskFailure}. `signal` is the run's: once it is aborted no new call
   * starts, and running handlers see it through `context.signal`.
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
    const deadlineMs = Math.min(request.deadlineMs ?? timeoutMs, timeoutMs);
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    const deadline = this.clock.now() + deadlineMs;
    const seconds = timeoutMs / 1000;
    // The Task's own timeout (States.Timeout) is the engine's; the handler is told to stop then too.
    const deadlineTimer =
      deadlineMs < timeoutMs
        ? setTimeout(
            () => controller.abort(new TaskFailure("States.Timeout", "Task timed out")),
            deadlineMs,
          )
        : undefined;
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
          // Aborted between the call and this tick: the handler never starts.
          if (controller.signal.aborted) throw toTaskFailure(controller.signal.reason);
          return binding.handler(structuredClone(event) as never, context);
        })
        .finally(() => {
          this.handlersRunning -= 1;
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
      clearTimeout(deadlineTimer);
      signal.removeEventListener("abort", onAbort);
      handlerRun.catch(() => {});
    }
  }
}

/** What Step Functions reports for a thrown value: Lambda's `errorType` is the error's name. */
export function toTaskFailure(error: unknown): TaskFailure {
  if (error instanceof TaskFailure) return error;
  if (error instanceof Error) return new TaskFailure(error.name || "Error", error.message);
  return new TaskFailure("Error", String(error));
}
