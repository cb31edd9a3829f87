/**
 * A Step Functions failure's `Cause` in words. On AWS, when a Lambda throws,
 * the Cause that Catch records (`$.error.Cause`) is the Lambda's error as JSON,
 * `{"errorMessage","errorType","trace"}`, stack trace included; Lambda's own
 * failures (`Sandbox.Timedout`, `Runtime.OutOfMemory`) have the same shape
 * without a trace, and `Lambda.Unknown` wraps the function's payload in a
 * sentence. Elsewhere (a Pass state's Cause, the local engine, Step
 * Functions' own errors) the Cause is plain text. Every reader of a cause
 * (the failure path, the alert, the report, the command line) goes through
 * here, so all of them show `errorType: errorMessage` and never a trace.
 */

/** The parts of a Lambda error's JSON Cause that are worth showing. */
export interface LambdaErrorCause {
  errorType?: string;
  errorMessage?: string;
}

/** `{"errorType","errorMessage",...}` parsed from a Cause, or undefined when it is not that. */
export function parseLambdaErrorCause(
  cause: string | undefined | null,
): LambdaErrorCause | undefined {
  const text = cause?.trim();
  if (!text) return undefined;
  const direct = lambdaErrorFrom(text);
  if (direct) return direct;
  // Lambda.Unknown: "The cause could not be determined because Lambda did not
  // return an error type. Returned payload: {...}".
  const payload = /Returned payload: (\{[\s\S]*\})\s*$/.exec(text)?.[1];
  return payload ? lambdaErrorFrom(payload) : undefined;
}

/**
 * The cause to show: `errorType: errorMessage` for a Lambda's JSON error
 * (the type is left out when the message already starts with it), the text
 * itself otherwise, "" for none.
 */
export function readableCause(cause: string | undefined | null): string {
  const parsed = parseLambdaErrorCause(cause);
  if (!parsed) return cause?.trim() ?? "";
  const { errorType, errorMessage } = parsed;
  if (errorType && errorMessage) {
    return errorMessage.startsWith(`${errorType}:`)
      ? errorMessage
      : `${errorType}: ${errorMessage}`;
  }
  return errorMessage ?? errorType ?? "";
}

/** Only the message, for places that show the error name beside it already. */
export function causeMessage(cause: string | undefined | null): string {
  const parsed = parseLambdaErrorCause(cause);
  return parsed?.errorMessage ?? readableCause(cause);
}

function lambdaErrorFrom(text: string): LambdaErrorCause | undefined {
  if (!text.startsWith("{")) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const { errorType, errorMessage } = value as Record<string, unknown>;
  const type = typeof errorType === "string" && errorType !== "" ? errorType : undefined;
  const message =
    typeof errorMessage === "string" && errorMessage !== "" ? errorMessage : undefined;
  if (!type && !message) return undefined;
  return { ...(type ? { errorType: type } : {}), ...(message ? { errorMessage: message } : {}) };
}
