import { RetriesExhaustedError } from "./errors.ts";
import type { Clock } from "./runtime.ts";

/** How often and how patiently to try again. */
export interface RetryPolicy {
  /** Attempts in all, the first one included. */
  maxAttempts: number;
  /** The backoff cap of the first retry; it doubles with every retry. */
  baseDelayMs: number;
  /** No backoff cap grows beyond this. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 10,
  baseDelayMs: 200,
  maxDelayMs: 10_000,
};

export interface RetryOptions {
  clock: Clock;
  /** Decides whether `error`, thrown by attempt number `attempt` (1-based), is worth another try. */
  shouldRetry: (error: unknown, attempt: number) => boolean;
  policy?: Partial<RetryPolicy>;
  /** Uniform in [0, 1); injectable so tests can pin the jitter. */
  random?: () => number;
  /** Epoch ms: never sleep past it. */
  deadline?: number;
  /** Aborts a backoff sleep and prevents further attempts. */
  signal?: AbortSignal;
  /** Called before each backoff sleep. */
  onRetry?: (info: { error: unknown; attempt: number; delayMs: number }) => void;
  /**
   * Errors that do not use up an attempt while a deadline is set: throttles,
   * which the rate controller paces. A capacity cut that lasts makes the work
   * slower, not fail; the deadline still bounds it.
   */
  isPacedError?: (error: unknown) => boolean;
}

/** Backoff for paced errors stays short: the rate controller does the real pacing. */
const MAX_PACED_BACKOFF_STEP = 3;

/**
 * The sleep before retry number `retry` (1-based) with full jitter: uniform
 * between 0 and min(maxDelayMs, baseDelayMs x 2^(retry-1)). Full jitter keeps
 * workers that were throttled together from coming back together.
 */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * cap);
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * Runs `operation` until it succeeds, `shouldRetry` says no (the error is
 * rethrown as is), the attempts run out or the next backoff would end past the
 * deadline (both: `RetriesExhaustedError` with the last error as `cause`), or
 * the signal aborts (rejects with the signal's reason).
 */
export async function withRetry<T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const policy = { ...DEFAULT_RETRY_POLICY, ...options.policy };
  const random = options.random ?? Math.random;
  const { clock, signal, deadline } = options;
  // `counted`: attempts that use up the budget; paced errors (with a deadline) do not.
  let counted = 0;
  let pacedStreak = 0;
  for (let attempt = 1; ; attempt += 1) {
    signal?.throwIfAborted();
    try {
      return await operation(attempt);
    } catch (error) {
      const paced = deadline !== undefined && options.isPacedError?.(error) === true;
      if (paced) pacedStreak += 1;
      else {
        counted += 1;
        pacedStreak = 0;
      }
      if (!options.shouldRetry(error, paced ? 1 : counted)) throw error;
      signal?.throwIfAborted();
      if (counted >= policy.maxAttempts) {
        throw new RetriesExhaustedError(
          `Gave up after ${attempt} attempts; last error ${describe(error)}`,
          { cause: error },
        );
      }
      const delayMs = backoffDelay(
        paced ? Math.min(pacedStreak, MAX_PACED_BACKOFF_STEP) : counted,
        policy,
        random,
      );
      if (deadline !== undefined && clock.now() + delayMs > deadline) {
        throw new RetriesExhaustedError(
          `Gave up after ${attempt} attempts: the next retry would run past the deadline; last error ${describe(error)}`,
          { cause: error },
        );
      }
      options.onRetry?.({ error, attempt, delayMs });
      await clock.sleep(delayMs, signal);
    }
  }
}
