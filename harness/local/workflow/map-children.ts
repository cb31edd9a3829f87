import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import { type JsonValue, localArn } from "./asl.ts";
import type { DistributedMapDeps } from "./distributed-map.ts";
import type { MapRunCounts } from "./events.ts";
import { EXCEED_TOLERATED_FAILURE_THRESHOLD, type FailureTolerance } from "./failure-tolerance.ts";
import { TaskFailure } from "./lambda-invoker.ts";
import { STATES_RUNTIME, TerminalFailure } from "./limits.ts";
import type { ChildOutcome } from "./result-writer.ts";

/**
 * The child executions of one Map Run: at most `concurrency` at a time, each
 * reported as it starts and ends, until every child ran, the execution is
 * aborted, too many failed, or a child may not start.
 */

/** AWS's ceiling on concurrent child executions (MaxConcurrency 0 means "as many as possible"). */
export const MAX_CHILD_CONCURRENCY = 10_000;

/** One child execution's input and how many items it carries. */
export interface ChildInput {
  input: JsonValue;
  items: number;
}

/** The Map Run a child belongs to. */
export interface MapRunIdentity {
  stateName: string;
  mapRunArn: string;
  childMachineName: string;
}

export interface ChildrenResult {
  /** By child index; `undefined` for a child that did not run or was aborted. */
  outcomes: (ChildOutcome | undefined)[];
  /** Set when a child was refused its start: the Map Run fails with it (States.Runtime, which no Catch sees). */
  startDenied?: TerminalFailure;
}

export async function runMapChildren(opts: {
  run: MapRunIdentity;
  childInputs: readonly ChildInput[];
  concurrency: number;
  counts: MapRunCounts;
  tolerance: FailureTolerance;
  /** Aborted when the execution is aborted. */
  signal: AbortSignal;
  deps: DistributedMapDeps;
}): Promise<ChildrenResult> {
  const { childInputs, signal, deps } = opts;
  // Stops the run: the execution was aborted, or too many children failed.
  const stop = new AbortController();
  // Every running child listens to it: as many listeners as the Map's concurrency.
  setMaxListeners(MAX_CHILD_CONCURRENCY, stop.signal);
  const onAbort = () => stop.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  const result: ChildrenResult = { outcomes: new Array(childInputs.length) };
  const parentMachineArn = localArn.stateMachine(deps.stateMachineName);

  const runChild = async (index: number) => {
    const denial = await deps.authorizeChildStart?.(parentMachineArn);
    if (denial !== undefined) {
      result.startDenied ??= new TerminalFailure(STATES_RUNTIME, denial);
      if (!stop.signal.aborted) stop.abort(result.startDenied);
      return;
    }
    const outcome = await runOneChild(opts, index, stop);
    if (outcome) result.outcomes[index] = outcome;
  };

  let next = 0;
  const worker = async () => {
    while (next < childInputs.length && !stop.signal.aborted) {
      const index = next;
      next += 1;
      await runChild(index);
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  return result;
}

/** Runs child `index`, keeping the counts and emitting its events; `undefined` when it was aborted. */
async function runOneChild(
  opts: Parameters<typeof runMapChildren>[0],
  index: number,
  stop: AbortController,
): Promise<ChildOutcome | undefined> {
  const { run, counts, deps } = opts;
  const child = opts.childInputs[index] as ChildInput;
  const snapshot = () => ({ ...counts });
  const name = randomUUID();
  const childMachineArn = localArn.stateMachine(run.childMachineName);
  const executionArn = localArn.execution(run.childMachineName, name);
  const startDate = new Date(deps.clock.now());
  counts.pending -= 1;
  counts.running += 1;
  const event = { state: run.stateName, mapRunArn: run.mapRunArn, index, items: child.items };
  deps.emit({ type: "MapChildStarted", ...event, counts: snapshot() });
  const outcome = await deps.runChild(child.input, {
    signal: stop.signal,
    context: {
      Execution: { Id: executionArn, Name: name },
      StateMachine: { Id: childMachineArn, Name: run.childMachineName },
    },
    child: { mapState: run.stateName, mapRunArn: run.mapRunArn, index },
  });
  counts.running -= 1;
  const finished = {
    executionArn,
    name,
    stateMachineArn: childMachineArn,
    input: child.input,
    startDate,
    stopDate: new Date(deps.clock.now()),
  };
  if (outcome.status === "SUCCEEDED") {
    counts.succeeded += 1;
    counts.itemsSucceeded += child.items;
    deps.emit({ type: "MapChildSucceeded", ...event, counts: snapshot() });
    return { ...finished, status: "SUCCEEDED", output: outcome.output ?? null };
  }
  if (outcome.status === "ABORTED") {
    counts.aborted += 1;
    deps.emit({ type: "MapChildAborted", ...event, counts: snapshot() });
    return undefined;
  }
  counts.failed += 1;
  counts.itemsFailed += child.items;
  const error = outcome.error ?? "States.TaskFailed";
  const cause = outcome.cause ?? "";
  deps.emit({ type: "MapChildFailed", ...event, error, cause, counts: snapshot() });
  if (opts.tolerance.recordFailure(child.items) && !stop.signal.aborted) {
    stop.abort(new TaskFailure(EXCEED_TOLERATED_FAILURE_THRESHOLD, "threshold exceeded"));
  }
  return { ...finished, status: "FAILED", error, cause };
}
