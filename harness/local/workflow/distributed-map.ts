import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import type { S3Client } from "@aws-sdk/client-s3";
import type { Clock } from "../../../src/runtime.ts";
import {
  type AslState,
  isObject,
  type JsonValue,
  localArn,
  WorkflowDefinitionError,
} from "./asl.ts";
import type { ChildRef, MapRunCounts, WorkflowEventInput } from "./events.ts";
import { EXCEED_TOLERATED_FAILURE_THRESHOLD, FailureTolerance } from "./failure-tolerance.ts";
import { batchItems } from "./item-batcher.ts";
import { checkItemReader, readItems } from "./item-reader.ts";
import { TaskFailure } from "./lambda-invoker.ts";
import { MAX_PAYLOAD_BYTES, STATES_RUNTIME, TerminalFailure } from "./limits.ts";
import { type ContextObject, evaluatePath, evaluateTemplate } from "./payload.ts";
import {
  type ChildOutcome,
  checkResultWriter,
  toExecutionRecord,
  writeMapResults,
} from "./result-writer.ts";

/**
 * The Distributed Map, which aws-local-stepfunctions lacks: read the items
 * (ItemReader or the input), select and batch them, run one child execution
 * of the ItemProcessor per item or batch with bounded concurrency, stop when
 * the tolerated failures are exceeded, and return the results or write them
 * to S3 (ResultWriter), as AWS does. The engine runs this in place of the Map
 * state, as a Task that keeps the state's InputPath/ResultPath/Retry/Catch.
 */

/** AWS's ceiling on concurrent child executions (MaxConcurrency 0 means "as many as possible"). */
export const MAX_CHILD_CONCURRENCY = 10_000;

export interface ChildRunOutcome {
  status: "SUCCEEDED" | "FAILED" | "ABORTED" | "TIMED_OUT";
  output?: JsonValue;
  error?: string;
  cause?: string;
}

export interface DistributedMapDeps {
  s3: S3Client;
  clock: Clock;
  emit: (event: WorkflowEventInput) => void;
  stateMachineName: string;
  /**
   * Asks whether the state machine's role may start a child execution
   * (`states:StartExecution` on its own state machine ARN): the denial's
   * message, or undefined when allowed. Without it every start is allowed.
   */
  authorizeChildStart?: (stateMachineArn: string) => Promise<string | undefined>;
  /** Runs the ItemProcessor once, as a child execution. */
  runChild: (
    input: JsonValue,
    scope: { signal: AbortSignal; context: ContextObject; child: ChildRef },
  ) => Promise<ChildRunOutcome>;
}

export interface MapRunScope {
  /** Aborted when the execution is aborted. */
  signal: AbortSignal;
  /** The parent's context object (`$$`), for paths in the reader and writer parameters. */
  context: ContextObject;
}

/** Rejects Distributed Map settings this engine does not reproduce, before anything runs. */
export function checkDistributedMap(stateName: string, state: AslState): void {
  if (state.ItemReader !== undefined) checkItemReader(stateName, state.ItemReader);
  if (state.ResultWriter !== undefined) checkResultWriter(stateName, state.ResultWriter);
  const batcher = state.ItemBatcher;
  if (batcher !== undefined) {
    if (!isObject(batcher))
      throw new WorkflowDefinitionError(`Map "${stateName}": ItemBatcher must be an object`);
    const limits = [
      "MaxItemsPerBatch",
      "MaxItemsPerBatchPath",
      "MaxInputBytesPerBatch",
      "MaxInputBytesPerBatchPath",
    ];
    if (!limits.some((field) => batcher[field] !== undefined)) {
      throw new WorkflowDefinitionError(
        `Map "${stateName}": ItemBatcher needs MaxItemsPerBatch(Path) or MaxInputBytesPerBatch(Path)`,
      );
    }
  }
}

/** What a number field of the Map must be; the `...Path` twin must resolve to an integer at run time. */
interface NumberRule {
  min: number;
  max?: number;
  /** The literal field must be an integer too (only ToleratedFailurePercentage may have a fraction). */
  integer: boolean;
}

const NUMBER_RULES: Record<string, NumberRule> = {
  MaxConcurrency: { min: 0, integer: true },
  ToleratedFailureCount: { min: 0, integer: true },
  ToleratedFailurePercentage: { min: 0, max: 100, integer: false },
  MaxItemsPerBatch: { min: 1, integer: true },
  MaxInputBytesPerBatch: { min: 1, max: MAX_PAYLOAD_BYTES, integer: true },
  MaxItems: { min: 0, integer: true },
};

/**
 * A number field given literally or through its `...Path` twin, evaluated
 * against the state input. A value that breaks the field's rule (AWS: the
 * Path must select a non-negative integer; ToleratedFailurePercentagePath an
 * integer 0-100) is `States.Runtime`, which the Map raises itself: terminal,
 * no Catch runs.
 */
async function readNumber(
  holder: Record<string, unknown>,
  field: string,
  input: JsonValue,
  context: ContextObject,
): Promise<number | undefined> {
  const path = holder[`${field}Path`];
  const value = typeof path === "string" ? await evaluatePath(path, input, context) : holder[field];
  if (value === undefined) return undefined;
  const rule = NUMBER_RULES[field] ?? { min: 0, integer: true };
  const integer = rule.integer || typeof path === "string";
  const fits =
    typeof value === "number" &&
    Number.isFinite(value) &&
    (!integer || Number.isInteger(value)) &&
    value >= rule.min &&
    (rule.max === undefined || value <= rule.max);
  if (!fits) {
    const range = rule.max === undefined ? `>= ${rule.min}` : `from ${rule.min} to ${rule.max}`;
    throw new TerminalFailure(
      STATES_RUNTIME,
      `${field}${typeof path === "string" ? `Path ${path}` : ""} must be ${integer ? "an integer" : "a number"} ${range}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function newCounts(totalChildren: number, totalItems: number): MapRunCounts {
  return {
    totalChildren,
    totalItems,
    pending: totalChildren,
    running: 0,
    succeeded: 0,
    failed: 0,
    aborted: 0,
    itemsSucceeded: 0,
    itemsFailed: 0,
  };
}

/** Items from the ItemReader, or from the input (ItemsPath, default `$`). */
async function loadItems(
  state: AslState,
  input: JsonValue,
  scope: MapRunScope,
  s3: S3Client,
): Promise<JsonValue[]> {
  const reader = state.ItemReader;
  if (isObject(reader)) {
    const config = isObject(reader.ReaderConfig) ? reader.ReaderConfig : {};
    const parameters = await evaluateTemplate(
      (reader.Parameters ?? {}) as JsonValue,
      input,
      scope.context,
    );
    return readItems(s3, {
      resource: String(reader.Resource),
      inputType: typeof config.InputType === "string" ? config.InputType : "JSON",
      parameters: isObject(parameters) ? parameters : {},
      maxItems: await readNumber(config, "MaxItems", input, scope.context),
      signal: scope.signal,
    });
  }
  const items =
    typeof state.ItemsPath === "string"
      ? await evaluatePath(state.ItemsPath, input, scope.context)
      : input;
  if (!Array.isArray(items)) {
    throw new TerminalFailure(
      STATES_RUNTIME,
      "The Map's items (ItemsPath, default $) must be an array",
    );
  }
  return items;
}

/** Runs one Map Run of `state` (a Distributed Map) on its effective input. */
export async function runDistributedMap(
  stateName: string,
  state: AslState,
  input: JsonValue,
  scope: MapRunScope,
  deps: DistributedMapDeps,
): Promise<JsonValue> {
  const { context } = scope;
  const rawItems = await loadItems(state, input, scope, deps.s3);

  const selector = (state.ItemSelector ?? state.Parameters) as JsonValue | undefined;
  const items =
    selector === undefined
      ? rawItems
      : await Promise.all(
          rawItems.map((value, index) =>
            evaluateTemplate(selector, input, {
              ...context,
              Map: { Item: { Index: index, Value: value } },
            }),
          ),
        );

  const batcher = isObject(state.ItemBatcher) ? state.ItemBatcher : undefined;
  const childInputs: { input: JsonValue; items: number }[] = batcher
    ? batchItems(items, {
        maxItems: await readNumber(batcher, "MaxItemsPerBatch", input, context),
        maxBytes: await readNumber(batcher, "MaxInputBytesPerBatch", input, context),
        batchInput:
          batcher.BatchInput === undefined
            ? undefined
            : await evaluateTemplate(batcher.BatchInput as JsonValue, input, context),
      }).map((batch) => ({ input: batch.input as JsonValue, items: batch.input.Items.length }))
    : items.map((item) => ({ input: item, items: 1 }));

  const maxConcurrency = (await readNumber(state, "MaxConcurrency", input, context)) ?? 0;
  let tolerance: FailureTolerance;
  try {
    tolerance = new FailureTolerance(items.length, {
      count: await readNumber(state, "ToleratedFailureCount", input, context),
      percentage: await readNumber(state, "ToleratedFailurePercentage", input, context),
    });
  } catch (error) {
    if (error instanceof RangeError) throw new TerminalFailure(STATES_RUNTIME, error.message);
    throw error;
  }

  const label = typeof state.Label === "string" ? state.Label : stateName;
  const mapRunId = randomUUID();
  const mapRunArn = localArn.mapRun(deps.stateMachineName, label, mapRunId);
  const childMachineName = `${deps.stateMachineName}/${label}`;
  const childMachineArn = localArn.stateMachine(childMachineName);
  const counts = newCounts(childInputs.length, items.length);
  const concurrency = Math.min(
    maxConcurrency === 0 ? MAX_CHILD_CONCURRENCY : maxConcurrency,
    Math.max(1, childInputs.length),
  );
  const snapshot = () => ({ ...counts });
  deps.emit({
    type: "MapRunStarted",
    state: stateName,
    mapRunArn,
    totalItems: items.length,
    totalChildren: childInputs.length,
    maxConcurrency: concurrency,
    batched: batcher !== undefined,
    counts: snapshot(),
  });

  // Stops the run: the execution was aborted, or too many children failed.
  const stop = new AbortController();
  // Every running child listens to it: as many listeners as the Map's concurrency.
  setMaxListeners(MAX_CHILD_CONCURRENCY, stop.signal);
  const onAbort = () => stop.abort(scope.signal.reason);
  scope.signal.addEventListener("abort", onAbort, { once: true });
  const outcomes: (ChildOutcome | undefined)[] = new Array(childInputs.length);
  // A child that may not start fails the Map Run (States.Runtime, which no Catch sees).
  let startDenied: TerminalFailure | undefined;
  const parentMachineArn = localArn.stateMachine(deps.stateMachineName);

  const runChild = async (index: number) => {
    const child = childInputs[index] as { input: JsonValue; items: number };
    const denial = await deps.authorizeChildStart?.(parentMachineArn);
    if (denial !== undefined) {
      startDenied ??= new TerminalFailure(STATES_RUNTIME, denial);
      if (!stop.signal.aborted) stop.abort(startDenied);
      return;
    }
    const name = randomUUID();
    const executionArn = localArn.execution(childMachineName, name);
    const startDate = new Date(deps.clock.now());
    counts.pending -= 1;
    counts.running += 1;
    const event = { state: stateName, mapRunArn, index, items: child.items };
    deps.emit({ type: "MapChildStarted", ...event, counts: snapshot() });
    const outcome = await deps.runChild(child.input, {
      signal: stop.signal,
      context: {
        Execution: { Id: executionArn, Name: name },
        StateMachine: { Id: childMachineArn, Name: childMachineName },
      },
      child: { mapState: stateName, mapRunArn, index },
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
      outcomes[index] = { ...finished, status: "SUCCEEDED", output: outcome.output ?? null };
      deps.emit({ type: "MapChildSucceeded", ...event, counts: snapshot() });
    } else if (outcome.status === "ABORTED") {
      counts.aborted += 1;
      deps.emit({ type: "MapChildAborted", ...event, counts: snapshot() });
    } else {
      counts.failed += 1;
      counts.itemsFailed += child.items;
      const error = outcome.error ?? "States.TaskFailed";
      const cause = outcome.cause ?? "";
      outcomes[index] = { ...finished, status: "FAILED", error, cause };
      deps.emit({ type: "MapChildFailed", ...event, error, cause, counts: snapshot() });
      if (tolerance.recordFailure(child.items) && !stop.signal.aborted) {
        stop.abort(new TaskFailure(EXCEED_TOLERATED_FAILURE_THRESHOLD, "threshold exceeded"));
      }
    }
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
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    scope.signal.removeEventListener("abort", onAbort);
  }

  if (scope.signal.aborted) {
    deps.emit({ type: "MapRunAborted", state: stateName, mapRunArn, counts: snapshot() });
    throw new TaskFailure("States.Aborted", "The execution was aborted");
  }

  if (startDenied) {
    deps.emit({
      type: "MapRunFailed",
      state: stateName,
      mapRunArn,
      error: startDenied.name,
      cause: startDenied.message,
      counts: snapshot(),
    });
    throw startDenied;
  }

  const children = outcomes.filter((outcome): outcome is ChildOutcome => outcome !== undefined);
  const writer = isObject(state.ResultWriter) ? state.ResultWriter : undefined;
  const writeResults = async () => {
    if (!writer) return undefined;
    const parameters = await evaluateTemplate(
      (writer.Parameters ?? {}) as JsonValue,
      input,
      context,
    );
    const { Bucket, Prefix } = (isObject(parameters) ? parameters : {}) as Record<string, unknown>;
    if (typeof Bucket !== "string" || Bucket === "") {
      throw new TaskFailure(
        "States.ResultWriterFailed",
        "ResultWriter Parameters.Bucket must be a non-empty string",
      );
    }
    return writeMapResults(deps.s3, {
      bucket: Bucket,
      prefix: typeof Prefix === "string" ? Prefix : "",
      mapRunArn,
      mapRunId,
      children,
    });
  };

  if (tolerance.exceeded) {
    // AWS writes what finished even when the run fails; a failed write must not hide the real error.
    await writeResults().catch(() => undefined);
    const cause = `The specified tolerated failure threshold was exceeded (${tolerance.failed} of ${items.length} items failed)`;
    deps.emit({
      type: "MapRunFailed",
      state: stateName,
      mapRunArn,
      error: EXCEED_TOLERATED_FAILURE_THRESHOLD,
      cause,
      counts: snapshot(),
    });
    throw new TaskFailure(EXCEED_TOLERATED_FAILURE_THRESHOLD, cause);
  }

  const details = await writeResults();
  deps.emit({ type: "MapRunSucceeded", state: stateName, mapRunArn, counts: snapshot() });
  if (details) return { MapRunArn: mapRunArn, ResultWriterDetails: { ...details } };
  // Without a ResultWriter: child outputs in item order; a tolerated failure appears as its execution record.
  return children.map((child) =>
    child.status === "SUCCEEDED"
      ? (child.output ?? null)
      : (toExecutionRecord(child) as unknown as JsonValue),
  );
}
