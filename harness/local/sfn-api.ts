import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { IamGate } from "./iam/iam-gate.ts";
import { AccessDeniedException, gateSfnCall } from "./iam/service-gates.ts";
import {
  LOCAL_STATE_MACHINE_NAME,
  type LocalJobOptions,
  type LocalJobResult,
  runLocalJob,
} from "./local-job.ts";
import type { LocalStack } from "./local-stack.ts";
import { LOOPBACK_HOST } from "./s3-server.ts";
import { localArn } from "./workflow/asl.ts";
import type { JsonValue, MapRunCounts, WorkflowEvent } from "./workflow/index.ts";

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

interface MapRunRecord {
  mapRunArn: string;
  executionArn: string;
  status: "RUNNING" | "SUCCEEDED" | "FAILED" | "ABORTED";
  startDate: number;
  stopDate?: number;
  maxConcurrency: number;
  counts: MapRunCounts;
  /** Items of each started child that has not ended: the items "running" now. */
  runningItemsByChild: Map<number, number>;
  itemsAborted: number;
}

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

const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);

function mapRunStatusFor(event: WorkflowEvent): MapRunRecord["status"] | undefined {
  if (event.type === "MapRunSucceeded") return "SUCCEEDED";
  if (event.type === "MapRunFailed") return "FAILED";
  if (event.type === "MapRunAborted") return "ABORTED";
  return undefined;
}

/** Keeps an execution's Map Runs up to date from the workflow's events. */
function recordMapRunEvent(execution: LocalExecution, event: WorkflowEvent): void {
  if (event.type === "MapRunStarted") {
    execution.mapRuns.push({
      mapRunArn: event.mapRunArn,
      executionArn: execution.executionArn,
      status: "RUNNING",
      startDate: event.timestamp,
      maxConcurrency: event.maxConcurrency,
      counts: event.counts,
      runningItemsByChild: new Map(),
      itemsAborted: 0,
    });
    return;
  }
  if (!("mapRunArn" in event) || !("counts" in event)) return;
  const run = execution.mapRuns.find((candidate) => candidate.mapRunArn === event.mapRunArn);
  if (!run) return;
  run.counts = event.counts;
  if (event.type === "MapChildStarted") run.runningItemsByChild.set(event.index, event.items);
  if (
    event.type === "MapChildSucceeded" ||
    event.type === "MapChildFailed" ||
    event.type === "MapChildAborted"
  ) {
    run.runningItemsByChild.delete(event.index);
    if (event.type === "MapChildAborted") run.itemsAborted += event.items;
  }
  const status = mapRunStatusFor(event);
  if (status) {
    run.status = status;
    run.stopDate = event.timestamp;
  }
}

function describeMapRun(run: MapRunRecord) {
  const c = run.counts;
  const runningItems = [...run.runningItemsByChild.values()].reduce((a, b) => a + b, 0);
  const finishedItems = c.itemsSucceeded + c.itemsFailed + run.itemsAborted;
  const itemCounts = {
    pending: Math.max(0, c.totalItems - finishedItems - runningItems),
    running: runningItems,
    succeeded: c.itemsSucceeded,
    failed: c.itemsFailed,
    timedOut: 0,
    aborted: run.itemsAborted,
    total: c.totalItems,
    resultsWritten: c.itemsSucceeded + c.itemsFailed,
  };
  const executionCounts = {
    pending: c.pending,
    running: c.running,
    succeeded: c.succeeded,
    failed: c.failed,
    timedOut: 0,
    aborted: c.aborted,
    total: c.totalChildren,
    resultsWritten: c.succeeded + c.failed,
  };
  return {
    mapRunArn: run.mapRunArn,
    executionArn: run.executionArn,
    status: run.status,
    startDate: seconds(run.startDate),
    stopDate: seconds(run.stopDate),
    maxConcurrency: run.maxConcurrency,
    // The local engine does not report the Map's tolerance in its events.
    toleratedFailurePercentage: 0,
    toleratedFailureCount: 0,
    itemCounts,
    executionCounts,
  };
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
  const executions = new Map<string, LocalExecution>();
  let environment: Record<string, string> = {};

  const requireStateMachine = (arn: unknown) => {
    if (arn !== LOCAL_STATE_MACHINE_ARN) {
      throw new SfnApiError(
        "StateMachineDoesNotExist",
        `State Machine Does Not Exist: '${String(arn)}' (the local state machine is ${LOCAL_STATE_MACHINE_ARN})`,
      );
    }
  };
  const requireExecution = (arn: unknown): LocalExecution => {
    const execution = typeof arn === "string" ? executions.get(arn) : undefined;
    if (!execution) {
      throw new SfnApiError("ExecutionDoesNotExist", `Execution Does Not Exist: '${String(arn)}'`);
    }
    return execution;
  };

  const startExecution = (request: Record<string, unknown>) => {
    requireStateMachine(request.stateMachineArn);
    const name = request.name === undefined ? randomUUID() : request.name;
    if (typeof name !== "string" || !EXECUTION_NAME.test(name)) {
      throw new SfnApiError(
        "InvalidName",
        `Invalid Name: '${String(name)}' (1-80 letters, digits, - or _)`,
      );
    }
    const executionArn = localArn.execution(LOCAL_STATE_MACHINE_NAME, name);
    if (executions.has(executionArn)) {
      throw new SfnApiError(
        "ExecutionAlreadyExists",
        `Execution Already Exists: '${executionArn}'`,
      );
    }
    const inputText = typeof request.input === "string" ? request.input : "{}";
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
    const abort = new AbortController();
    const execution: LocalExecution = {
      executionArn,
      name,
      status: "RUNNING",
      startDate: Date.now(),
      input: inputText,
      mapRuns: [],
      abort,
      done: Promise.resolve(undefined),
    };
    // Registered RUNNING before the job starts, so its Plan step sees itself.
    executions.set(executionArn, execution);
    const jobOptions = options.job ?? {};
    execution.done = runLocalJob({
      ...jobOptions,
      stack: options.stack,
      input: input as Record<string, JsonValue>,
      executionName: name,
      signal: abort.signal,
      environment: { ...jobOptions.environment, ...environment },
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
    return { executionArn, startDate: seconds(execution.startDate) };
  };

  const createdAt = Date.now();
  const operations: Record<string, (request: Record<string, unknown>) => unknown> = {
    StartExecution: startExecution,
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
      const listed = [...executions.values()]
        .filter((execution) => filter === undefined || execution.status === filter)
        .sort((a, b) => b.startDate - a.startDate)
        .map(executionSummary);
      return { executions: listed };
    },
    DescribeExecution: (request) => {
      const execution = requireExecution(request.executionArn);
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
      const execution = requireExecution(request.executionArn);
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
      const execution = requireExecution(request.executionArn);
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
      for (const execution of executions.values()) {
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

  const server = createServer((req, res) => {
    void handle(req, res, operations, options.stack.iam);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, LOOPBACK_HOST, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://${LOOPBACK_HOST}:${port}`;
  environment = { AWS_ENDPOINT_URL_SFN: endpoint, STATE_MACHINE_ARN: LOCAL_STATE_MACHINE_ARN };

  return {
    endpoint,
    stateMachineArn: LOCAL_STATE_MACHINE_ARN,
    environment,
    executions,
    waitForExecution: (executionArn) => requireExecution(executionArn).done,
    async close() {
      for (const execution of executions.values()) {
        if (execution.status === "RUNNING") execution.abort.abort(new Error("local API closed"));
      }
      await Promise.all([...executions.values()].map((execution) => execution.done));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  operations: Record<string, (request: Record<string, unknown>) => unknown>,
  iam: IamGate,
): Promise<void> {
  const send = (status: number, body: unknown) => {
    res.writeHead(status, { "Content-Type": "application/x-amz-json-1.0" });
    res.end(JSON.stringify(body));
  };
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers["x-amz-target"] ?? "");
    const operation = target.startsWith("AWSStepFunctions.")
      ? operations[target.slice("AWSStepFunctions.".length)]
      : undefined;
    if (req.method !== "POST" || !operation) {
      throw new SfnApiError(
        "UnknownOperationException",
        `the local Step Functions API does not implement ${target || "this request"}`,
      );
    }
    const text = Buffer.concat(chunks).toString("utf8");
    let request: unknown;
    try {
      request = text === "" ? {} : JSON.parse(text);
    } catch {
      throw new SfnApiError("SerializationException", "the request body is not JSON");
    }
    const params = (request ?? {}) as Record<string, unknown>;
    await gateSfnCall(iam, req.headers, target.slice("AWSStepFunctions.".length), params);
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
