/**
 * An error the emulator answers with, shaped like Rekognition's: the `name`
 * becomes the body's `__type` (which the SDK turns into `error.name`), the
 * status is 400 for client faults and 500 for server faults.
 */
export class ApiError extends Error {
  readonly status: number;

  constructor(name: string, message: string, status = 400) {
    super(message);
    this.name = name;
    this.status = status;
  }
}

/** A parameter failed validation; the message names the field. */
export function invalidParameter(field: string, problem: string): ApiError {
  return new ApiError("InvalidParameterException", `${field} ${problem}`);
}

export function resourceNotFound(what: string): ApiError {
  return new ApiError("ResourceNotFoundException", `The resource ${what} cannot be found.`);
}

export function resourceInUse(message: string): ApiError {
  return new ApiError("ResourceInUseException", message);
}
