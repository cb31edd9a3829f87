import { isObject, localArn, WorkflowDefinitionError } from "./asl.ts";

/**
 * Which local function a Task calls. The deployed definition names Lambdas by
 * CloudFormation (`Fn::GetAtt: [PlanLambdaFunction, Arn]`); locally each one is
 * bound to a handler found by that logical id or by the function's name
 * (`plan`), and an unbound Task is an error before anything runs.
 */

/** What a handler receives as its second argument: the parts of the Lambda context handlers use. */
export interface LocalLambdaContext {
  awsRequestId: string;
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  logGroupName: string;
  logStreamName: string;
  callbackWaitsForEmptyEventLoop: boolean;
  getRemainingTimeInMillis(): number;
  /** Aborted when the execution is aborted or the function's timeout is reached. */
  signal: AbortSignal;
}

/** A Lambda-like handler: `(event, context)`; throws to fail the Task (`error.name` is the error). */
export type LocalHandler = (event: never, context: LocalLambdaContext) => unknown;

export interface HandlerBinding {
  handler: LocalHandler;
  /** The function's configured timeout; default from the run options. */
  timeoutSeconds?: number;
}

/** Handlers keyed by logical id (`PlanLambdaFunction`) or function name (`plan`). */
export type HandlerMap = Record<string, LocalHandler | HandlerBinding>;

export interface FunctionRef {
  /** As written in the definition, for messages. */
  written: string;
  logicalId?: string;
  functionName: string;
}

export interface BoundFunction {
  ref: FunctionRef;
  /** The key the handler was found under. */
  boundAs: string;
  binding: HandlerBinding;
  arn: string;
}

const LOGICAL_ID_SUFFIX = "LambdaFunction";

/**
 * The Serverless Framework's logical id back to the function name:
 * `ProcessBatchLambdaFunction` -> `processBatch`, `ProcessDashbatchLambdaFunction`
 * -> `process-batch` (it spells `-` as `Dash` and `_` as `Underscore`).
 */
export function functionNameFromLogicalId(logicalId: string): string {
  const base = logicalId.endsWith(LOGICAL_ID_SUFFIX)
    ? logicalId.slice(0, -LOGICAL_ID_SUFFIX.length)
    : logicalId;
  const name = base.replaceAll("Dash", "-").replaceAll("Underscore", "_");
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/**
 * Reads a function reference: `{ "Fn::GetAtt": [Id, Arn] }`, `{ "Fn::GetAtt": "Id.Arn" }`,
 * a Lambda ARN (`arn:aws:lambda:...:function:name[:alias]`) or a bare function name.
 * Returns undefined for anything else (e.g. a service integration ARN).
 */
export function readFunctionRef(value: unknown): FunctionRef | undefined {
  if (isObject(value) && "Fn::GetAtt" in value) {
    const getAtt = value["Fn::GetAtt"];
    const parts = typeof getAtt === "string" ? getAtt.split(".") : getAtt;
    if (!Array.isArray(parts) || typeof parts[0] !== "string") return undefined;
    const logicalId = parts[0];
    return {
      written: `Fn::GetAtt ${logicalId}`,
      logicalId,
      functionName: functionNameFromLogicalId(logicalId),
    };
  }
  if (typeof value !== "string") return undefined;
  const arnMatch = /^arn:aws[\w-]*:lambda:[^:]*:[^:]*:function:([^:]+)/.exec(value);
  if (arnMatch?.[1]) return { written: value, functionName: arnMatch[1] };
  if (!value.startsWith("arn:")) return { written: value, functionName: value };
  return undefined;
}

function asBinding(entry: LocalHandler | HandlerBinding): HandlerBinding {
  return typeof entry === "function" ? { handler: entry } : entry;
}

/** Finds the handler for a function reference, or throws naming the state and what was tried. */
export function bindFunction(
  stateName: string,
  ref: FunctionRef,
  handlers: HandlerMap,
): BoundFunction {
  const candidates = [ref.logicalId, ref.functionName].filter((key): key is string => !!key);
  for (const key of candidates) {
    const entry = Object.hasOwn(handlers, key) ? handlers[key] : undefined;
    if (entry) {
      return {
        ref,
        boundAs: key,
        binding: asBinding(entry),
        arn: localArn.lambda(ref.functionName),
      };
    }
  }
  const known = Object.keys(handlers).sort().join(", ") || "(none)";
  throw new WorkflowDefinitionError(
    `Task "${stateName}" calls ${ref.written} but no local handler is bound to ${candidates
      .map((key) => `"${key}"`)
      .join(" or ")}; bound handlers: ${known}`,
  );
}

/** Normalises a handler map entry (also used for service-integration handlers). */
export function toBinding(entry: LocalHandler | HandlerBinding): HandlerBinding {
  return asBinding(entry);
}
