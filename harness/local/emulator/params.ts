import { invalidParameter } from "./api-error.ts";

/**
 * Readers for request parameters that fail with InvalidParameterException
 * naming the field, the way Rekognition's validation does.
 */
export type Params = Record<string, unknown>;

export function requireString(params: Params, field: string, pattern?: RegExp): string {
  const value = params[field];
  if (typeof value !== "string" || value.length === 0) {
    throw invalidParameter(field, "is required and must be a non-empty string.");
  }
  if (pattern && !pattern.test(value)) {
    throw invalidParameter(field, `must match the pattern ${pattern.source}.`);
  }
  return value;
}

export function optionalString(params: Params, field: string): string | undefined {
  const value = params[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw invalidParameter(field, "must be a string.");
  return value;
}

export function optionalInteger(
  params: Params,
  field: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const value = params[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `between ${min} and ${max}`;
    throw invalidParameter(field, `must be an integer ${range}.`);
  }
  return value;
}

export function requireInteger(params: Params, field: string, min: number, max?: number): number {
  const value = optionalInteger(params, field, min, max);
  if (value === undefined) throw invalidParameter(field, "is required.");
  return value;
}

export function optionalNumber(
  params: Params,
  field: string,
  min: number,
  max: number,
): number | undefined {
  const value = params[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
    throw invalidParameter(field, `must be a number between ${min} and ${max}.`);
  }
  return value;
}

export function optionalStringList(
  params: Params,
  field: string,
  minItems: number,
  maxItems: number,
): string[] | undefined {
  const value = params[field];
  if (value === undefined || value === null) return undefined;
  if (
    !Array.isArray(value) ||
    value.length < minItems ||
    value.length > maxItems ||
    !value.every((item) => typeof item === "string" && item.length > 0)
  ) {
    throw invalidParameter(field, `must be a list of ${minItems}-${maxItems} non-empty strings.`);
  }
  return value as string[];
}

export function optionalObject(params: Params, field: string): Params | undefined {
  const value = params[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "object" || Array.isArray(value)) {
    throw invalidParameter(field, "must be an object.");
  }
  return value as Params;
}

/** Pagination token: the offset into the result list, opaque to clients. */
export function decodeNextToken(token: string | undefined, field = "NextToken"): number {
  if (token === undefined) return 0;
  const offset = Number(
    Buffer.from(token, "base64url")
      .toString("utf8")
      .replace(/^offset:/, ""),
  );
  if (!Number.isInteger(offset) || offset < 0) throw invalidParameter(field, "is not valid.");
  return offset;
}

export function encodeNextToken(offset: number): string {
  return Buffer.from(`offset:${offset}`, "utf8").toString("base64url");
}
