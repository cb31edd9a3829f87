/**
 * What a failed Rekognition control-plane call means for the model's
 * lifecycle: whether it certainly changed nothing, whether it is worth
 * retrying, and the named error the workflow routes on.
 */
import { awsErrorName, isServiceRejection, isTransientAwsError } from "../aws-errors.ts";
import {
  AccessDeniedError,
  ControlPlaneUnavailableError,
  ResourceNotFoundError,
} from "../errors.ts";

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
  if (awsErrorName(error) === "LimitExceededException") return true;
  return sdkAttempts(error) <= 1;
}

/** How many attempts the SDK made for a failed call (1 when it does not say). */
export function sdkAttempts(error: unknown): number {
  if (typeof error !== "object" || error === null) return 1;
  const attempts = (error as { $metadata?: { attempts?: unknown } }).$metadata?.attempts;
  return typeof attempts === "number" && attempts >= 1 ? attempts : 1;
}

/** Throttling, 5xx or a dropped connection, before or after it was named ControlPlaneUnavailable. */
export function isTransientControlPlaneError(error: unknown): boolean {
  return error instanceof ControlPlaneUnavailableError || isTransientAwsError(error);
}

/**
 * Maps the Rekognition errors the workflow routes on to our named errors:
 * AccessDenied, ResourceNotFound, and ControlPlaneUnavailable for throttling
 * and 5xx answers that outlasted the SDK's retries (so the workflow can retry
 * the step instead of seeing `Internal`). Others are returned unchanged.
 */
export function mapRekognitionError(
  error: unknown,
  projectVersionArn: string,
  action: string,
): unknown {
  const name = awsErrorName(error);
  if (isTransientAwsError(error)) {
    const attempts = sdkAttempts(error);
    return new ControlPlaneUnavailableError(
      `could not ${action} model ${projectVersionArn}: ${name || "error"} after ${attempts} attempt${attempts === 1 ? "" : "s"}` +
        ` (${errorMessage(error)}); the control plane is throttling or failing, try again later`,
      { cause: error },
    );
  }
  if (name === "AccessDeniedException") {
    return new AccessDeniedError(
      `not allowed to ${action} model ${projectVersionArn}: ${errorMessage(error)}`,
      { cause: error },
    );
  }
  if (name === "ResourceNotFoundException") {
    return new ResourceNotFoundError(`model version ${projectVersionArn} not found`, {
      cause: error,
    });
  }
  return error;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
