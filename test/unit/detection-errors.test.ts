import {
  AccessDeniedException,
  ImageTooLargeException,
  InternalServerError,
  InvalidImageFormatException,
  ProvisionedThroughputExceededException,
  ResourceNotFoundException,
  ResourceNotReadyException,
} from "@aws-sdk/client-rekognition";
import { describe, expect, it } from "vitest";
import {
  classifyDetectionError,
  type ErrorKind,
  fatalRunnerError,
  ImageUnreadableError,
  shouldRetryDetectionError,
  UNKNOWN_ERROR_MAX_ATTEMPTS,
} from "../../src/aws-errors.ts";
import { ImageTooLargeForBytesError } from "../../src/detect-image.ts";
import { AccessDeniedError, ModelNotReadyError, ResourceNotFoundError } from "../../src/errors.ts";

/** An error shaped like the SDK's: name from the service, status in $metadata. */
function sdkError(name: string, status = 400, extra: object = {}) {
  return Object.assign(new Error(`${name} happened`), {
    name,
    $fault: status >= 500 ? "server" : "client",
    $metadata: { httpStatusCode: status },
    ...extra,
  });
}

function nodeError(code: string, message = `connect ${code} 127.0.0.1:9`) {
  return Object.assign(new Error(message), { code });
}

const table: [string, unknown, ErrorKind, boolean][] = [
  [
    "ProvisionedThroughputExceeded",
    sdkError("ProvisionedThroughputExceededException"),
    "retryable",
    true,
  ],
  ["Throttling", sdkError("ThrottlingException"), "retryable", true],
  ["LimitExceeded", sdkError("LimitExceededException"), "retryable", true],
  ["HTTP 429 of any name", sdkError("Whatever", 429), "retryable", true],
  ["InternalServerError", sdkError("InternalServerError", 500), "retryable", false],
  ["ServiceUnavailable", sdkError("ServiceUnavailable", 503), "retryable", false],
  ["S3 SlowDown (not a model throttle)", sdkError("SlowDown", 503), "retryable", false],
  ["an unnamed HTTP 502", sdkError("UnknownError", 502), "retryable", false],
  [
    "SDK TimeoutError",
    Object.assign(new Error("timed out"), { name: "TimeoutError" }),
    "retryable",
    false,
  ],
  ["ECONNRESET", nodeError("ECONNRESET"), "retryable", false],
  ["ECONNREFUSED", nodeError("ECONNREFUSED"), "retryable", false],
  ["EPIPE", nodeError("EPIPE"), "retryable", false],
  ["ETIMEDOUT", nodeError("ETIMEDOUT"), "retryable", false],
  ["socket hang up", new Error("socket hang up"), "retryable", false],
  [
    "SDK $retryable hint",
    Object.assign(new Error("x"), { name: "Odd", $retryable: {} }),
    "retryable",
    false,
  ],
  ["InvalidImageFormat", sdkError("InvalidImageFormatException"), "permanent", false],
  ["ImageTooLarge", sdkError("ImageTooLargeException"), "permanent", false],
  ["InvalidS3Object", sdkError("InvalidS3ObjectException"), "unreadable", false],
  ["InvalidParameter", sdkError("InvalidParameterException"), "permanent", false],
  ["Bytes mode, image deleted (NoSuchKey)", sdkError("NoSuchKey", 404), "unreadable", false],
  ["Bytes mode, over 4 MB", new ImageTooLargeForBytesError("a.jpg", 5_000_000), "permanent", false],
  [
    "Bytes mode, GetObject of the image denied",
    new ImageUnreadableError("a.jpg", sdkError("AccessDenied", 403)),
    "unreadable",
    false,
  ],
  ["ResourceNotReady", sdkError("ResourceNotReadyException"), "fatal", false],
  ["AccessDeniedException", sdkError("AccessDeniedException"), "fatal", false],
  ["S3 AccessDenied", sdkError("AccessDenied", 403), "fatal", false],
  ["expired credentials", sdkError("ExpiredTokenException"), "fatal", false],
  ["ResourceNotFound", sdkError("ResourceNotFoundException"), "fatal", false],
  ["S3 NoSuchBucket", sdkError("NoSuchBucket", 404), "fatal", false],
  ["an unknown 4xx", sdkError("BrandNewException"), "unknown", false],
  ["a bug in our code", new TypeError("x is undefined"), "unknown", false],
  ["a thrown string", "boom", "unknown", false],
  ["undefined", undefined, "unknown", false],
];

describe("classifyDetectionError", () => {
  it.each(table)("%s -> %s (throttle %s)", (_label, error, kind, throttle) => {
    const classification = classifyDetectionError(error);
    expect(classification.kind).toBe(kind);
    expect(classification.throttle).toBe(throttle);
    expect(classification.name).not.toBe("");
  });

  it("classifies the SDK's own exception classes by name", () => {
    const meta = { $metadata: {}, message: "m" };
    expect(classifyDetectionError(new ProvisionedThroughputExceededException(meta))).toMatchObject({
      kind: "retryable",
      throttle: true,
    });
    expect(classifyDetectionError(new InternalServerError(meta)).kind).toBe("retryable");
    expect(classifyDetectionError(new InvalidImageFormatException(meta)).kind).toBe("permanent");
    expect(classifyDetectionError(new ImageTooLargeException(meta)).kind).toBe("permanent");
    expect(classifyDetectionError(new ResourceNotReadyException(meta)).kind).toBe("fatal");
    expect(classifyDetectionError(new AccessDeniedException(meta)).kind).toBe("fatal");
    expect(classifyDetectionError(new ResourceNotFoundException(meta)).kind).toBe("fatal");
  });

  it("keeps the name and message for the failure record", () => {
    expect(classifyDetectionError(sdkError("InvalidImageFormatException"))).toEqual({
      kind: "permanent",
      throttle: false,
      name: "InvalidImageFormatException",
      message: "InvalidImageFormatException happened",
    });
    expect(classifyDetectionError(nodeError("ECONNRESET", "read ECONNRESET")).name).toBe(
      "ECONNRESET",
    );
  });
});

describe("shouldRetryDetectionError", () => {
  it("retries retryable errors, never permanent or fatal ones", () => {
    expect(shouldRetryDetectionError(sdkError("ThrottlingException"), 50)).toBe(true);
    expect(shouldRetryDetectionError(sdkError("InvalidImageFormatException"), 1)).toBe(false);
    expect(shouldRetryDetectionError(sdkError("ResourceNotReadyException"), 1)).toBe(false);
  });

  it("gives unknown errors only a few attempts", () => {
    const odd = sdkError("BrandNewException");
    const attempts = [1, 2, 3, 4].filter((n) => shouldRetryDetectionError(odd, n));
    expect(attempts).toHaveLength(UNKNOWN_ERROR_MAX_ATTEMPTS - 1);
  });
});

describe("fatalRunnerError", () => {
  it("maps fatal errors to the named runner errors, keeping the cause", () => {
    const notReady = sdkError("ResourceNotReadyException");
    const mapped = fatalRunnerError(notReady, " (3 of 9 done)");
    expect(mapped).toBeInstanceOf(ModelNotReadyError);
    expect(mapped?.name).toBe("ModelNotReady");
    expect(mapped?.message).toMatch(/ResourceNotReadyException happened \(3 of 9 done\)/);
    expect(mapped?.cause).toBe(notReady);
    expect(fatalRunnerError(sdkError("AccessDeniedException"))).toBeInstanceOf(AccessDeniedError);
    expect(fatalRunnerError(sdkError("NoSuchBucket"))).toBeInstanceOf(ResourceNotFoundError);
  });

  it("returns undefined for errors that are not fatal", () => {
    expect(fatalRunnerError(sdkError("ThrottlingException"))).toBeUndefined();
    expect(fatalRunnerError(new Error("x"))).toBeUndefined();
  });
});
