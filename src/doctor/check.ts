/**
 * One preflight check's outcome. Every check says what it found, a failure
 * says how to fix it, and a skipped check says why it could not run.
 */

export type CheckStatus = "pass" | "fail" | "skip";

export interface CheckResult {
  /** Stable name for machines (`--json`): "credentials", "model-version", ... */
  id: string;
  /** The label shown on the check's line. */
  title: string;
  status: CheckStatus;
  /** What was found (pass, fail) or why the check did not run (skip). */
  detail: string;
  /** A concrete next step; present on every failure. */
  fix?: string;
  /** What a passing check does not prove, when that matters. */
  limits?: string;
}

export const pass = (id: string, title: string, detail: string, limits?: string): CheckResult => ({
  id,
  title,
  status: "pass",
  detail,
  ...(limits ? { limits } : {}),
});

export const fail = (id: string, title: string, detail: string, fix: string): CheckResult => ({
  id,
  title,
  status: "fail",
  detail,
  fix,
});

export const skip = (id: string, title: string, why: string): CheckResult => ({
  id,
  title,
  status: "skip",
  detail: why,
});

/** An SDK error as one line: `Name: message`. */
export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const message = error.message || "(no message)";
  return error.name && error.name !== "Error" && !message.startsWith(error.name)
    ? `${error.name}: ${message}`
    : message;
}
