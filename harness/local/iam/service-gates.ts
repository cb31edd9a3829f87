import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { CloudWatchError } from "../cloudwatch/request.ts";
import { LOCAL_S3_CREDENTIALS } from "../s3-server.ts";
import type { IamGate } from "./iam-gate.ts";
import { accessKeyOf, identityForAccessKey } from "./identities.ts";
import {
  rekognitionRequestContext,
  s3RequestContext,
  sfnRequestContext,
} from "./request-context.ts";

/**
 * The gate at each local service's door: evaluate the request as IAM would,
 * answer AccessDenied the way that service does, or let it through.
 */

/**
 * Before s3rver: a denied request gets S3's 403 `AccessDenied` XML; an allowed
 * one from a role has its access key id swapped for s3rver's own (the secret
 * is the same, so s3rver's signature check still holds). Returns true when it
 * answered the request itself.
 */
export async function gateS3Request(
  gate: IamGate,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<boolean> {
  const accessKeyId = accessKeyOf(request.headers, request.url);
  if (!identityForAccessKey(accessKeyId)) return false;
  const denial = await gate.check(
    accessKeyId,
    s3RequestContext(request.method ?? "GET", request.url ?? "/", request.headers),
  );
  if (denial) {
    request.resume();
    const requestId = randomUUID().replace(/-/g, "").slice(0, 16).toUpperCase();
    const body =
      request.method === "HEAD"
        ? ""
        : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>${escapeXml(
            denial.message,
          )}</Message><RequestId>${requestId}</RequestId><HostId>local</HostId></Error>`;
    response.writeHead(403, {
      "Content-Type": "application/xml",
      "x-amz-request-id": requestId,
      "Content-Length": Buffer.byteLength(body),
    });
    response.end(body);
    return true;
  }
  const authorization = request.headers.authorization;
  if (typeof authorization === "string" && accessKeyId) {
    request.headers.authorization = authorization.replace(
      `Credential=${accessKeyId}/`,
      `Credential=${LOCAL_S3_CREDENTIALS.accessKeyId}/`,
    );
  }
  return false;
}

/** An AccessDeniedException in the AWS JSON protocols (Rekognition, Step Functions). */
export class AccessDeniedException extends Error {
  override readonly name = "AccessDeniedException";
}

/** Throws {@link AccessDeniedException} when the Rekognition call is denied. */
export async function gateRekognitionCall(
  gate: IamGate,
  headers: IncomingMessage["headers"],
  operation: string,
  params: Record<string, unknown>,
): Promise<void> {
  const denial = await gate.check(
    accessKeyOf(headers),
    rekognitionRequestContext(operation, params),
  );
  if (denial) throw new AccessDeniedException(denial.message);
}

/** Throws {@link AccessDeniedException} when the Step Functions call is denied. */
export async function gateSfnCall(
  gate: IamGate,
  headers: IncomingMessage["headers"],
  operation: string,
  params: Record<string, unknown>,
): Promise<void> {
  const denial = await gate.check(accessKeyOf(headers), sfnRequestContext(operation, params));
  if (denial) throw new AccessDeniedException(denial.message);
}

/**
 * Throws CloudWatch's AccessDenied (a query-protocol service: HTTP 403, code
 * `AccessDenied`) when the call is denied. GetMetricData has no resource-level
 * permissions: IAM authorises it on "*".
 */
export async function gateCloudWatchCall(
  gate: IamGate,
  headers: IncomingMessage["headers"],
  action: string,
): Promise<void> {
  const denial = await gate.check(accessKeyOf(headers), [{ action, resource: "*", context: {} }]);
  if (denial)
    throw new CloudWatchError("AccessDeniedException", "AccessDenied", denial.message, 403);
}

function escapeXml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}
