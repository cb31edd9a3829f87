/**
 * Every error the workflow can route on. The `name` is the contract with the
 * state machine: Step Functions matches a Lambda's `errorType` (our `name`) in
 * `Catch`/`Retry`, so names are stable strings, one class each, all here.
 */

export class RunnerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name.replace(/Error$/, "");
  }
}

/** The execution input or the environment config is invalid. Nothing was started. */
export class InvalidRunInputError extends RunnerError {}

/** Another execution of the workflow is running; this one refused to touch the model. */
export class ConcurrentExecutionError extends RunnerError {}

/** The model version is in a state the job cannot use (FAILED, DELETING, EXPIRED, ...). */
export class ModelNotUsableError extends RunnerError {}

/** StartProjectVersion was accepted but the model ended in FAILED. */
export class ModelStartFailedError extends RunnerError {}

/** StartProjectVersion was refused: the inference units asked for exceed the account's quota. */
export class InferenceUnitQuotaExceededError extends RunnerError {}

/** The model did not reach RUNNING before the deadline. */
export class ModelStartTimeoutError extends RunnerError {}

/** The model stopped under our feet (ResourceNotReadyException during detection). */
export class ModelNotReadyError extends RunnerError {}

/** The job's role may not call Rekognition or S3 as configured. */
export class AccessDeniedError extends RunnerError {}

/** The project version, bucket or manifest named by the input does not exist. */
export class ResourceNotFoundError extends RunnerError {}

/**
 * The model's control plane (DescribeProjects, DescribeProjectVersions,
 * StartProjectVersion, StopProjectVersion) kept answering ThrottlingException
 * or a 5xx after the SDK's retries. Nothing is known to be wrong with the
 * request: the step is retried by the workflow.
 */
export class ControlPlaneUnavailableError extends RunnerError {}

/** Retryable calls kept failing until the batch's deadline. */
export class RetriesExhaustedError extends RunnerError {}

/**
 * The batch stopped early (abort signal before the Lambda timeout) with items
 * left undone. Thrown after every finished result is written, so the Map's
 * Retry re-runs the batch and only the undone items are analysed.
 */
export class BatchIncompleteError extends RunnerError {}

/** Unexpected failure inside our own code: a bug, never an input problem. */
export class InternalError extends RunnerError {}

/**
 * Each class's own `name` is the routed name too. The Lambda runtime reports
 * `error.name` as the errorType, but `osls invoke local` reports
 * `error.constructor.name`: with the TypeScript names it printed
 * `InvalidRunInputError` where the workflow routes on `InvalidRunInput`.
 * (test/unit/error-names.test.ts fails for a class missing from this list.)
 */
for (const errorClass of [
  InvalidRunInputError,
  ConcurrentExecutionError,
  ModelNotUsableError,
  ModelStartFailedError,
  InferenceUnitQuotaExceededError,
  ModelStartTimeoutError,
  ModelNotReadyError,
  AccessDeniedError,
  ResourceNotFoundError,
  RetriesExhaustedError,
  BatchIncompleteError,
  InternalError,
  ControlPlaneUnavailableError,
]) {
  Object.defineProperty(errorClass, "name", { value: errorClass.name.replace(/Error$/, "") });
}

/** Names of every error class above, for tests that check `ErrorEquals` in the state machine. */
export const RUNNER_ERROR_NAMES = [
  "InvalidRunInput",
  "ConcurrentExecution",
  "ModelNotUsable",
  "ModelStartFailed",
  "InferenceUnitQuotaExceeded",
  "ModelStartTimeout",
  "ModelNotReady",
  "AccessDenied",
  "ResourceNotFound",
  "ControlPlaneUnavailable",
  "RetriesExhausted",
  "BatchIncomplete",
  "Internal",
] as const;

export type RunnerErrorName = (typeof RUNNER_ERROR_NAMES)[number];

/**
 * Errors Lambda itself reports when a function dies rather than throws, as
 * Step Functions sees them: a timeout (`Sandbox.Timedout`), a Node.js process
 * out of memory (`Runtime.OutOfMemory`) or killed (`Runtime.ExitError`).
 */
export const LAMBDA_RUNTIME_ERROR_NAMES = [
  "Sandbox.Timedout",
  "Runtime.OutOfMemory",
  "Runtime.ExitError",
] as const;

/**
 * AWS's recommended retry list for a Task that invokes a Lambda: transient
 * errors of the Lambda service itself, never of the function's code.
 */
export const LAMBDA_SERVICE_ERROR_NAMES = [
  "Lambda.ServiceException",
  "Lambda.AWSLambdaException",
  "Lambda.SdkClientException",
  "Lambda.TooManyRequestsException",
  "Lambda.ClientExecutionTimeoutException",
] as const;
