/**
 * Reading AWS SDK v3 errors without depending on their classes: the SDK sets
 * `name` from the service's error code, and `$metadata.httpStatusCode` /
 * `$fault` tell a definite rejection from an answer that never arrived.
 */

interface SdkErrorLike {
  name?: unknown;
  $fault?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/** The service's error code (`ResourceInUseException`, `NoSuchKey`, ...), or "" for non-errors. */
export function awsErrorName(error: unknown): string {
  if (typeof error !== "object" || error === null) return "";
  const name = (error as SdkErrorLike).name;
  return typeof name === "string" ? name : "";
}

/**
 * True when the service answered and refused the request (HTTP 4xx): the call
 * certainly had no effect. Anything else (5xx, timeouts, sockets closed) may
 * or may not have been carried out.
 */
export function isServiceRejection(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const sdk = error as SdkErrorLike;
  const status = sdk.$metadata?.httpStatusCode;
  if (typeof status === "number") return status >= 400 && status < 500;
  return sdk.$fault === "client";
}

const TRANSIENT_NAMES = new Set([
  "ThrottlingException",
  "ProvisionedThroughputExceededException",
  "InternalServerError",
  "ServiceUnavailable",
  "ServiceUnavailableException",
  "RequestTimeout",
  "RequestTimeoutException",
  "TimeoutError",
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
]);

/** True for errors worth trying again later: throttling, 5xx, dropped connections. */
export function isTransientAwsError(error: unknown): boolean {
  if (TRANSIENT_NAMES.has(awsErrorName(error))) return true;
  if (typeof error !== "object" || error === null) return false;
  const sdk = error as SdkErrorLike & { code?: unknown };
  if (typeof sdk.code === "string" && TRANSIENT_NAMES.has(sdk.code)) return true;
  if (sdk.$retryable) return true;
  const status = sdk.$metadata?.httpStatusCode;
  return typeof status === "number" && status >= 500;
}

/** True when S3 says the object (or key) is not there: NoSuchKey from GET, NotFound or a bare 404 from HEAD. */
export function isNotFoundError(error: unknown): boolean {
  const name = awsErrorName(error);
  if (name === "NoSuchKey" || name === "NotFound") return true;
  const status = (error as SdkErrorLike | null)?.$metadata?.httpStatusCode;
  return status === 404;
}
