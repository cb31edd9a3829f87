import { randomUUID } from "node:crypto";
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
import { type ChildInput, MAX_CHILD_CONCURRENCY, runMapChildren } from "./map-children.ts";
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
  const items = await selectItems(state, input, scope, deps.s3);
  const batcher = isObject(state.ItemBatcher) ? state.ItemBatcher : undefined;
  const childInputs = await childInputsOf(batcher, items, input, context);
  const maxConcurrency = (await readNumber(state, "MaxConcurrency", input, context)) ?? 0;
  const tolerance = await toleranceOf(state, items.length, input, context);

  const label = typeof state.Label === "string" ? state.Label : stateName;
  const mapRunId = randomUUID();
  const run = {
    stateName,
    mapRunArn: localArn.mapRun(deps.stateMachineName, label, mapRunId),
    childMachineName: `${deps.stateMachineName}/${label}`,
  };
  const { mapRunArn } = run;
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

  const { outcomes, startDenied } = await runMapChildren({
    run,
    childInputs,
    concurrency,
    counts,
    tolerance,
    signal: scope.signal,
    deps,
  });

  return concludeMapRun({
    stateName,
    state,
    input,
    scope,
    deps,
    mapRunArn,
    mapRunId,
    counts,
    tolerance,
    totalItems: items.length,
    outcomes,
    startDenied,
  });
}

/**
 * How the Map Run ends, once its children have: aborted, failed (a start was
 * denied, or too many children failed) or succeeded, with its results
 * written (ResultWriter) or returned.
 */
async function concludeMapRun(opts: {
  stateName: string;
  state: AslState;
  input: JsonValue;
  scope: MapRunScope;
  deps: DistributedMapDeps;
  mapRunArn: string;
  mapRunId: string;
  counts: MapRunCounts;
  tolerance: FailureTolerance;
  totalItems: number;
  outcomes: (ChildOutcome | undefined)[];
  startDenied?: TerminalFailure;
}): Promise<JsonValue> {
  const { stateName, state, input, scope, deps, mapRunArn, mapRunId, tolerance, startDenied } =
    opts;
  const { context } = scope;
  const snapshot = () => ({ ...opts.counts });
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

  const children = opts.outcomes.filter(
    (outcome): outcome is ChildOutcome => outcome !== undefined,
  );
  const writeResults = () =>
    writeResultsOf(state, input, context, deps.s3, { mapRunArn, mapRunId, children });

  if (tolerance.exceeded) {
    // AWS writes what finished even when the run fails; a failed write must not hide the real error.
    await writeResults().catch(() => undefined);
    const cause = `The specified tolerated failure threshold was exceeded (${tolerance.failed} of ${opts.totalItems} items failed)`;
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

/** The items, loaded and passed through the ItemSelector (or Parameters) when there is one. */
async function selectItems(
  state: AslState,
  input: JsonValue,
  scope: MapRunScope,
  s3: S3Client,
): Promise<JsonValue[]> {
  const rawItems = await loadItems(state, input, scope, s3);
  const selector = (state.ItemSelector ?? state.Parameters) as JsonValue | undefined;
  if (selector === undefined) return rawItems;
  return Promise.all(
    rawItems.map((value, index) =>
      evaluateTemplate(selector, input, {
        ...scope.context,
        Map: { Item: { Index: index, Value: value } },
      }),
    ),
  );
}

/** One child input per batch (ItemBatcher) or per item. */
async function childInputsOf(
  batcher: Record<string, unknown> | undefined,
  items: JsonValue[],
  input: JsonValue,
  context: ContextObject,
): Promise<ChildInput[]> {
  if (!batcher) return items.map((item) => ({ input: item, items: 1 }));
  return batchItems(items, {
    maxItems: await readNumber(batcher, "MaxItemsPerBatch", input, context),
    maxBytes: await readNumber(batcher, "MaxInputBytesPerBatch", input, context),
    batchInput:
      batcher.BatchInput === undefined
        ? undefined
        : await evaluateTemplate(batcher.BatchInput as JsonValue, input, context),
  }).map((batch) => ({ input: batch.input as JsonValue, items: batch.input.Items.length }));
}

/** The tolerated failures; a bad count or percentage fails the run (States.Runtime). */
async function toleranceOf(
  state: AslState,
  totalItems: number,
  input: JsonValue,
  context: ContextObject,
): Promise<FailureTolerance> {
  try {
    return new FailureTolerance(totalItems, {
      count: await readNumber(state, "ToleratedFailureCount", input, context),
      percentage: await readNumber(state, "ToleratedFailurePercentage", input, context),
    });
  } catch (error) {
    if (error instanceof RangeError) throw new TerminalFailure(STATES_RUNTIME, error.message);
    throw error;
  }
}

/** Writes the results to S3 when the state has a ResultWriter; `undefined` when it has none. */
async function writeResultsOf(
  state: AslState,
  input: JsonValue,
  context: ContextObject,
  s3: S3Client,
  run: { mapRunArn: string; mapRunId: string; children: ChildOutcome[] },
) {
  const writer = isObject(state.ResultWriter) ? state.ResultWriter : undefined;
  if (!writer) return undefined;
  const parameters = await evaluateTemplate((writer.Parameters ?? {}) as JsonValue, input, context);
  const { Bucket, Prefix } = (isObject(parameters) ? parameters : {}) as Record<string, unknown>;
  if (typeof Bucket !== "string" || Bucket === "") {
    throw new TaskFailure(
      "States.ResultWriterFailed",
      "ResultWriter Parameters.Bucket must be a non-empty string",
    );
  }
  return writeMapResults(s3, {
    bucket: Bucket,
    prefix: typeof Prefix === "string" ? Prefix : "",
    ...run,
  });
}
