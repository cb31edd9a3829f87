import { readFile } from "node:fs/promises";
import { parse, type Tags } from "yaml";

/**
 * The state machine definition as data: loose types (the definition is
 * validated by asl-validator before it runs), the YAML loader, and the local
 * pseudo-ARNs that stand in for AWS resources.
 */

export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** One state, as written; fields are read by name where needed. */
export type AslState = { Type: string } & Record<string, unknown>;

export interface AslDefinition {
  StartAt: string;
  States: Record<string, AslState>;
  Comment?: string;
  TimeoutSeconds?: number;
  [field: string]: unknown;
}

/** The definition cannot run locally as written (unbound Task, unsupported feature, invalid ASL). */
export class WorkflowDefinitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WorkflowDefinitionError";
  }
}

export const LOCAL_REGION = "us-east-1";
export const LOCAL_ACCOUNT = "000000000000";

export const localArn = {
  lambda: (functionName: string) =>
    `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${functionName}`,
  stateMachine: (name: string) =>
    `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${name}`,
  execution: (stateMachineName: string, executionName: string) =>
    `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:${stateMachineName}:${executionName}`,
  mapRun: (stateMachineName: string, label: string, mapRunId: string) =>
    `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:mapRun:${stateMachineName}/${label}:${mapRunId}`,
};

/** CloudFormation short forms, in case a definition uses them instead of `Fn::GetAtt:`. */
const cloudFormationTags: Tags = [
  {
    tag: "!GetAtt",
    resolve: (value: string) => ({ "Fn::GetAtt": value }),
  },
  {
    tag: "!GetAtt",
    collection: "seq",
    resolve: (value: unknown) => ({ "Fn::GetAtt": (value as { toJSON(): unknown }).toJSON() }),
  },
  { tag: "!Ref", resolve: (value: string) => ({ Ref: value }) },
] as Tags;

/** Parses an ASL definition written in YAML (or JSON, a subset of YAML). */
export function parseDefinition(text: string): AslDefinition {
  const parsed: unknown = parse(text, { customTags: cloudFormationTags });
  if (!isObject(parsed) || typeof parsed.StartAt !== "string" || !isObject(parsed.States)) {
    throw new WorkflowDefinitionError("A state machine definition needs StartAt and States");
  }
  return parsed as unknown as AslDefinition;
}

/** Reads and parses a definition file such as `statemachines/weekly-batch.asl.yml`. */
export async function loadDefinition(path: string): Promise<AslDefinition> {
  return parseDefinition(await readFile(path, "utf8"));
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A deep copy of plain JSON-like data (definitions are transformed on copies). */
export function cloneJson<T>(value: T): T {
  return structuredClone(value);
}

/** True for a Map state whose ItemProcessor runs in DISTRIBUTED mode. */
export function isDistributedMap(state: AslState): boolean {
  if (state.Type !== "Map") return false;
  const processor = state.ItemProcessor;
  return (
    isObject(processor) &&
    isObject(processor.ProcessorConfig) &&
    processor.ProcessorConfig.Mode === "DISTRIBUTED"
  );
}
