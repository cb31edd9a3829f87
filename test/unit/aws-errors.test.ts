import { GetObjectCommand } from "@aws-sdk/client-s3";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  classifyDetectionError,
  isNotFoundError,
  isThrottlingAwsError,
  isTransientAwsError,
} from "../../src/aws-errors.ts";
import { describeFailure } from "../../src/cli/main.ts";
import {
  AccessDeniedError,
  ControlPlaneUnavailableError,
  ResourceNotFoundError,
} from "../../src/errors.ts";
import { toNamedError } from "../../src/lambda-handler.ts";
import { readLearnedTps } from "../../src/learned-tps.ts";
import { readLease } from "../../src/lease.ts";
import { describeModel } from "../../src/model/describe.ts";
import {
  type FakeAws,
  fakeAws,
  MODEL_ARN,
  RESULTS_BUCKET,
  RESULTS_PREFIX,
  recordingLogger,
  serviceError,
} from "../support/model-fakes.ts";

let aws: FakeAws;
beforeEach(() => {
  aws = fakeAws();
});
afterEach(() => aws.restore());

function nodeError(code: string) {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:9`), { code });
}

describe("worth trying again: the SDK's own classification", () => {
  it.each([
    ["ThrottlingException", serviceError("ThrottlingException", 400), true],
    ["TooManyRequestsException", serviceError("TooManyRequestsException", 429), true],
    ["any HTTP 429", serviceError("Whatever", 429), true],
    ["InternalServerError", serviceError("InternalServerError", 500), false],
    ["ECONNRESET", nodeError("ECONNRESET"), false],
  ])("%s is transient (throttling: %s)", (_label, error, throttling) => {
    expect(isTransientAwsError(error)).toBe(true);
    expect(isThrottlingAwsError(error)).toBe(throttling);
  });

  it.each([
    ["a 4xx refusal", serviceError("ValidationException", 400)],
    ["an abort", Object.assign(new Error("aborted"), { name: "AbortError" })],
    ["a bug", new TypeError("x is undefined")],
    ["not an error", "boom"],
  ])("%s is not transient", (_label, error) => {
    expect(isTransientAwsError(error)).toBe(false);
  });
});

describe("classifying never throws", () => {
  it("whatever was thrown, with whatever cause", () => {
    const thrown = fc.oneof(
      fc.anything(),
      fc.anything().map((cause) => new Error("wrapped", { cause })),
      fc.record({ name: fc.string(), $metadata: fc.anything(), cause: fc.anything() }),
    );
    fc.assert(
      fc.property(thrown, (error) => {
        isTransientAwsError(error);
        isThrottlingAwsError(error);
        isNotFoundError(error);
        classifyDetectionError(error);
      }),
    );
    expect(isTransientAwsError(new Error("x", { cause: null }))).toBe(false);
  });
});

/**
 * Where the copies of the classification used to disagree, one answer now
 * holds everywhere. Each case failed before the copies were merged.
 */
describe("one answer where the copies disagreed", () => {
  it("a missing bucket is not a missing object (it was read as 'nothing stored yet')", async () => {
    const noBucket = serviceError("NoSuchBucket", 404);
    expect(isNotFoundError(noBucket)).toBe(false);
    expect(isNotFoundError(serviceError("NoSuchKey", 404))).toBe(true);
    expect(isNotFoundError(serviceError("NotFound", 404))).toBe(true);
    aws.s3Mock.on(GetObjectCommand).rejects(noBucket);
    await expect(
      readLearnedTps({
        s3: aws.s3,
        bucket: RESULTS_BUCKET,
        resultsPrefix: RESULTS_PREFIX,
        logger: recordingLogger(),
      }),
    ).rejects.toBe(noBucket);
  });

  it("the control plane treats throttling by HTTP 429 as the detection path does", async () => {
    const ref = { rekognition: aws.rekognition, projectVersionArn: MODEL_ARN };
    aws.model.describeErrorOnce = serviceError("TooManyRequestsException", 429);
    await expect(describeModel(ref)).rejects.toBeInstanceOf(ControlPlaneUnavailableError);
    expect(classifyDetectionError(serviceError("TooManyRequestsException", 429))).toMatchObject({
      kind: "retryable",
      throttle: true,
    });
  });

  it("rejected credentials are AccessDenied on the control plane, as in detection", async () => {
    const ref = { rekognition: aws.rekognition, projectVersionArn: MODEL_ARN };
    aws.model.describeErrorOnce = serviceError("UnrecognizedClientException", 403);
    await expect(describeModel(ref)).rejects.toBeInstanceOf(AccessDeniedError);
    expect(classifyDetectionError(serviceError("UnrecognizedClientException", 403)).kind).toBe(
      "fatal",
    );
    // The SDK retries a signature refused for clock skew; once it gives up, it is a denial.
    const skewed = serviceError(
      "InvalidSignatureException",
      403,
      "Signature expired: 20250106T020000Z",
    );
    expect(isTransientAwsError(skewed)).toBe(false);
    aws.model.describeErrorOnce = skewed;
    await expect(describeModel(ref)).rejects.toBeInstanceOf(AccessDeniedError);
    expect(classifyDetectionError(skewed).kind).toBe("fatal");
  });

  it("S3's ExpiredToken on the lease is AccessDenied, as in detection", async () => {
    aws.s3Mock.on(GetObjectCommand).rejects(serviceError("ExpiredToken", 400));
    await expect(
      readLease({ s3: aws.s3, resultsBucket: RESULTS_BUCKET, resultsPrefix: RESULTS_PREFIX }),
    ).rejects.toBeInstanceOf(AccessDeniedError);
  });

  it("a bare 403 (S3 HEAD) is fatal in detection, as it is for the lease and the plan", () => {
    expect(classifyDetectionError(serviceError("Forbidden", 403)).kind).toBe("fatal");
  });

  it("an AWS denial or missing resource no step mapped is routed by its meaning, not as Internal", () => {
    const denied = toNamedError(serviceError("AccessDeniedException", 400));
    expect(denied).toBeInstanceOf(AccessDeniedError);
    expect(denied.message).toContain("AccessDeniedException");
    expect(toNamedError(serviceError("ResourceNotFoundException", 400))).toBeInstanceOf(
      ResourceNotFoundError,
    );
    expect(toNamedError(new TypeError("x is undefined")).name).toBe("Internal");
  });

  it("the CLI names expired and rejected credentials whichever service said so", () => {
    expect(describeFailure(serviceError("ExpiredToken", 400)).message).toMatch(
      /credentials have expired/,
    );
    expect(describeFailure(serviceError("ExpiredTokenException", 403)).message).toMatch(
      /credentials have expired/,
    );
    expect(describeFailure(serviceError("InvalidClientTokenId", 403)).message).toMatch(
      /rejected the credentials/,
    );
  });
});
