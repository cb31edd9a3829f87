import { describe, expect, it } from "vitest";
import { causeMessage, parseLambdaErrorCause, readableCause } from "../../src/failure-cause.ts";

/**
 * Causes as Step Functions records them on AWS (Catch's `$.error.Cause`), and
 * the plain-text causes of Pass states, Step Functions' own errors and the
 * local engine.
 */

/** A Node.js Lambda that threw one of our named errors: what Catch records. */
const thrownByHandler = JSON.stringify({
  errorType: "ControlPlaneUnavailable",
  errorMessage:
    "could not start model arn:aws:rekognition:us-east-1:123456789012:project/shop/version/v1/1767225600001: ThrottlingException after 5 attempts",
  trace: [
    "ControlPlaneUnavailable: could not start model arn:aws:rekognition:us-east-1:123456789012:project/shop/version/v1/1767225600001: ThrottlingException after 5 attempts",
    "    at mapRekognitionError (/var/task/index.js:1:2345)",
    "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
  ],
});

/** Lambda's own timeout, as the Lambda service reports it. */
const timedOut = JSON.stringify({
  errorType: "Sandbox.Timedout",
  errorMessage:
    "RequestId: 9f1c0e9a-3b7e-4f6e-a1a4-1b2c3d4e5f60 Error: Task timed out after 900.00 seconds",
});

/** A Node.js process out of memory. */
const outOfMemory = JSON.stringify({
  errorType: "Runtime.OutOfMemory",
  errorMessage:
    "RequestId: 0d0b6a3e-7c0f-4d7b-9c55-2f3a4b5c6d7e Error: Runtime exited with error: signal: killed",
});

/** Lambda.Unknown: the payload is wrapped in a sentence. */
const unknown =
  'The cause could not be determined because Lambda did not return an error type. Returned payload: {"errorMessage":"2026-01-13T00:58:08.879Z 28931c40-79b9-45eb-8e62-5a126760693b Task timed out after 60.06 seconds"}';

describe("readableCause", () => {
  it("shows a thrown error as errorType: errorMessage, without the trace", () => {
    const text = readableCause(thrownByHandler);
    expect(text).toBe(
      "ControlPlaneUnavailable: could not start model arn:aws:rekognition:us-east-1:123456789012:project/shop/version/v1/1767225600001: ThrottlingException after 5 attempts",
    );
    expect(text).not.toContain("at mapRekognitionError");
  });

  it("shows Lambda's own failures the same way", () => {
    expect(readableCause(timedOut)).toBe(
      "Sandbox.Timedout: RequestId: 9f1c0e9a-3b7e-4f6e-a1a4-1b2c3d4e5f60 Error: Task timed out after 900.00 seconds",
    );
    expect(readableCause(outOfMemory)).toMatch(
      /^Runtime\.OutOfMemory: RequestId: .* signal: killed$/,
    );
  });

  it("unwraps the payload of Lambda.Unknown", () => {
    expect(readableCause(unknown)).toBe(
      "2026-01-13T00:58:08.879Z 28931c40-79b9-45eb-8e62-5a126760693b Task timed out after 60.06 seconds",
    );
  });

  it("does not repeat a type the message already starts with", () => {
    const cause = JSON.stringify({
      errorType: "Internal",
      errorMessage: "Internal: TypeError: x is undefined",
    });
    expect(readableCause(cause)).toBe("Internal: TypeError: x is undefined");
  });

  it("keeps a plain-text cause as it is (Pass states, Step Functions' own errors, the local engine)", () => {
    expect(readableCause("model arn:... still STARTING after 40 checks (1200 s allowed)")).toBe(
      "model arn:... still STARTING after 40 checks (1200 s allowed)",
    );
    expect(readableCause("The specified tolerated failure threshold was exceeded")).toBe(
      "The specified tolerated failure threshold was exceeded",
    );
  });

  it("keeps JSON that is not a Lambda error, and says nothing for no cause", () => {
    expect(readableCause('{"foo":1}')).toBe('{"foo":1}');
    expect(readableCause("[1,2]")).toBe("[1,2]");
    expect(readableCause("{not json")).toBe("{not json");
    expect(readableCause(undefined)).toBe("");
    expect(readableCause("")).toBe("");
  });
});

describe("causeMessage and parseLambdaErrorCause", () => {
  it("gives only the message where the error name is shown beside it", () => {
    expect(causeMessage(timedOut)).toBe(
      "RequestId: 9f1c0e9a-3b7e-4f6e-a1a4-1b2c3d4e5f60 Error: Task timed out after 900.00 seconds",
    );
    expect(causeMessage("plain")).toBe("plain");
  });

  it("parses the type and message, or nothing", () => {
    expect(parseLambdaErrorCause(outOfMemory)).toEqual({
      errorType: "Runtime.OutOfMemory",
      errorMessage: expect.stringContaining("signal: killed"),
    });
    expect(parseLambdaErrorCause("plain")).toBeUndefined();
  });
});
