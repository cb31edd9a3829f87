import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { IamGate } from "./iam/iam-gate.ts";
import { AccessDeniedException, gateSfnCall } from "./iam/service-gates.ts";
import {
  LOCAL_STATE_MACHINE_NAME,
  type LocalJobOptions,
  type LocalJobResult,
  runLocalJob,
} from "./local-job.ts";
import type { LocalStack } from "./local-stack.ts";
import { awsJsonOperation, listenOnLoopback, readBody, sendJson } from "./loopback-server.ts";
import { describeMapRun, type MapRunRecord, recordMapRunEvent, seconds } from "./sfn-map-runs.ts";
import { localArn } from "./workflow/asl.ts";
import type { JsonValue } from "./workflow/index.ts";

/**
 * A local Step Functions API: the AWS JSON 1.0 protocol
 * (`X-Amz-Target: AWSStepFunctions.<Operation>`) on 127.0.0.1, backed by a
 * registry of local executions of the one local state machine. Each
 * StartExecution runs the real definition with `runLocalJob` in the
 * background, and the execution is RUNNING in ListExecutions under the very
 * ARN the workflow sees as `$$.Execution.Id`, so the Plan Lambda's
 * concurrent-execution check and the CLI work locally as on AWS.
 */

/** The local state machine's ARN (what `STATE_MACHINE_ARN` is set to locally). */
export const LOCAL_STATE_MACHINE_ARN = localArn.stateMachine(LOCAL_STATE_MACHINE_NAME);

type ExecutionStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";

/** One local execution, as the API reports it. */
export interface LocalExecution {
  executionArn: string;
  name: string;
  status: ExecutionStatus;
  startDate: number;
  stopDate?: number;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  mapRuns: MapRunRecord[];
  /** Settles when the local job (and its safety stop) has finished. */
  done: Promise<LocalJobResult | undefined>;
  abort: AbortController;
}

export interface LocalSfnApiOptions {
  stack: LocalStack;
  /** Passed to every `runLocalJob` (deployment environment, wait scaling, handler overrides). */
  job?: Omit<LocalJobOptions, "stack" | "input" | "executionName" | "signal">;
  /** Where to listen (default 0: any free port). */
  port?: number;
}

export interface LocalSfnApi {
  /** `http://127.0.0.1:<port>`: the value for `AWS_ENDPOINT_URL_SFN`. */
  endpoint: string;
  stateMachineArn: string;
  /** `AWS_ENDPOINT_URL_SFN` and `STATE_MACHINE_ARN`, for the Lambdas and the CLI. */
  environment: Record<string, string>;
  executions: ReadonlyMap<string, LocalExecution>;
  /** Resolves when the execution's job has ended, with its result (undefined if it threw). */
  waitForExecution(executionArn: string): Promise<LocalJobResult | undefined>;
  /** Aborts running executions, waits for them, then closes the server. */
  close(): Promise<void>;
}

/** A Step Functions error answer: HTTP 400 with `{"__type", "message"}`. */
class SfnApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

function executionSummary(execution: LocalExecution) {
  return {
    executionArn: execution.executionArn,
    stateMachineArn: LOCAL_STATE_MACHINE_ARN,
    name: execution.name,
    status: execution.status,
    startDate: seconds(execution.startDate),
    stopDate: seconds(execution.stopDate),
  };
}

const EXECUTION_NAME = /^[A-Za-z0-9_-]{1,80}$/;

/** Starts the local Step Functions API for `stack` on 127.0.0.1. */
export async function startLocalSfnApi(options: LocalSfnApiOptions): Promise<LocalSfnApi> {
  const executions = new LocalExecutions(options);
  const operations = sfnOperations(executions);
  const server = await listenOnLoopback((req, res) => {
    void handle(req, res, operations, options.stack.iam);
  }, options.port ?? 0);
  const { endpoint } = server;
  const environment = {
    AWS_ENDPOINT_URL_SFN: endpoint,
    STATE_MACHINE_ARN: LOCAL_STATE_MACHINE_ARN,
  };
  executions.environment = environment;

  return {
    endpoint,
    stateMachineArn: LOCAL_STATE_MACHINE_ARN,
    environment,
    executions: executions.byArn,
    waitForExecution: (executionArn) => executions.require(executionArn).done,
    async close() {
      for (const execution of executions.byArn.values()) {
        if (execution.status === "RUNNING") execution.abort.abort(new Error("local API closed"));
      }
      await Promise.all([...executions.byArn.values()].map((execution) => execution.done));
      await server.close();
    },
  };
}

function requireStateMachine(arn: unknown): void {
  if (arn !== LOCAL_STATE_MACHINE_ARN) {
    throw new SfnApiError(
      "StateMachineDoesNotExist",
      `State Machine Does Not Exist: '${String(arn)}' (the local state machine is ${LOCAL_STATE_MACHINE_ARN})`,
    );
  }
}

/** The executions of the local state machine, each running `runLocalJob` in the background. */
class LocalExecutions {
  readonly byArn = new Map<string, LocalExecution>();
  /** Given to every job: the API's own endpoint and ARN, once it listens. */
  environment: Record<string, string> = {};

  constructor(private readonly options: LocalSfnApiOptions) {}

  require(arn: unknown): LocalExecution {
    const execution = typeof arn === "string" ? this.byArn.get(arn) : undefined;
    if (!execution) {
      throw new SfnApiError("ExecutionDoesNotExist", `Execution Does Not Exist: '${String(arn)}'`);
    }
    return execution;
  }

  /** StartExecution: checks the request, registers the execution RUNNING and starts its job. */
  start(request: Record<string, unknown>): { executionArn: string; startDate?: number } {
    requireStateMachine(request.stateMachineArn);
    const name = request.name === undefined ? randomUUID() : request.name;
    if (typeof name !== "string" || !EXECUTION_NAME.test(name)) {
      throw new SfnApiError(
        "InvalidName",
        `Invalid Name: '${String(name)}' (1-80 letters, digits, - or _)`,
      );
    }
    const executionArn = localArn.execution(LOCAL_STATE_MACHINE_NAME, name);
    if (this.byArn.has(executionArn)) {
      throw new SfnApiError(
        "ExecutionAlreadyExists",
        `Execution Already Exists: '${executionArn}'`,
      );
    }
    const inputText = typeof request.input === "string" ? request.input : "{}";
    const input = parseExecutionInput(inputText);
    const execution: LocalExecution = {
      executionArn,
      name,
      status: "RUNNING",
      startDate: Date.now(),
      input: inputText,
      mapRuns: [],
      abort: new AbortController(),
      done: Promise.resolve(undefined),
    };
    // Registered RUNNING before the job starts, so its Plan step sees itself.
    this.byArn.set(executionArn, execution);
    execution.done = this.runJob(execution, input);
    return { executionArn, startDate: seconds(execution.startDate) };
  }

  /** Runs the execution's job; its end (or its failure to run) sets the execution's status. */
  private runJob(
    execution: LocalExecution,
    input: Record<string, JsonValue>,
  ): Promise<LocalJobResult | undefined> {
    const jobOptions = this.options.job ?? {};
    return runLocalJob({
      ...jobOptions,
      stack: this.options.stack,
      input,
      executionName: execution.name,
      signal: execution.abort.signal,
      environment: { ...jobOptions.environment, ...this.environment },
      onEvent: (event) => {
        recordMapRunEvent(execution, event);
        jobOptions.onEvent?.(event);
      },
    }).then(
      (result) => {
        const { execution: ended } = result;
        // StopExecution already made it ABORTED; the job's own end does not undo that.
        if (execution.status === "RUNNING") {
          execution.status = ended.status;
          execution.stopDate = Date.parse(ended.stopDate) || Date.now();
        }
        if (ended.output !== undefined) execution.output = JSON.stringify(ended.output);
        if (ended.error !== undefined) execution.error = ended.error;
        if (ended.cause !== undefined) execution.cause = ended.cause;
        return result;
      },
      (error: unknown) => {
        if (execution.status === "RUNNING") {
          execution.status = "FAILED";
          execution.stopDate = Date.now();
        }
        execution.error = "States.Runtime";
        execution.cause = error instanceof Error ? error.message : String(error);
        return undefined;
      },
    );
  }
}

/** An execution's input: a JSON object, as Step Functions requires. */
function parseExecutionInput(inputText: string): Record<string, JsonValue> {
  let input: JsonValue;
  try {
    input = JSON.parse(inputText) as JsonValue;
  } catch (error) {
    throw new SfnApiError(
      "InvalidExecutionInput",
      `Invalid State Machine Execution Input: ${(error as Error).message}`,
    );
  }
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new SfnApiError("InvalidExecutionInput", "the execution input must be a JSON object");
  }
  return input as Record<string, JsonValue>;
}

type Operation = (request: Record<string, unknown>) => unknown;

/** The operations the local API answers, by name. */
function sfnOperations(executions: LocalExecutions): Record<string, Operation> {
  const createdAt = Date.now();
  return {
    StartExecution: (request) => executions.start(request),
    // Read-only, for `doctor --local`: the one local state machine, always ACTIVE.
    DescribeStateMachine: (request) => {
      requireStateMachine(request.stateMachineArn);
      return {
        stateMachineArn: LOCAL_STATE_MACHINE_ARN,
        name: LOCAL_STATE_MACHINE_NAME,
        status: "ACTIVE",
        type: "STANDARD",
        creationDate: seconds(createdAt),
      };
    },
    ListExecutions: (request) => {
      requireStateMachine(request.stateMachineArn);
      const filter = request.statusFilter;
      const listed = [...executions.byArn.values()]
        .filter((execution) => filter === undefined || execution.status === filter)
        .sort((a, b) => b.startDate - a.startDate)
        .map(executionSummary);
      return { executions: listed };
    },
    DescribeExecution: (request) => {
      const execution = executions.require(request.executionArn);
      return {
        ...executionSummary(execution),
        input: execution.input,
        ...(execution.output !== undefined ? { output: execution.output } : {}),
        ...(execution.error !== undefined ? { error: execution.error } : {}),
        ...(execution.cause !== undefined ? { cause: execution.cause } : {}),
        ...(execution.mapRuns[0] ? { mapRunArn: execution.mapRuns[0].mapRunArn } : {}),
      };
    },
    StopExecution: (request) => {
      const execution = executions.require(request.executionArn);
      if (execution.status === "RUNNING") {
        execution.status = "ABORTED";
        execution.stopDate = Date.now();
        if (typeof request.error === "string") execution.error = request.error;
        if (typeof request.cause === "string") execution.cause = request.cause;
        execution.abort.abort(new Error("StopExecution"));
      }
      return { stopDate: seconds(execution.stopDate) };
    },
    ListMapRuns: (request) => {
      const execution = executions.require(request.executionArn);
      return {
        mapRuns: execution.mapRuns.map((run) => ({
          executionArn: run.executionArn,
          mapRunArn: run.mapRunArn,
          stateMachineArn: run.mapRunArn,
          startDate: seconds(run.startDate),
          stopDate: seconds(run.stopDate),
        })),
      };
    },
    DescribeMapRun: (request) => {
      for (const execution of executions.byArn.values()) {
        const run = execution.mapRuns.find(
          (candidate) => candidate.mapRunArn === request.mapRunArn,
        );
        if (run) return describeMapRun(run);
      }
      throw new SfnApiError(
        "ResourceNotFound",
        `Map Run Does Not Exist: '${String(request.mapRunArn)}'`,
      );
    },
  };
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  operations: Record<string, Operation>,
  iam: IamGate,
): Promise<void> {
  const send = (status: number, body: unknown) =>
    sendJson(res, status, body, { "Content-Type": "application/x-amz-json-1.0" });
  try {
    const body = await readBody(req);
    const target = String(req.headers["x-amz-target"] ?? "");
    const operationName = awsJsonOperation(req, "AWSStepFunctions");
    const operation = operationName === undefined ? undefined : operations[operationName];
    if (req.method !== "POST" || !operation) {
      throw new SfnApiError(
        "UnknownOperationException",
        `the local Step Functions API does not implement ${target || "this request"}`,
      );
    }
    const text = body.toString("utf8");
    let request: unknown;
    try {
      request = text === "" ? {} : JSON.parse(text);
    } catch {
      throw new SfnApiError("SerializationException", "the request body is not JSON");
    }
    const params = (request ?? {}) as Record<string, unknown>;
    await gateSfnCall(iam, req.headers, operationName as string, params);
    send(200, operation(params));
  } catch (error) {
    if (error instanceof AccessDeniedException) {
      send(400, { __type: "AccessDeniedException", message: error.message });
      return;
    }
    if (error instanceof SfnApiError) send(400, { __type: error.type, message: error.message });
    else send(500, { __type: "InternalFailure", message: String(error) });
  }
}
