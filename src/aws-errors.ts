/**
 * The one place that reads AWS SDK v3 errors and says what they mean. Others
 * ask this module, never compare error names or status codes themselves.
 *
 * Throttling, transient and server errors are the SDK's own classification
 * (the same functions its retry strategy uses), so "worth trying again" means
 * the same thing here as in the SDK. On top of it, the project's split: which
 * errors deny access, which say a resource is gone, and, for DetectCustomLabels,
 * which are the image's fault (permanent) and which end the batch (fatal).
 */
import { isServerError, isThrottlingError, isTransientError } from "@smithy/core/retry";
import {
  AccessDeniedError,
  ModelNotReadyError,
  ResourceNotFoundError,
  type RunnerError,
} from "./errors.ts";

/** The error shape the SDK's checks take. */
type SdkError = Parameters<typeof isThrottlingError>[0];

interface SdkErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $fault?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown; attempts?: unknown };
}

interface ErrorFields {
  name: string;
  code: string;
  message: string;
  status: number | undefined;
}

function fieldsOf(error: unknown): ErrorFields {
  if (typeof error !== "object" || error === null) {
    return { name: "", code: "", message: String(error), status: undefined };
  }
  const e = error as SdkErrorLike;
  const status = e.$metadata?.httpStatusCode;
  return {
    name: typeof e.name === "string" ? e.name : "",
    code: typeof e.code === "string" ? e.code : "",
    message: typeof e.message === "string" ? e.message : "",
    status: typeof status === "number" ? status : undefined,
  };
}

/** The service's error code (`ResourceInUseException`, `NoSuchKey`, ...), or "" for non-errors. */
export function awsErrorName(error: unknown): string {
  return fieldsOf(error).name;
}

/**
 * True when the service answered and refused the request (HTTP 4xx): the call
 * certainly had no effect. Anything else (5xx, timeouts, sockets closed) may
 * or may not have been carried out.
 */
export function isServiceRejection(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { status } = fieldsOf(error);
  if (status !== undefined) return status >= 400 && status < 500;
  return (error as SdkErrorLike).$fault === "client";
}

/**
 * True when the failed call certainly changed nothing: the service refused it
 * (HTTP 4xx) on the only attempt. After SDK retries only the last answer is
 * seen, and an earlier attempt may have been a 5xx or a timeout that the
 * service carried out (a retried StartProjectVersion then answers
 * ResourceInUseException for the start it made itself).
 */
export function certainlyHadNoEffect(error: unknown): boolean {
  if (!isServiceRejection(error)) return false;
  // A quota refusal is the same for every attempt of the same request: had an
  // earlier attempt started the model, this one would have met ResourceInUse.
  if (isUnitQuotaRefusal(error)) return true;
  return sdkAttempts(error) <= 1;
}

/** How many attempts the SDK made for a failed call (1 when it does not say). */
export function sdkAttempts(error: unknown): number {
  if (typeof error !== "object" || error === null) return 1;
  const attempts = (error as SdkErrorLike).$metadata?.attempts;
  return typeof attempts === "number" && attempts >= 1 ? attempts : 1;
}

/**
 * On StartProjectVersion, `LimitExceededException` is the account's
 * inference-unit quota refusing the units asked for: not throttling (though
 * the SDK retries it as such), and the same answer however often it is asked.
 */
export function isUnitQuotaRefusal(error: unknown): boolean {
  return awsErrorName(error) === "LimitExceededException";
}

// ---------------------------------------------------------------------------
// Access and existence

/** A known identity that may not do this: IAM, a bucket policy, a KMS key policy, an SCP. */
const PERMISSION_DENIED_NAMES = new Set([
  "AccessDenied",
  "AccessDeniedException",
  // S3 HEAD requests have no body: a 403 arrives with the bare status name.
  "Forbidden",
  "AllAccessDisabled",
  "NotAuthorized",
]);

/** The credentials themselves were refused: unknown, badly signed or expired. */
const CREDENTIALS_REJECTED_NAMES = new Set([
  "UnrecognizedClientException",
  "InvalidClientTokenId",
  "InvalidAccessKeyId",
  "InvalidSignatureException",
  "SignatureDoesNotMatch",
  "IncompleteSignature",
  "ExpiredToken",
  "ExpiredTokenException",
]);

const EXPIRED_CREDENTIALS_NAMES = new Set(["ExpiredToken", "ExpiredTokenException"]);

/** The project version, the bucket, or another resource named by the input. */
const MISSING_RESOURCE_NAMES = new Set(["ResourceNotFoundException", "NoSuchBucket"]);

/** True when the caller's permissions refuse the call (not its credentials). */
export function isPermissionDenied(error: unknown): boolean {
  return PERMISSION_DENIED_NAMES.has(awsErrorName(error));
}

/** True when AWS did not accept the credentials at all. */
export function isCredentialsRejected(error: unknown): boolean {
  return CREDENTIALS_REJECTED_NAMES.has(awsErrorName(error));
}

/** True when the credentials were accepted once but have expired (STS, S3 and JSON services name it differently). */
export function isExpiredCredentials(error: unknown): boolean {
  return EXPIRED_CREDENTIALS_NAMES.has(awsErrorName(error));
}

/** Either of the above: for the job, both mean its role cannot do what the run needs. */
export function isAccessDeniedError(error: unknown): boolean {
  return isPermissionDenied(error) || isCredentialsRejected(error);
}

/** True when the resource the call names (model version, bucket) does not exist. */
export function isMissingResourceError(error: unknown): boolean {
  return MISSING_RESOURCE_NAMES.has(awsErrorName(error));
}

/**
 * True when S3 says the object (or key) is not there: NoSuchKey from GET,
 * NotFound or a bare 404 from HEAD. A missing bucket is not a missing object:
 * it is a configuration problem, and must not read as "nothing stored yet".
 */
export function isNotFoundError(error: unknown): boolean {
  const { name, status } = fieldsOf(error);
  if (name === "NoSuchKey" || name === "NotFound") return true;
  return status === 404 && !isMissingResourceError(error);
}

// ---------------------------------------------------------------------------
// Worth trying again

/**
 * Answers the SDK's classification misses when an error carries no HTTP
 * status (a name alone, as some services and tests build them) or a Node/undici
 * socket code it does not list.
 */
const SERVER_ERROR_NAMES = new Set([
  "InternalServerError",
  "InternalServerErrorException",
  "InternalError",
  "InternalFailure",
  "ServiceUnavailable",
  "ServiceUnavailableException",
  "ServiceException",
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

/** The Node code of a dropped connection (`ECONNRESET`, ...), or "". */
function networkCode(error: unknown): string {
  const { name, code } = fieldsOf(error);
  if (NETWORK_CODES.has(code)) return code;
  return NETWORK_CODES.has(name) ? name : "";
}

/**
 * Asks one of the SDK's checks. They expect SDK errors and throw on some
 * shapes (a `cause` of null); classifying must never throw, so a check that
 * cannot read the error says no.
 */
function sdkSays(check: (error: SdkError) => boolean, error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  try {
    return check(error as SdkError);
  } catch {
    return false;
  }
}

/** True when the service said we call too fast (ThrottlingException, HTTP 429, ...). */
export function isThrottlingAwsError(error: unknown): boolean {
  return sdkSays(isThrottlingError, error);
}

/**
 * True for errors worth trying again later: throttling, 5xx, timeouts, dropped
 * connections. Never a denial or a missing resource, even where the SDK would
 * retry one (a signature refused for clock skew, an error after it corrected
 * its clock): once the SDK has given up, it is the job's configuration.
 */
export function isTransientAwsError(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  if (isAccessDeniedError(error) || isMissingResourceError(error)) return false;
  const sdkChecks = [isThrottlingError, isTransientError, isServerError];
  if (sdkChecks.some((check) => sdkSays(check, error))) return true;
  const { name, message, status } = fieldsOf(error);
  if (SERVER_ERROR_NAMES.has(name) || networkCode(error) !== "") return true;
  if (status !== undefined && status >= 500) return true;
  return /socket hang up/i.test(message);
}

// ---------------------------------------------------------------------------
// Runner errors

/**
 * The workflow's error for a denial or a missing resource (AccessDenied,
 * ResourceNotFound), with the caller's message for each and the original as
 * `cause`; undefined for any other error.
 */
export function accessOrExistenceError(
  error: unknown,
  messages: { denied: string; missing: string },
): RunnerError | undefined {
  if (isAccessDeniedError(error)) return new AccessDeniedError(messages.denied, { cause: error });
  if (isMissingResourceError(error)) {
    return new ResourceNotFoundError(messages.missing, { cause: error });
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// DetectCustomLabels, and the S3 calls around it

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
  override readonly name = "ImageUnreadable";
  constructor(key: string, cause: unknown) {
    const { name, message } = fieldsOf(cause);
    super(`GetObject of ${key} failed: ${name || "Error"}: ${message}`, { cause });
  }
}

/** S3 error names that, on GetObject of one image, mean that image cannot be read now. */
export function isImageReadError(error: unknown): boolean {
  const name = awsErrorName(error);
  return (
    name === "AccessDenied" ||
    name === "NoSuchKey" ||
    name === "InvalidObjectState" ||
    name.startsWith("KMS")
  );
}

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

/** The model stopped under our feet: nothing more of this batch can be analysed. */
const MODEL_NOT_READY = "ResourceNotReadyException";

/** S3's throttling: worth retrying, but it says nothing about the model's throughput. */
const S3_SLOW_DOWN = "SlowDown";

/** Sorts an error into one of the kinds above. Never throws. */
export function classifyDetectionError(error: unknown): ErrorClassification {
  const { name, code, message } = fieldsOf(error);
  const result = (kind: ErrorKind, throttle = false, shownName = name): ErrorClassification => ({
    kind,
    throttle,
    name: shownName || code || "Error",
    message,
  });
  if (name === MODEL_NOT_READY || isAccessDeniedError(error) || isMissingResourceError(error)) {
    return result("fatal");
  }
  if (PERMANENT_NAMES.has(name)) return result("permanent");
  if (UNREADABLE_NAMES.has(name)) return result("unreadable");
  if (isThrottlingAwsError(error) && name !== S3_SLOW_DOWN) return result("retryable", true);
  if (isTransientAwsError(error)) return result("retryable", false, networkCode(error) || name);
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
  if (name === MODEL_NOT_READY) {
    return new ModelNotReadyError(
      `The model is not running (it stopped mid-batch?): ${message}${detail}`,
      { cause: error },
    );
  }
  return accessOrExistenceError(error, {
    denied: `Access denied (${name}): ${message}${detail}`,
    missing: `Not found (${name}): ${message}${detail}`,
  });
}
