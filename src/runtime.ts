/**
 * The clock and logger every core function receives. Production passes the
 * real ones; tests pass a fake clock so rate control and deadlines are
 * deterministic.
 */

import { LogLevel, Logger as PowertoolsLogger } from "@aws-lambda-powertools/logger";
import { onAbort } from "./abort-subscriptions.ts";

/** The service name on every log line and metric (`POWERTOOLS_SERVICE_NAME` overrides it in logs). */
export const SERVICE_NAME = "rekognition-weekly-batch";

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`, or rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export type LogFields = Record<string, unknown>;

/**
 * What core functions log through: a message and fields, as Powertools
 * Logger takes them (the Lambdas pass one; tests pass their own).
 */
export interface Logger {
  debug(message: string, ...fields: LogFields[]): void;
  info(message: string, ...fields: LogFields[]): void;
  warn(message: string, ...fields: LogFields[]): void;
  error(message: string, ...fields: LogFields[]): void;
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

export type { PowertoolsLogger };

/** The levels Powertools Logger takes. */
export type LogLevelName = (typeof LogLevel)[keyof typeof LogLevel];

/**
 * `POWERTOOLS_LOG_LEVEL`, else `LOG_LEVEL`, in any case (`debug`, `SILENT`);
 * INFO when neither names a level. Powertools reads the same variables, but
 * only in capitals and only when a logger is created: the local harness runs
 * every function in one process and sets them per job, so each invocation
 * reads them again.
 */
export function logLevelFromEnv(env: NodeJS.ProcessEnv = process.env): LogLevelName {
  for (const name of ["POWERTOOLS_LOG_LEVEL", "LOG_LEVEL"]) {
    const level = env[name]?.trim().toUpperCase();
    if (level && Object.hasOwn(LogLevel, level)) return level as LogLevelName;
  }
  return LogLevel.INFO;
}

/**
 * Structured JSON logs through Powertools Logger (one object per line: what
 * CloudWatch Logs Insights queries best), with the service name and `keys` on
 * every line; the level comes from {@link logLevelFromEnv} unless given.
 */
export function createLogger(keys: LogFields, logLevel?: LogLevelName): PowertoolsLogger {
  return new PowertoolsLogger({
    serviceName: process.env.POWERTOOLS_SERVICE_NAME || SERVICE_NAME,
    logLevel: logLevel ?? logLevelFromEnv(),
    persistentKeys: keys,
  });
}
