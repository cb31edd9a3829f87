import { randomUUID } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";
import { type Clock, systemClock } from "../../../src/runtime.ts";
import { type AslDefinition, type JsonValue, localArn } from "./asl.ts";
import { WorkflowEngine } from "./engine.ts";
import type { WorkflowEvent, WorkflowEventInput, WorkflowEventListener } from "./events.ts";
import type { HandlerMap } from "./lambda-binding.ts";
import { LocalInvoker } from "./lambda-invoker.ts";

/**
 * Runs a state machine definition locally, as one Step Functions execution:
 * aws-local-stepfunctions interprets it, every Task calls a local handler,
 * Distributed Maps run through the local adapter against S3, and time is
 * scaled so that a run takes seconds.
 */

export interface RunWorkflowOptions {
  /** The parsed definition (see `loadDefinition`), Lambdas referenced by `Fn::GetAtt` or name. */
  definition: AslDefinition;
  input?: JsonValue;
  /** Lambda handlers keyed by logical id (`PlanLambdaFunction`) or function name (`plan`). */
  handlers: HandlerMap;
  /** Handlers for other Task resources, keyed by the exact Resource ARN (e.g. an `aws-sdk:` integration). */
  resources?: HandlerMap;
  /** The S3 client the Distributed Map's ItemReader and ResultWriter use. */
  s3: S3Client;
  /**
   * Whether the state machine may start a Distributed Map's child execution
   * (`states:StartExecution` on its own ARN): a denial's message, or undefined.
   */
  authorizeChildStart?: (stateMachineArn: string) => Promise<string | undefined>;
  /** Multiplies every Wait duration (default 1, real time). */
  waitScale?: number;
  /** Multiplies every retry interval and MaxDelaySeconds (default: `waitScale`). */
  retryScale?: number;
  /** Every Wait lasts exactly this many milliseconds instead. */
  waitMs?: number;
  /** A function's timeout when its binding sets none (default 900, Lambda's maximum). */
  lambdaTimeoutSeconds?: number;
  /** Used in the execution, Map Run and child ARNs (default `local-workflow`). */
  stateMachineName?: string;
  /** `$$.Execution.Name` (default a random UUID). */
  executionName?: string;
  /** Extra context object fields; `Execution.Id/Name` and `StateMachine.Id/Name` are set by the run. */
  context?: Record<string, unknown>;
  /**
   * Aborts the execution (StopExecution): the result is ABORTED at once and no
   * new invocation starts; running handlers are not told and run on (orphans).
   */
  signal?: AbortSignal;
  onEvent?: WorkflowEventListener;
  clock?: Clock;
}

export interface WorkflowResult {
  status: "SUCCEEDED" | "FAILED" | "ABORTED" | "TIMED_OUT";
  output?: JsonValue;
  error?: string;
  cause?: string;
  /** A local pseudo-ARN, also `$$.Execution.Id`. */
  executionArn: string;
  startDate: string;
  stopDate: string;
  events: WorkflowEvent[];
  /**
   * Invocations that ran on after their execution ended or was stopped (an
   * aborted or failed execution, a failed Map aborting its children): AWS does
   * not stop a running Lambda.
   */
  orphans: number;
  /**
   * Waits until every orphan has ended, at most `timeoutMs` (default: the
   * longest function timeout and a second); resolves with how many still run.
   */
  settleOrphans: (timeoutMs?: number) => Promise<number>;
}

const DEFAULT_LAMBDA_TIMEOUT_SECONDS = 900;

/**
 * Executes `definition` with `input`. Resolves with the execution's status
 * and output; rejects only for a definition that cannot run locally
 * (`WorkflowDefinitionError`: unbound Task, unsupported feature, invalid ASL),
 * before anything has run.
 */
export async function runWorkflow(options: RunWorkflowOptions): Promise<WorkflowResult> {
  const clock = options.clock ?? systemClock;
  const events: WorkflowEvent[] = [];
  const emit = (event: WorkflowEventInput) => {
    const timed = { ...event, timestamp: clock.now() } as WorkflowEvent;
    events.push(timed);
    try {
      options.onEvent?.(timed);
    } catch {
      // A failing progress display must not change the execution.
    }
  };
  const invoker = new LocalInvoker(clock);
  const waitScale = options.waitScale ?? 1;
  const stateMachineName = options.stateMachineName ?? "local-workflow";
  const engine = new WorkflowEngine({
    s3: options.s3,
    invoker,
    clock,
    emit,
    stateMachineName,
    handlers: options.handlers,
    resources: options.resources ?? {},
    ...(options.authorizeChildStart ? { authorizeChildStart: options.authorizeChildStart } : {}),
    time: { waitScale, retryScale: options.retryScale ?? waitScale, waitMs: options.waitMs },
    lambdaTimeoutSeconds: options.lambdaTimeoutSeconds ?? DEFAULT_LAMBDA_TIMEOUT_SECONDS,
  });
  const prepared = engine.prepare(options.definition);

  const executionName = options.executionName ?? randomUUID();
  const executionArn = localArn.execution(stateMachineName, executionName);
  const controller = new AbortController();
  const onAbort = () => controller.abort(options.signal?.reason);
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener("abort", onAbort, { once: true });

  const startDate = new Date(clock.now()).toISOString();
  emit({ type: "ExecutionStarted", executionArn });
  let outcome: Awaited<ReturnType<WorkflowEngine["run"]>>;
  try {
    outcome = await engine.run(prepared, options.input ?? {}, {
      signal: controller.signal,
      context: {
        ...options.context,
        Execution: { Id: executionArn, Name: executionName },
        StateMachine: { Id: localArn.stateMachine(stateMachineName), Name: stateMachineName },
      },
    });
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }
  // Whatever ended the execution, nothing new starts; what runs is left to run.
  controller.abort();
  const orphans = invoker.orphans;
  const longestTimeoutMs = longestFunctionTimeoutMs(options);

  switch (outcome.status) {
    case "SUCCEEDED":
      emit({ type: "ExecutionSucceeded", executionArn });
      break;
    case "FAILED":
      emit({
        type: "ExecutionFailed",
        executionArn,
        error: outcome.error ?? "",
        cause: outcome.cause ?? "",
      });
      break;
    case "ABORTED":
      emit({ type: "ExecutionAborted", executionArn });
      break;
    case "TIMED_OUT":
      emit({ type: "ExecutionTimedOut", executionArn });
      break;
  }
  return {
    ...outcome,
    executionArn,
    startDate,
    stopDate: new Date(clock.now()).toISOString(),
    events,
    orphans,
    settleOrphans: async (timeoutMs = longestTimeoutMs + 1000) => {
      await invoker.drain(timeoutMs);
      return invoker.running;
    },
  };
}

function longestFunctionTimeoutMs(options: RunWorkflowOptions): number {
  const fallback = options.lambdaTimeoutSeconds ?? DEFAULT_LAMBDA_TIMEOUT_SECONDS;
  const seconds = Object.values({ ...options.handlers, ...options.resources }).map((entry) =>
    typeof entry === "function" ? fallback : (entry.timeoutSeconds ?? fallback),
  );
  return Math.max(fallback, ...seconds) * 1000;
}
