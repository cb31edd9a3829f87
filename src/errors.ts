/**
 * Every error the workflow can route on. Step Functions matches a Lambda's
 * `errorType` in `Catch`/`Retry`: AWS's Lambda runtime reports `error.name`,
 * `osls invoke local` reports `error.constructor.name`. So each class states
 * its routed name as a literal static `name`, which is both (a string literal
 * survives minification and bundling, where a class's own name does not), and
 * a handler tells ours from anything else by `instanceof RunnerError`.
 */

/** The base of every error the workflow routes on; never thrown itself. */
export abstract class RunnerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    // The subclass's static literal, e.g. "ModelStartFailed".
    this.name = new.target.name;
  }
}

/** The execution input or the environment config is invalid. Nothing was started. */
export class InvalidRunInputError extends RunnerError {
  static override readonly name = "InvalidRunInput";
}

/** Another execution of the workflow is running; this one refused to touch the model. */
export class ConcurrentExecutionError extends RunnerError {
  static override readonly name = "ConcurrentExecution";
}

/** The model version is in a state the job cannot use (FAILED, DELETING, EXPIRED, ...). */
export class ModelNotUsableError extends RunnerError {
  static override readonly name = "ModelNotUsable";
}

/** StartProjectVersion was accepted but the model ended in FAILED. */
export class ModelStartFailedError extends RunnerError {
  static override readonly name = "ModelStartFailed";
}

/** StartProjectVersion was refused: the inference units asked for exceed the account's quota. */
export class InferenceUnitQuotaExceededError extends RunnerError {
  static override readonly name = "InferenceUnitQuotaExceeded";
}

/** The model did not reach RUNNING before the deadline. */
export class ModelStartTimeoutError extends RunnerError {
  static override readonly name = "ModelStartTimeout";
}

/** The model stopped under our feet (ResourceNotReadyException during detection). */
export class ModelNotReadyError extends RunnerError {
  static override readonly name = "ModelNotReady";
}

/** The job's role may not call Rekognition or S3 as configured. */
export class AccessDeniedError extends RunnerError {
  static override readonly name = "AccessDenied";
}

/** The project version, bucket or manifest named by the input does not exist. */
export class ResourceNotFoundError extends RunnerError {
  static override readonly name = "ResourceNotFound";
}

/**
 * The model's control plane (DescribeProjects, DescribeProjectVersions,
 * StartProjectVersion, StopProjectVersion) kept answering ThrottlingException
 * or a 5xx after the SDK's retries. Nothing is known to be wrong with the
 * request: the step is retried by the workflow.
 */
export class ControlPlaneUnavailableError extends RunnerError {
  static override readonly name = "ControlPlaneUnavailable";
}

/** Retryable calls kept failing until the batch's deadline. */
export class RetriesExhaustedError extends RunnerError {
  static override readonly name = "RetriesExhausted";
}

/**
 * The batch stopped early (abort signal before the Lambda timeout) with items
 * left undone. Thrown after every finished result is written, so the Map's
 * Retry re-runs the batch and only the undone items are analysed.
 */
export class BatchIncompleteError extends RunnerError {
  static override readonly name = "BatchIncomplete";
}

/** Unexpected failure inside our own code: a bug, never an input problem. */
export class InternalError extends RunnerError {
  static override readonly name = "Internal";
}

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
