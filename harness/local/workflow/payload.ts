import "./promise-with-resolvers.ts";
import { StateMachine } from "aws-local-stepfunctions";
import type { JsonValue } from "./asl.ts";

/**
 * JSONPath payload templates (`"key.$": "$.path"`, intrinsic functions,
 * `$$` context) evaluated by aws-local-stepfunctions itself, through a
 * one-state Pass machine, so the Distributed Map adapter reads paths exactly
 * as the rest of the engine does.
 */

export type ContextObject = Record<string, unknown>;

async function passThrough(
  parameters: JsonValue,
  input: JsonValue,
  context: ContextObject,
): Promise<JsonValue> {
  const machine = new StateMachine(
    {
      StartAt: "Evaluate",
      States: { Evaluate: { Type: "Pass", Parameters: parameters, End: true } },
    },
    { validationOptions: { noValidate: true } },
  );
  try {
    return (await machine.run(input, { context }).result) as JsonValue;
  } catch (error) {
    // ExecutionError wraps the path error (e.g. States.Runtime for a missing field).
    throw error instanceof Error && error.cause instanceof Error ? error.cause : error;
  }
}

/** Evaluates a payload template (`Parameters`, `ItemSelector`, `BatchInput`) against `input`. */
export async function evaluateTemplate(
  template: JsonValue,
  input: JsonValue,
  context: ContextObject,
): Promise<JsonValue> {
  if (typeof template !== "object" || template === null) return template;
  return passThrough(template, input, context);
}

/** Evaluates one reference path (`$.plan.sizing.workers`, `$$.Execution.Id`). */
export async function evaluatePath(
  path: string,
  input: JsonValue,
  context: ContextObject,
): Promise<JsonValue> {
  const result = await passThrough({ "value.$": path }, input, context);
  return (result as { value: JsonValue }).value;
}
