import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  awsJsonOperation,
  MAX_REQUEST_BYTES,
  RequestTooLarge,
  readBody,
  sendJson,
} from "../loopback-server.ts";
import { ApiError } from "./api-error.ts";
import { DroppedConnection, OPERATIONS, type OperationContext } from "./operations.ts";
import type { Params } from "./params.ts";

const JSON_11 = "application/x-amz-json-1.1";

/**
 * One Rekognition JSON 1.1 call: `POST /` with `X-Amz-Target:
 * RekognitionService.<Operation>`. Answers with the operation's output, or
 * with `{"__type", "message"}` and HTTP 400/500 as AWS does. Signatures are
 * not checked.
 */
export async function handleRekognitionCall(
  request: IncomingMessage,
  response: ServerResponse,
  context: OperationContext,
): Promise<void> {
  const requestId = randomUUID();
  try {
    const operationName = awsJsonOperation(request, "RekognitionService");
    const operation = operationName ? OPERATIONS[operationName] : undefined;
    if (request.method !== "POST" || !operation) {
      request.resume();
      throw new ApiError(
        "UnknownOperationException",
        operationName
          ? `Operation ${operationName} is not supported by the emulator.`
          : "Missing or unknown X-Amz-Target header.",
      );
    }
    const params = parseParams(await readRequest(request));
    if (context.authorize) {
      try {
        await context.authorize(request.headers, operationName as string, params);
      } catch (error) {
        if (error instanceof Error && error.name === "AccessDeniedException") {
          throw new ApiError("AccessDeniedException", error.message);
        }
        throw error;
      }
    }
    // An injected fault answers before the operation runs, so it changes nothing.
    const fault = context.controlPlaneFaults?.answer(operationName as string);
    if (fault) throw fault;
    const output = await operation(params, context);
    send(response, 200, output, requestId);
  } catch (error) {
    if (error instanceof DroppedConnection) {
      request.socket.destroy();
      return;
    }
    if (error instanceof ApiError) {
      send(
        response,
        error.status,
        { __type: error.name, message: error.message },
        requestId,
        error.name,
      );
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    send(
      response,
      500,
      { __type: "InternalServerError", message: `Emulator error: ${message}` },
      requestId,
      "InternalServerError",
    );
  }
}

async function readRequest(request: IncomingMessage): Promise<Buffer> {
  try {
    return await readBody(request);
  } catch (error) {
    if (error instanceof RequestTooLarge) {
      request.resume();
      throw new ApiError(
        "ImageTooLargeException",
        `The request is larger than ${MAX_REQUEST_BYTES} bytes.`,
      );
    }
    throw error;
  }
}

function parseParams(body: Buffer): Params {
  if (body.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    throw new ApiError("SerializationException", "The request body is not valid JSON.");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ApiError("SerializationException", "The request body must be a JSON object.");
  }
  return parsed as Params;
}

function send(
  response: ServerResponse,
  status: number,
  body: unknown,
  requestId: string,
  errorType?: string,
): void {
  if (response.headersSent || response.destroyed) return;
  sendJson(response, status, body, {
    "Content-Type": JSON_11,
    "x-amzn-RequestId": requestId,
    ...(errorType ? { "x-amzn-ErrorType": errorType } : {}),
  });
}
