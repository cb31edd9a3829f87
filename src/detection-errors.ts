import {
  AccessDeniedError,
  ModelNotReadyError,
  ResourceNotFoundError,
  type RunnerError,
} from "./errors.ts";

/**
 * What an error from DetectCustomLabels, or from the S3 calls around it, means
 * for the batch:
 *
 * - `retryable`: the call may succeed if tried again (throttling, 5xx, dropped
 *   connections, timeouts). `throttle` marks the ones that say we are over the
 *   model's provisioned throughput: they feed the rate controller.
 * - `permanent`: this image is bad and can never succeed as it is (format,
 *   dimensions, size). Recorded as a `failed` result, final until the image
 *   changes; the batch goes on.
 * - `unreadable`: the image could not be read (Rekognition's
 *   InvalidS3ObjectException, which covers S3 access and KMS refusals; in
 *   Bytes mode, GetObject refused or the object gone). Says nothing about the
 *   image, and may be transient: tried `UNREADABLE_MAX_ATTEMPTS` times with
 *   backoff, then recorded as `unreadable`, which the next run tries again.
 * - `fatal`: nothing in this run can succeed (the model stopped, access denied,
 *   the model or bucket is gone). The batch stops taking items and fails with
 *   the named runner error.
 * - `unknown`: anything else. Retried a few times (`UNKNOWN_ERROR_MAX_ATTEMPTS`)
 *   and, if it persists, the image is left undone, without a result record, and
 *   the batch ends with RetriesExhausted. An unknown error says nothing about
 *   the image, so recording a failure would retire the image from every later
 *   run; and if the cause is a bug or a misconfiguration it would retire every
 *   image at once. Left undone, it is picked up again by the Map's retry or next
 *   week's plan, and the batch failure makes the problem visible.
 */
export type ErrorKind = "retryable" | "permanent" | "unreadable" | "fatal" | "unknown";

export interface ErrorClassification {
  kind: ErrorKind;
  /** True when the error says we called faster than the model's throughput allows. */
  throttle: boolean;
  /** The service error name, the Node error code, or the JS error name. */
  name: string;
  message: string;
}

/** Attempts in all for an error nobody has classified. */
export const UNKNOWN_ERROR_MAX_ATTEMPTS = 3;

/** Attempts in all for an image that could not be read, before it is recorded `unreadable`. */
export const UNREADABLE_MAX_ATTEMPTS = 3;

/**
 * A Bytes-mode image that GetObject could not deliver: access denied, a KMS
 * refusal, or the object gone. Wraps the S3 error so that it is not taken
 * for a denial of the whole job (an S3 `AccessDenied` elsewhere is fatal).
 */
export class ImageUnreadableError extends Error {
  constructor(key: string, cause: unknown) {
    const e = cause as { name?: unknown; message?: unknown } | null;
    const name = typeof e?.name === "string" ? e.name : "Error";
    const message = typeof e?.message === "string" ? e.message : String(cause);
    super(`GetObject of ${key} failed: ${name}: ${message}`, { cause });
    this.name = "ImageUnreadable";
  }
}

/** S3 error names that, on GetObject of one image, mean that image cannot be read now. */
export function isImageReadError(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  if (typeof name !== "string") return false;
  return (
    name === "AccessDenied" ||
    name === "NoSuchKey" ||
    name === "InvalidObjectState" ||
    name.startsWith("KMS")
  );
}

const THROTTLE_NAMES = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "LimitExceededException",
  "TooManyRequestsException",
]);

const TRANSIENT_NAMES = new Set([
  "InternalServerError",
  "InternalServerErrorException",
  "InternalError",
  "InternalFailure",
  "ServiceUnavailable",
  "ServiceUnavailableException",
  "ServiceException",
  "SlowDown",
  "RequestTimeout",
  "RequestTimeoutException",
  "TimeoutError",
  "NetworkingError",
]);

const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
  "ENOTFOUND",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
]);

const PERMANENT_NAMES = new Set([
  "InvalidImageFormatException",
  "ImageTooLargeException",
  // Rekognition's answer for an image whose dimensions are out of range.
  "InvalidParameterException",
]);

const UNREADABLE_NAMES = new Set([
  "InvalidS3ObjectException",
  "ImageUnreadable",
  // Bytes mode: the image was deleted between planning and processing.
  "NoSuchKey",
]);

type FatalFactory = (message: string, cause: unknown) => RunnerError;

const FATAL_NAMES = new Map<string, FatalFactory>([
  [
    "ResourceNotReadyException",
    (message, cause) =>
      new ModelNotReadyError(`The model is not running (it stopped mid-batch?): ${message}`, {
        cause,
      }),
  ],
  ...[
    "AccessDeniedException",
    "AccessDenied",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "AllAccessDisabled",
  ].map((name): [string, FatalFactory] => [
    name,
    (message, cause) => new AccessDeniedError(`Access denied (${name}): ${message}`, { cause }),
  ]),
  ...["ResourceNotFoundException", "NoSuchBucket"].map((name): [string, FatalFactory] => [
    name,
    (message, cause) => new ResourceNotFoundError(`Not found (${name}): ${message}`, { cause }),
  ]),
]);

interface ErrorFields {
  name: string;
  code: string;
  message: string;
  status: number | undefined;
  retryableHint: boolean;
}

function fieldsOf(error: unknown): ErrorFields {
  if (typeof error !== "object" || error === null) {
    return { name: "", code: "", message: String(error), status: undefined, retryableHint: false };
  }
  const e = error as {
    name?: unknown;
    code?: unknown;
    message?: unknown;
    $metadata?: { httpStatusCode?: unknown };
    $retryable?: unknown;
  };
  const status = e.$metadata?.httpStatusCode;
  return {
    name: typeof e.name === "string" ? e.name : "",
    code: typeof e.code === "string" ? e.code : "",
    message: typeof e.message === "string" ? e.message : "",
    status: typeof status === "number" ? status : undefined,
    retryableHint: Boolean(e.$retryable),
  };
}

/** Sorts an error into one of the four kinds above. Never throws. */
export function classifyDetectionError(error: unknown): ErrorClassification {
  const { name, code, message, status, retryableHint } = fieldsOf(error);
  const result = (kind: ErrorKind, throttle = false, shownName = name): ErrorClassification => ({
    kind,
    throttle,
    name: shownName || code || "Error",
    message,
  });
  if (FATAL_NAMES.has(name)) return result("fatal");
  if (PERMANENT_NAMES.has(name)) return result("permanent");
  if (UNREADABLE_NAMES.has(name)) return result("unreadable");
  if (THROTTLE_NAMES.has(name)) return result("retryable", true);
  if (TRANSIENT_NAMES.has(name)) return result("retryable");
  if (NETWORK_CODES.has(code)) return result("retryable", false, code);
  if (NETWORK_CODES.has(name)) return result("retryable");
  if (status === 429) return result("retryable", true);
  if (status !== undefined && status >= 500) return result("retryable");
  if (/socket hang up/i.test(message)) return result("retryable");
  if (retryableHint) return result("retryable");
  return result("unknown");
}

/** Whether attempt number `attempt` that failed with `error` should be tried again. */
export function shouldRetryDetectionError(error: unknown, attempt: number): boolean {
  const { kind } = classifyDetectionError(error);
  if (kind === "retryable") return true;
  if (kind === "unknown") return attempt < UNKNOWN_ERROR_MAX_ATTEMPTS;
  if (kind === "unreadable") return attempt < UNREADABLE_MAX_ATTEMPTS;
  return false;
}

/**
 * The runner error a fatal error stands for (ModelNotReady, AccessDenied,
 * ResourceNotFound), with the original as `cause` and `detail` appended to
 * its message; undefined for other kinds.
 */
export function fatalRunnerError(error: unknown, detail = ""): RunnerError | undefined {
  const { name, message } = fieldsOf(error);
  return FATAL_NAMES.get(name)?.(`${message}${detail}`, error);
}
