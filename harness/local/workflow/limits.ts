import type { JsonValue } from "./asl.ts";
import { TaskFailure } from "./lambda-invoker.ts";

/**
 * Step Functions' service limits, enforced locally so that a run that would
 * fail on AWS fails here too (AWS Step Functions Developer Guide, "Step
 * Functions service quotas" and "Handling errors in Step Functions workflows").
 */

/** The payload quota: 256 KiB of UTF-8 for a state's input or output, a task result, a child's input. */
export const MAX_PAYLOAD_BYTES = 262_144;

/** A Standard execution's history holds at most this many events ("Avoid reaching the history quota"). */
export const MAX_HISTORY_EVENTS = 25_000;

export const DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded";
export const STATES_RUNTIME = "States.Runtime";

/**
 * An error no Retry or Catch sees, States.ALL included: AWS calls
 * `States.DataLimitExceeded` a terminal error and says `States.Runtime` "isn't
 * retriable, and will always cause the execution to fail". aws-local-stepfunctions
 * reads `isRetryable` / `isCatchable` on a thrown error.
 */
export class TerminalFailure extends TaskFailure {
  get isRetryable(): boolean {
    return false;
  }
  get isCatchable(): boolean {
    return false;
  }
}

export const isTerminal = (error: unknown): error is TerminalFailure =>
  error instanceof TerminalFailure;

/** The UTF-8 size of a value as Step Functions carries it (JSON). */
export function payloadBytes(value: JsonValue | undefined): number {
  return Buffer.byteLength(JSON.stringify(value ?? null), "utf8");
}

/** The DataLimitExceeded failure for `what` (e.g. `the output of state "Plan"`), or undefined if it fits. */
export function payloadViolation(
  value: JsonValue | undefined,
  what: string,
): TerminalFailure | undefined {
  const bytes = payloadBytes(value);
  if (bytes <= MAX_PAYLOAD_BYTES) return undefined;
  return new TerminalFailure(
    DATA_LIMIT_EXCEEDED,
    `${what} is ${bytes.toLocaleString("en-US")} bytes, over the ${MAX_PAYLOAD_BYTES.toLocaleString("en-US")}-byte (256 KiB) payload quota`,
  );
}

/** Throws DataLimitExceeded when `value` is over the payload quota. */
export function checkPayload(value: JsonValue | undefined, what: string): void {
  const violation = payloadViolation(value, what);
  if (violation) throw violation;
}

/**
 * Counts the events AWS would record in one execution's history (a
 * Distributed Map child is its own execution with its own history). AWS: once
 * an execution has 24,999 events, event 25,000 must be ExecutionSucceeded,
 * else ExecutionFailed is logged with States.Runtime, "The execution reached
 * the maximum number of history events (25000)."
 */
export class HistoryCounter {
  private count = 1; // ExecutionStarted

  constructor(private readonly limit = MAX_HISTORY_EVENTS) {}

  get events(): number {
    return this.count;
  }

  /** Records `n` events; returns the terminal failure once the history is full. */
  add(n: number): TerminalFailure | undefined {
    this.count += n;
    return this.exceeded();
  }

  /** Past 24,999 events, the next one is the execution's failure. */
  exceeded(): TerminalFailure | undefined {
    if (this.count < this.limit) return undefined;
    return new TerminalFailure(
      STATES_RUNTIME,
      `The execution reached the maximum number of history events (${this.limit}).`,
    );
  }
}
