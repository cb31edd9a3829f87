import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { getMetricData, type MetricSource } from "./cloudwatch/get-metric-data.ts";
import {
  CloudWatchError,
  type CloudWatchRequest,
  JSON_10,
  parseCloudWatchRequest,
} from "./cloudwatch/request.ts";
import { listenOnLoopback, RequestTooLarge, readBody, sendJson } from "./loopback-server.ts";

/**
 * A local CloudWatch endpoint that answers GetMetricData (AWS JSON 1.0,
 * query-compatible, what the AWS SDK and the AWS CLI send) from a metric
 * source: in the local stack, the Custom Labels emulator's unit metrics. The
 * value for `AWS_ENDPOINT_URL_CLOUDWATCH` (or `--endpoint-url`).
 */
export interface LocalCloudWatch {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  port: number;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Decides whether the caller may make the request (IAM): throws a
 * {@link CloudWatchError} to refuse it.
 */
export type CloudWatchAuthorizer = (
  headers: IncomingMessage["headers"],
  request: CloudWatchRequest,
) => Promise<void>;

export async function startLocalCloudWatch(options: {
  source: MetricSource;
  port?: number;
  authorize?: CloudWatchAuthorizer;
}): Promise<LocalCloudWatch> {
  return listenOnLoopback((request, response) => {
    handle(request, response, options.source, options.authorize).catch(() => response.destroy());
  }, options.port ?? 0);
}

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  source: MetricSource,
  authorize: CloudWatchAuthorizer | undefined,
): Promise<void> {
  const requestId = randomUUID();
  try {
    const body = await readBody(request, MAX_BODY_BYTES).catch((error: unknown) => {
      if (!(error instanceof RequestTooLarge)) throw error;
      throw new CloudWatchError(
        "InvalidParameterValueException",
        "InvalidParameterValue",
        `Request body over ${MAX_BODY_BYTES} bytes.`,
        413,
      );
    });
    const parsed = parseCloudWatchRequest({
      method: request.method,
      headers: request.headers,
      body,
    });
    await authorize?.(request.headers, parsed);
    sendJson(response, 200, getMetricData(parsed, source), awsJsonHeaders(requestId));
  } catch (error) {
    const failure =
      error instanceof CloudWatchError
        ? error
        : new CloudWatchError(
            "InternalServiceError",
            "InternalServiceError",
            error instanceof Error ? error.message : String(error),
            500,
          );
    sendJson(
      response,
      failure.status,
      { __type: failure.type, message: failure.message },
      {
        ...awsJsonHeaders(requestId),
        // Query-compatible services name the query error code here; the SDKs read it.
        "x-amzn-query-error": `${failure.queryCode};${failure.status >= 500 ? "Receiver" : "Sender"}`,
      },
    );
  }
}

function awsJsonHeaders(requestId: string): Record<string, string> {
  return { "Content-Type": JSON_10, "x-amzn-RequestId": requestId };
}
