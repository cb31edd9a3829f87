/**
 * What a failed Rekognition control-plane call means for the model's
 * lifecycle, as the named error the workflow routes on. Reading the error
 * itself (transient? denied? missing? did the call have no effect?) is
 * `aws-errors.ts`'s; this adds the lifecycle's wording.
 */
import {
  accessOrExistenceError,
  awsErrorName,
  isTransientAwsError,
  sdkAttempts,
} from "../aws-errors.ts";
import { ControlPlaneUnavailableError } from "../errors.ts";

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
  return (
    accessOrExistenceError(error, {
      denied: `not allowed to ${action} model ${projectVersionArn}: ${errorMessage(error)}`,
      missing: `model version ${projectVersionArn} not found`,
    }) ?? error
  );
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
