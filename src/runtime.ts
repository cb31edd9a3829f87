/**
 * The clock and logger every core function receives. Production passes the
 * real ones; tests pass a fake clock so rate control and deadlines are
 * deterministic.
 */

import { onAbort } from "./abort-subscriptions.ts";

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`, or rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      // Concurrent retries sleep on one shared signal: see abort-subscriptions.ts.
      const unsubscribe = signal
        ? onAbort(signal, () => {
            clearTimeout(timer);
            reject(signal.reason);
          })
        : () => {};
      const timer = setTimeout(() => {
        unsubscribe();
        resolve();
      }, ms);
    }),
};

export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};

type LogLevel = keyof Logger | "silent";

/** `LOG_LEVEL` (debug, info, warn, error, silent); info when unset or unknown. */
export function logLevelFromEnv(env: NodeJS.ProcessEnv = process.env): LogLevel {
  const level = env.LOG_LEVEL?.toLowerCase();
  return level === "debug" || level === "warn" || level === "error" || level === "silent"
    ? level
    : "info";
}

/** One JSON object per line on stdout/stderr: what CloudWatch Logs Insights queries best. */
export function jsonLogger(base: LogFields = {}, minLevel: LogLevel = logLevelFromEnv()): Logger {
  const order: LogLevel[] = ["debug", "info", "warn", "error", "silent"];
  const min = order.indexOf(minLevel);
  const write = (level: keyof Logger) => (message: string, fields?: LogFields) => {
    if (order.indexOf(level) < min) return;
    const line = JSON.stringify({
      level,
      message,
      ...base,
      ...fields,
      time: new Date().toISOString(),
    });
    (level === "error" || level === "warn" ? process.stderr : process.stdout).write(`${line}\n`);
  };
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}
