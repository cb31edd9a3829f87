import "./promise-with-resolvers.ts";
import type { S3Client } from "@aws-sdk/client-s3";
import aslValidator from "asl-validator";
import { ExecutionError, ExecutionTimeoutError, StateMachine } from "aws-local-stepfunctions";
import type { Clock } from "../../../src/runtime.ts";
import {
  type AslDefinition,
  type AslState,
  cloneJson,
  isDistributedMap,
  isObject,
  type JsonValue,
  localArn,
  WorkflowDefinitionError,
} from "./asl.ts";
import {
  checkDistributedMap,
  type DistributedMapDeps,
  runDistributedMap,
} from "./distributed-map.ts";
import type { ChildRef, WorkflowEventInput } from "./events.ts";
import {
  type BoundFunction,
  bindFunction,
  type HandlerBinding,
  type HandlerMap,
  readFunctionRef,
  toBinding,
} from "./lambda-binding.ts";
import { type LocalInvoker, TaskFailure } from "./lambda-invoker.ts";
import { checkPayload, HistoryCounter, payloadViolation, type TerminalFailure } from "./limits.ts";
import type { ContextObject } from "./payload.ts";
import { createStateContext, trackStateEntries } from "./state-context.ts";
import { readWaitSpec, scaledWaitMs, scaleRetriers, type TimeScale } from "./time-scaling.ts";

/**
 * Prepares a definition for aws-local-stepfunctions and runs it: every Task
 * bound to a local function, Wait states and retry backoff scaled, each
 * Distributed Map replaced by a Task that runs the map adapter, and the
 * engine's event log turned into {@link WorkflowEvent}s.
 */

export const LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke";

/** A Task timeout that never fires first: the function's own timeout governs (setTimeout caps at ~24.8 days). */
const NO_TASK_TIMEOUT_SECONDS = 2_000_000;

/** One run of a (sub-)machine: the root execution or one Distributed Map child. */
export interface RunScope {
  signal: AbortSignal;
  /** Context object fields (`$$.Execution.Id`, ...) for this run. */
  context: ContextObject;
  child?: ChildRef;
}

type TaskFunction = (input: JsonValue) => Promise<JsonValue>;
type TaskFactory = (scope: RunScope, guard: RunGuard) => TaskFunction;

/**
 * The limits one execution's run is held to: the payload quota on every
 * state's input and output and the history quota. A breach is terminal: it
 * fails the execution, and no Retry or Catch sees it, as on AWS.
 */
class RunGuard {
  readonly history = new HistoryCounter();
  violation: TerminalFailure | undefined;
  /** Set when the execution has ended: a Task the engine abandoned must not start a function then. */
  ended = false;

  constructor(private readonly onViolation: () => void) {}

  /** Records the first breach and stops the execution; returns the breach to throw. */
  breach(failure: TerminalFailure): TerminalFailure {
    if (!this.violation) {
      this.violation = failure;
      this.onViolation();
    }
    return this.violation;
  }

  /** Records `n` history events; throws once the history is full. */
  record(n: number): void {
    const full = this.history.add(n);
    if (full) throw this.breach(full);
  }

  /**
   * Lets the event log catch up before a Task starts: aws-local-stepfunctions
   * calls the next Task in the same tick as it logs the previous state's
   * output, and a breach there must stop the execution before anything runs.
   */
  async gate(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    if (this.violation) throw this.violation;
    if (this.ended) throw new TaskFailure("States.Aborted", "The execution has ended");
  }
}

/**
 * Events AWS records for one Task attempt besides StateEntered/Exited
 * (Scheduled, Started, Succeeded or Failed), and for a Distributed Map
 * (MapStateStarted, MapRunStarted, MapRunSucceeded/Failed, MapStateSucceeded/Failed).
 */
const TASK_ATTEMPT_EVENTS = 3;
/** StateEntered and StateExited. */
const STATE_EVENTS = 2;
const DISTRIBUTED_MAP_EVENTS = 4;

export interface PreparedMachine {
  /** The definition aws-local-stepfunctions runs. */
  definition: AslDefinition;
  /** The local function of every Task (Wait and Distributed Map stand-ins included), by state name. */
  tasks: Map<string, TaskFactory>;
  /** The state types as written, for events (stand-ins report Wait and Map). */
  stateTypes: Map<string, string>;
}

export interface MachineOutcome {
  status: "SUCCEEDED" | "FAILED" | "ABORTED" | "TIMED_OUT";
  output?: JsonValue;
  error?: string;
  cause?: string;
}

export interface EngineSettings {
  s3: S3Client;
  invoker: LocalInvoker;
  clock: Clock;
  emit: (event: WorkflowEventInput) => void;
  stateMachineName: string;
  handlers: HandlerMap;
  resources: HandlerMap;
  /** See {@link DistributedMapDeps.authorizeChildStart}. */
  authorizeChildStart?: DistributedMapDeps["authorizeChildStart"];
  time: TimeScale;
  lambdaTimeoutSeconds: number;
}

/** aws-local-stepfunctions' event log entries, read loosely (its event types are not exported). */
type EngineEvent = Record<string, unknown> & { type: string };

type TaskBinding =
  | { kind: "lambda"; fn: BoundFunction }
  | { kind: "lambda-invoke"; fn: BoundFunction }
  | { kind: "resource"; resource: string; binding: HandlerBinding };

/** Calls `visit` for every state, nested ones (Map processors, Parallel branches) included. */
function forEachState(
  states: Record<string, AslState>,
  visit: (name: string, state: AslState) => void,
): void {
  for (const [name, state] of Object.entries(states)) {
    visit(name, state);
    for (const field of ["ItemProcessor", "Iterator"]) {
      const processor = state[field];
      if (isObject(processor) && isObject(processor.States)) {
        forEachState(processor.States as Record<string, AslState>, visit);
      }
    }
    if (Array.isArray(state.Branches)) {
      for (const branch of state.Branches) {
        if (isObject(branch) && isObject(branch.States)) {
          forEachState(branch.States as Record<string, AslState>, visit);
        }
      }
    }
  }
}

export class WorkflowEngine {
  constructor(private readonly settings: EngineSettings) {}

  /**
   * Binds, validates and transforms a definition. Throws
   * {@link WorkflowDefinitionError} for an unbound Task, an unsupported
   * feature or invalid ASL, before anything runs.
   */
  prepare(definition: AslDefinition): PreparedMachine {
    const resolved = cloneJson(definition);
    const bindings = this.bindTasks(resolved);
    // asl-validator annotates what it checks, so it gets its own copy.
    const { isValid, errorsText } = aslValidator(cloneJson(resolved), {
      checkArn: true,
      checkPaths: true,
    });
    if (!isValid)
      throw new WorkflowDefinitionError(`The definition is invalid: ${errorsText("; ")}`);
    return this.transform(resolved, bindings);
  }

  /** Replaces function references by local ARNs and finds every Task's function. */
  private bindTasks(definition: AslDefinition): Map<string, TaskBinding> {
    const bindings = new Map<string, TaskBinding>();
    const seen = new Set<string>();
    if (definition.QueryLanguage === "JSONata") {
      throw new WorkflowDefinitionError(
        "JSONata definitions are not supported locally; use JSONPath",
      );
    }
    forEachState(definition.States, (name, state) => {
      if (seen.has(name)) {
        throw new WorkflowDefinitionError(
          `State name "${name}" is used twice; names must be unique`,
        );
      }
      seen.add(name);
      if (state.QueryLanguage === "JSONata") {
        throw new WorkflowDefinitionError(
          `State "${name}" uses JSONata, which is not supported locally`,
        );
      }
      if (state.Type === "Map" && isDistributedMap(state)) checkDistributedMap(name, state);
      if (state.Type === "Task") bindings.set(name, this.bindTask(name, state));
    });
    return bindings;
  }

  private bindTask(name: string, state: AslState): TaskBinding {
    const { handlers, resources } = this.settings;
    const resource = state.Resource;
    if (resource === LAMBDA_INVOKE) {
      const parameters = isObject(state.Parameters) ? state.Parameters : {};
      if ("FunctionName.$" in parameters) {
        throw new WorkflowDefinitionError(
          `Task "${name}": a dynamic FunctionName.$ cannot be bound locally`,
        );
      }
      const ref = readFunctionRef(parameters.FunctionName);
      if (!ref)
        throw new WorkflowDefinitionError(
          `Task "${name}": lambda:invoke needs Parameters.FunctionName`,
        );
      const fn = bindFunction(name, ref, handlers);
      state.Parameters = { ...parameters, FunctionName: fn.arn };
      return { kind: "lambda-invoke", fn };
    }
    if (typeof resource === "string" && Object.hasOwn(resources, resource)) {
      return {
        kind: "resource",
        resource,
        binding: toBinding(resources[resource] as HandlerBinding),
      };
    }
    const ref = readFunctionRef(resource);
    if (ref) {
      const fn = bindFunction(name, ref, handlers);
      state.Resource = fn.arn;
      return { kind: "lambda", fn };
    }
    throw new WorkflowDefinitionError(
      `Task "${name}" uses ${JSON.stringify(resource)}, which is not a Lambda function and has no local handler in \`resources\``,
    );
  }

  private transform(
    definition: AslDefinition,
    bindings: Map<string, TaskBinding>,
  ): PreparedMachine {
    const tasks = new Map<string, TaskFactory>();
    const stateTypes = new Map<string, string>();
    const States = this.transformStates(definition.States, bindings, tasks, stateTypes);
    return { definition: { ...definition, States }, tasks, stateTypes };
  }

  private transformStates(
    states: Record<string, AslState>,
    bindings: Map<string, TaskBinding>,
    tasks: Map<string, TaskFactory>,
    stateTypes: Map<string, string>,
  ): Record<string, AslState> {
    const out: Record<string, AslState> = {};
    for (const [name, original] of Object.entries(states)) {
      stateTypes.set(name, original.Type);
      let state: AslState = normaliseResultPaths({ ...original });
      if (state.Retry !== undefined)
        state.Retry = scaleRetriers(state.Retry, this.settings.time.retryScale);
      if (state.Type === "Task") {
        const binding = bindings.get(name) as TaskBinding;
        tasks.set(name, guarded(name, TASK_ATTEMPT_EVENTS, this.taskFunction(binding)));
        if (state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) {
          state.TimeoutSeconds = NO_TASK_TIMEOUT_SECONDS;
        }
      } else if (state.Type === "Wait") {
        // A Wait state records only its Entered/Exited events.
        tasks.set(name, guarded(name, 0, this.waitFunction(state), false));
        state = waitStandIn(state);
      } else if (state.Type === "Map" && isDistributedMap(state)) {
        const processor = state.ItemProcessor as Record<string, unknown>;
        const { ProcessorConfig: _mode, ...childDefinition } = processor;
        const child = this.transform(childDefinition as unknown as AslDefinition, bindings);
        tasks.set(
          name,
          guarded(name, DISTRIBUTED_MAP_EVENTS, this.distributedMapFunction(name, original, child)),
        );
        state = mapStandIn(state);
      } else if (state.Type === "Map") {
        for (const field of ["ItemProcessor", "Iterator"]) {
          const processor = state[field];
          if (isObject(processor) && isObject(processor.States)) {
            state[field] = {
              ...processor,
              States: this.transformStates(
                processor.States as Record<string, AslState>,
                bindings,
                tasks,
                stateTypes,
              ),
            };
          }
        }
      } else if (state.Type === "Parallel" && Array.isArray(state.Branches)) {
        state.Branches = state.Branches.map((branch: Record<string, unknown>) => ({
          ...branch,
          States: this.transformStates(
            branch.States as Record<string, AslState>,
            bindings,
            tasks,
            stateTypes,
          ),
        }));
      }
      out[name] = state;
    }
    return out;
  }

  private taskFunction(binding: TaskBinding): TaskFactory {
    const { invoker, lambdaTimeoutSeconds } = this.settings;
    const target =
      binding.kind === "resource"
        ? { binding: binding.binding, functionName: binding.resource, arn: binding.resource }
        : {
            binding: binding.fn.binding,
            functionName: binding.fn.ref.functionName,
            arn: binding.fn.arn,
          };
    const timeoutMs = (target.binding.timeoutSeconds ?? lambdaTimeoutSeconds) * 1000;
    // The Task's TimeoutSeconds fails the state (the engine's States.Timeout) but, as
    // on AWS, does not reach the function, which runs on to its own timeout.
    const invoke = (event: JsonValue, signal: AbortSignal) =>
      invoker.invoke({ ...target, event, timeoutMs }, signal);
    if (binding.kind !== "lambda-invoke") return (scope) => (input) => invoke(input, scope.signal);
    // The optimised integration: the Payload goes in, the response envelope comes out.
    return (scope) => async (input) => {
      const parameters = isObject(input) ? input : {};
      const payload = (parameters.Payload ?? {}) as JsonValue;
      const result = await invoke(payload, scope.signal);
      return {
        ExecutedVersion: "$LATEST",
        Payload: result,
        SdkHttpMetadata: { HttpStatusCode: 200 },
        SdkResponseMetadata: { RequestId: "local" },
        StatusCode: 200,
      };
    };
  }

  private waitFunction(state: AslState): TaskFactory {
    const { clock, time } = this.settings;
    const spec = readWaitSpec(state);
    return (scope) => async (parameters) => {
      const { input, value } = parameters as { input: JsonValue; value?: JsonValue };
      const now = clock.now();
      let ms: number;
      if (spec.kind === "seconds" || spec.kind === "timestamp") {
        ms = scaledWaitMs(spec, now, time);
      } else if (spec.kind === "secondsPath") {
        ms = scaledWaitMs({ seconds: Number(value) }, now, time);
      } else {
        ms = scaledWaitMs({ timestamp: String(value) }, now, time);
      }
      await clock.sleep(ms, scope.signal).catch(() => undefined);
      return input;
    };
  }

  private distributedMapFunction(
    name: string,
    state: AslState,
    child: PreparedMachine,
  ): TaskFactory {
    const { s3, clock, emit, stateMachineName, authorizeChildStart } = this.settings;
    return (scope) => (input) =>
      this.settings.invoker.track(
        runDistributedMap(name, state, input, scope, {
          s3,
          clock,
          emit,
          stateMachineName,
          ...(authorizeChildStart ? { authorizeChildStart } : {}),
          runChild: (childInput, childScope) => this.run(child, childInput, childScope),
        }),
      );
  }

  /** Runs a prepared machine to its end; never rejects for the machine's own failures. */
  async run(prepared: PreparedMachine, input: JsonValue, scope: RunScope): Promise<MachineOutcome> {
    if (scope.signal.aborted) return { status: "ABORTED" };
    const inputTooLarge = payloadViolation(input, "The execution input");
    if (inputTooLarge) return failed(inputTooLarge);
    const state = createStateContext();
    let stopForBreach = () => {};
    const guard = new RunGuard(() => stopForBreach());
    // Entering a state records its Entered and Exited events, in step with the
    // engine, so a loop of Pass and Choice states stops exactly at the quota.
    const onEntry = () => guard.record(STATE_EVENTS);
    const machine = new StateMachine(
      trackStateEntries(prepared.definition, state, this.settings.clock, onEntry) as never,
      { validationOptions: { noValidate: true } },
    );
    const taskResourceLocalHandlers = Object.fromEntries(
      [...prepared.tasks].map(([name, factory]) => [name, factory(scope, guard)]),
    );
    const execution = machine.run(input as never, {
      overrides: { taskResourceLocalHandlers: taskResourceLocalHandlers as never },
      context: { ...scope.context, State: state },
      noThrowOnAbort: true,
    });
    let settled = false;
    stopForBreach = () => {
      if (!settled) execution.abort();
    };
    const forwarding = this.forwardEvents(
      execution.eventLogs as AsyncGenerator<EngineEvent>,
      prepared,
      scope.child,
      guard,
    );
    let aborted = false;
    execution.result.then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    const onAbort = () => {
      if (settled) return;
      aborted = true;
      execution.abort();
    };
    scope.signal.addEventListener("abort", onAbort, { once: true });
    let outcome: MachineOutcome;
    try {
      const output = (await execution.result) as JsonValue;
      outcome = aborted ? { status: "ABORTED" } : { status: "SUCCEEDED", output };
    } catch (error) {
      outcome = aborted ? { status: "ABORTED" } : failedWith(error);
    } finally {
      guard.ended = true;
      scope.signal.removeEventListener("abort", onAbort);
      await forwarding;
    }
    // A breach seen in the event log (a state's output over the quota, a full
    // history) fails the execution, whatever the machine did after it.
    if (guard.violation && !aborted) return failed(guard.violation);
    return outcome;
  }

  private async forwardEvents(
    logs: AsyncGenerator<EngineEvent>,
    prepared: PreparedMachine,
    child: ChildRef | undefined,
    guard: RunGuard,
  ): Promise<void> {
    const { emit } = this.settings;
    for await (const event of logs) {
      const stateData = event.state as
        | { name: string; type: string; input?: JsonValue; output?: JsonValue }
        | undefined;
      if (!stateData) continue;
      if (!guard.violation) checkStateEvent(event.type, stateData, guard);
      const base = {
        state: stateData.name,
        stateType: prepared.stateTypes.get(stateData.name) ?? stateData.type,
        ...(child ? { child } : {}),
        ...(typeof event.index === "number" ? { iteration: event.index } : {}),
      };
      switch (event.type) {
        case "StateEntered":
        case "StateExited":
          emit({ type: event.type, ...base });
          break;
        case "StateFailed":
          emit({
            type: "StateFailed",
            ...base,
            error: String(event.Error),
            cause: causeText(event.Cause),
          });
          break;
        case "StateRetried":
          emit({
            type: "StateRetried",
            ...base,
            attempt: (event.retry as { attempt: number }).attempt,
          });
          break;
        case "StateCaught":
          emit({
            type: "StateCaught",
            ...base,
            next: (event.catch as { catcher: { Next: string } }).catcher.Next,
          });
          break;
      }
    }
  }
}

/**
 * A Task function held to the run's limits: no start after a breach, its
 * history events counted, its input (after Parameters) and its result within
 * the payload quota ("a connector's output", "a state's input after
 * Parameters"; AWS, States.DataLimitExceeded).
 */
function guarded(
  stateName: string,
  historyEvents: number,
  factory: TaskFactory,
  checkPayloads = true,
): TaskFactory {
  return (scope, guard) => {
    const run = factory(scope, guard);
    const attempt = async (input: JsonValue) => {
      await guard.gate();
      guard.record(historyEvents);
      if (checkPayloads) checkPayload(input, `The input of state "${stateName}"`);
      const result = await run(input);
      if (checkPayloads) checkPayload(result, `The result of state "${stateName}"`);
      return result;
    };
    return (input) => {
      const settled = attempt(input);
      // The engine may abandon a Task before awaiting it (a bad TimeoutSecondsPath
      // fails the state first): its rejection then has no other listener.
      settled.catch(() => {});
      return settled;
    };
  };
}

/** Holds a state's input and output, as the event log shows them, to the payload quota. */
function checkStateEvent(
  type: string,
  state: { name: string; input?: JsonValue; output?: JsonValue },
  guard: RunGuard,
): void {
  if (type !== "StateEntered" && type !== "StateExited") return;
  const breach =
    type === "StateEntered"
      ? payloadViolation(state.input, `The input of state "${state.name}"`)
      : payloadViolation(state.output, `The output of state "${state.name}"`);
  if (breach) guard.breach(breach);
}

function failed(failure: Error): MachineOutcome {
  return { status: "FAILED", error: failure.name, cause: failure.message };
}

function failedWith(error: unknown): MachineOutcome {
  if (error instanceof ExecutionTimeoutError) {
    return { status: "TIMED_OUT", error: "States.Timeout", cause: "The execution timed out" };
  }
  const reason =
    error instanceof ExecutionError && error.cause instanceof Error ? error.cause : error;
  return reason instanceof Error
    ? failed(reason)
    : { status: "FAILED", error: "Error", cause: String(reason) };
}

function causeText(cause: unknown): string {
  if (typeof cause === "string") return cause;
  if (cause instanceof Error) return cause.message;
  return JSON.stringify(cause) ?? "";
}

/** A Wait becomes a Task whose local function sleeps (scaled) and passes its input through. */
function waitStandIn(state: AslState): AslState {
  const spec = readWaitSpec(state);
  const parameters: Record<string, string> = { "input.$": "$" };
  if (spec.kind === "secondsPath" || spec.kind === "timestampPath")
    parameters["value.$"] = spec.path;
  return {
    Type: "Task",
    Resource: localArn.lambda("local-wait"),
    Parameters: parameters,
    TimeoutSeconds: NO_TASK_TIMEOUT_SECONDS,
    ...pick(state, ["Comment", "InputPath", "OutputPath", "Next", "End"]),
  };
}

/** A Distributed Map becomes a Task running the adapter, keeping the fields that act around it. */
function mapStandIn(state: AslState): AslState {
  return {
    Type: "Task",
    Resource: localArn.lambda("local-distributed-map"),
    TimeoutSeconds: NO_TASK_TIMEOUT_SECONDS,
    ...pick(state, [
      "Comment",
      "InputPath",
      "ResultSelector",
      "ResultPath",
      "OutputPath",
      "Retry",
      "Catch",
      "Next",
      "End",
    ]),
  };
}

/**
 * aws-local-stepfunctions stores a `ResultPath: "$"` result under a key named
 * "$" instead of replacing the input; an absent ResultPath means the same
 * thing in ASL and works, so "$" is dropped (on the state and its catchers).
 */
function normaliseResultPaths(state: AslState): AslState {
  if (state.ResultPath === "$") delete state.ResultPath;
  if (Array.isArray(state.Catch)) {
    state.Catch = state.Catch.map((catcher: Record<string, unknown>) => {
      if (catcher.ResultPath !== "$") return catcher;
      const { ResultPath: _whole, ...rest } = catcher;
      return rest;
    });
  }
  return state;
}

function pick(state: AslState, fields: string[]): Record<string, unknown> {
  return Object.fromEntries(
    fields.filter((field) => field in state).map((field) => [field, state[field]]),
  );
}
