import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { readBody, sendJson } from "./emulator/http-io.ts";
import { EMULATOR_HOST } from "./emulator/index.ts";
import type { WorkflowEvent } from "./workflow/index.ts";

/**
 * The two Step Functions calls the job makes about executions, answered for
 * local executions: ListExecutions (the Plan step's refusal to run beside
 * another execution) and DescribeExecution (the reaper's "is the lease's
 * execution still running?"). A real HTTP server speaking the AWS JSON 1.0
 * protocol on 127.0.0.1, so the SDK client in the Lambdas is used unchanged
 * through `AWS_ENDPOINT_URL_SFN`.
 */

export type LocalExecutionStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";

export interface LocalExecution {
  executionArn: string;
  stateMachineArn: string;
  status: LocalExecutionStatus;
  startDate: number;
  stopDate?: number;
}

/** Executions the local engine ran or runs, fed from their workflow events. */
export class LocalExecutionRegistry {
  private readonly executions = new Map<string, LocalExecution>();

  /** Records an execution's start and end; pass it as (or from) `runLocalJob`'s `onEvent`. */
  readonly record = (event: WorkflowEvent): void => {
    if (!("executionArn" in event)) return;
    const { executionArn } = event;
    if (event.type === "ExecutionStarted") {
      this.executions.set(executionArn, {
        executionArn,
        stateMachineArn: stateMachineArnOf(executionArn),
        status: "RUNNING",
        startDate: event.timestamp,
      });
      return;
    }
    const status = END_STATUSES[event.type];
    const execution = this.executions.get(executionArn);
    if (status && execution) {
      execution.status = status;
      execution.stopDate = event.timestamp;
    }
  };

  get(executionArn: string): LocalExecution | undefined {
    return this.executions.get(executionArn);
  }

  list(): LocalExecution[] {
    return [...this.executions.values()];
  }
}

const END_STATUSES: Partial<Record<WorkflowEvent["type"], LocalExecutionStatus>> = {
  ExecutionSucceeded: "SUCCEEDED",
  ExecutionFailed: "FAILED",
  ExecutionAborted: "ABORTED",
  ExecutionTimedOut: "TIMED_OUT",
};

/** `arn:...:execution:<machine>:<name>` -> `arn:...:stateMachine:<machine>`. */
export function stateMachineArnOf(executionArn: string): string {
  return executionArn.replace(/:execution:([^:]+):[^:]+$/, ":stateMachine:$1");
}

export interface LocalSfnServer {
  /** `http://127.0.0.1:<port>`: the value of `AWS_ENDPOINT_URL_SFN`. */
  endpoint: string;
  close(): Promise<void>;
}

class SfnApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

function describe(execution: LocalExecution) {
  return {
    executionArn: execution.executionArn,
    stateMachineArn: execution.stateMachineArn,
    name: execution.executionArn.split(":").at(-1),
    status: execution.status,
    // The JSON protocol carries timestamps as epoch seconds.
    startDate: execution.startDate / 1000,
    ...(execution.stopDate !== undefined ? { stopDate: execution.stopDate / 1000 } : {}),
  };
}

function answer(
  registry: LocalExecutionRegistry,
  operation: string,
  body: Record<string, unknown>,
): unknown {
  if (operation === "DescribeExecution") {
    const execution = registry.get(String(body.executionArn));
    if (!execution) {
      throw new SfnApiError(
        "ExecutionDoesNotExist",
        `Execution does not exist: ${body.executionArn}`,
      );
    }
    return describe(execution);
  }
  if (operation === "ListExecutions") {
    const executions = registry
      .list()
      .filter((execution) => execution.stateMachineArn === body.stateMachineArn)
      .filter((execution) => !body.statusFilter || execution.status === body.statusFilter)
      .sort((a, b) => b.startDate - a.startDate);
    return { executions: executions.map(describe) };
  }
  throw new SfnApiError("UnknownOperationException", `${operation} is not served locally`);
}

/** Starts the local Step Functions API on 127.0.0.1 (port 0: any free port). */
export async function startSfnServer(
  registry: LocalExecutionRegistry,
  port = 0,
): Promise<LocalSfnServer> {
  const server = createServer((request, response) => {
    const target = String(request.headers["x-amz-target"] ?? "");
    const operation = target.replace(/^AWSStepFunctions\./, "");
    const headers = { "Content-Type": "application/x-amz-json-1.0" };
    readBody(request)
      .then((raw) => {
        const body = raw.length > 0 ? (JSON.parse(raw.toString("utf8")) as object) : {};
        sendJson(
          response,
          200,
          answer(registry, operation, body as Record<string, unknown>),
          headers,
        );
      })
      .catch((error: unknown) => {
        const type = error instanceof SfnApiError ? error.type : "InvalidRequest";
        const message = error instanceof Error ? error.message : String(error);
        sendJson(response, 400, { __type: type, message }, headers);
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, EMULATOR_HOST, () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    endpoint: `http://${EMULATOR_HOST}:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
