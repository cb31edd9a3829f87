import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy, { type MiddlewareObj } from "@middy/core";
import { accessOrExistenceError } from "./aws-errors.ts";
import { type AwsClients, createAwsClients } from "./clients.ts";
import { InternalError, RunnerError } from "./errors.ts";
import {
  type Clock,
  createLogger,
  type Logger,
  type LogLevelName,
  logLevelFromEnv,
  type PowertoolsLogger,
  systemClock,
} from "./runtime.ts";
import { MAX_ERROR_MESSAGE_CHARS, truncateText } from "./state-limits.ts";

/** The subset of the Lambda context the handlers use (the local engine provides the same). */
export interface LambdaContext {
  awsRequestId?: string;
  functionName?: string;
  getRemainingTimeInMillis?: () => number;
  /** Set by the local engine: aborted when the execution is aborted. */
  signal?: AbortSignal;
}

/** What every handler body receives besides its event. */
export interface HandlerTools {
  clients: AwsClients;
  logger: Logger;
  clock: Clock;
  /** Aborts `abortGraceMs` before the Lambda's timeout, so the body can finish cleanly. */
  signal: AbortSignal;
  context: LambdaContext;
}

export interface HandlerOptions {
  /** How long before the Lambda timeout the signal fires. Default 30 s. */
  abortGraceMs?: number;
}

const clientsByFunction = new Map<string, AwsClients>();

/**
 * Clients are created once and reused across warm invocations, one set per
 * function: on AWS a process runs a single function, so that is one set per
 * process; where functions share a process, each keeps the credentials its
 * own environment gave its clients.
 */
function clients(functionName: string): AwsClients {
  let created = clientsByFunction.get(functionName);
  if (!created) {
    created = createAwsClients();
    clientsByFunction.set(functionName, created);
  }
  return created;
}

/** For tests and the local runner: drop the cached clients after the environment changed. */
export function resetHandlerClients(): void {
  clientsByFunction.clear();
}

/**
 * The workflow routes on error names, so every error leaving a handler is one
 * of ours: named errors pass through, an AWS denial or missing resource that
 * no step mapped becomes AccessDenied or ResourceNotFound, anything else
 * becomes `Internal`; the original name and message are kept in the message
 * and the cause.
 */
export function toNamedError(error: unknown): Error {
  if (error instanceof RunnerError) return boundMessage(error);
  const name = error instanceof Error ? error.name : typeof error;
  const message = error instanceof Error ? error.message : String(error);
  const text = `${name}: ${message}`;
  const routed = accessOrExistenceError(error, { denied: text, missing: text });
  return boundMessage(routed ?? new InternalError(text, { cause: error }));
}

/**
 * The error a Lambda raises becomes the Catch's `$.error.Cause` (on AWS the
 * JSON of its message and stack, which repeats the message), and so part of
 * every later state's input, capped at 256 KiB: a long message is cut.
 */
function boundMessage(error: Error): Error {
  if (Array.from(error.message).length <= MAX_ERROR_MESSAGE_CHARS) return error;
  const long = error.message;
  error.message = truncateText(long, MAX_ERROR_MESSAGE_CHARS);
  if (error.stack) {
    const at = error.stack.indexOf(long);
    error.stack =
      at >= 0
        ? error.stack.slice(0, at) + error.message + error.stack.slice(at + long.length)
        : truncateText(error.stack, 2 * MAX_ERROR_MESSAGE_CHARS);
  }
  return error;
}

/**
 * Reads the log level again at each invocation: on AWS it never changes, but
 * the local harness runs every function in one process and sets the
 * environment per job. Runs after `injectLambdaContext`, which puts the level
 * back to the one the logger was created with (or DEBUG for a sampled
 * invocation); only a level the environment changed since is applied.
 */
function logLevelPerInvocation(logger: PowertoolsLogger, createdWith: LogLevelName): MiddlewareObj {
  return {
    before: () => {
      const level = logLevelFromEnv();
      if (level !== createdWith) logger.setLogLevel(level);
    },
  };
}

/**
 * The one wrapper every Lambda uses: structured logging (Powertools Logger,
 * with the Lambda context added by its middy middleware), an abort signal
 * before the timeout, error mapping to named errors. The body only parses its
 * event, calls `src/`, and returns.
 */
export function createHandler<TEvent, TResult>(
  functionName: string,
  body: (event: TEvent, tools: HandlerTools) => Promise<TResult>,
  options: HandlerOptions = {},
) {
  const abortGraceMs = options.abortGraceMs ?? 30_000;
  // One logger per function, as on AWS one process runs one function.
  const createdWith = logLevelFromEnv();
  const logger = createLogger({ function: functionName }, createdWith);
  const run = async (event: TEvent, context: LambdaContext): Promise<TResult> => {
    // Our own abort timer instead of middy's timeoutEarly: middy answers the
    // moment its timer fires, while we want in-flight calls to finish and
    // their results to be written before the handler returns.
    const controller = new AbortController();
    const remaining = context?.getRemainingTimeInMillis?.();
    const timer =
      remaining === undefined
        ? undefined
        : setTimeout(
            () => controller.abort(new Error("Lambda timeout approaching")),
            Math.max(0, remaining - abortGraceMs),
          );
    const upstream = context?.signal;
    const forward = () => controller.abort(upstream?.reason);
    if (upstream?.aborted) forward();
    else upstream?.addEventListener("abort", forward, { once: true });
    try {
      return await body(event, {
        clients: clients(functionName),
        logger,
        clock: systemClock,
        signal: controller.signal,
        context: context ?? {},
      });
    } catch (error) {
      const named = toNamedError(error);
      // Powertools prints the error's name, message, stack and cause.
      logger.error("handler failed", named);
      throw named;
    } finally {
      if (timer) clearTimeout(timer);
      upstream?.removeEventListener("abort", forward);
    }
  };
  return middy(run, { timeoutEarlyInMillis: 0 })
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logLevelPerInvocation(logger, createdWith));
}
