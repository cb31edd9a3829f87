import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import {
  getObjectText,
  parseJson,
  parseJsonLines as parseJsonLinesText,
} from "../../../src/s3-json.ts";
import { isObject, type JsonValue, WorkflowDefinitionError } from "./asl.ts";
import { TaskFailure } from "./lambda-invoker.ts";

/**
 * ItemReader: the Distributed Map's items from S3, as AWS reads them: a JSON
 * array or JSON Lines object (`s3:getObject`), or the objects under a prefix
 * (`s3:listObjectsV2`, one item per object).
 */

export const GET_OBJECT = "arn:aws:states:::s3:getObject";
export const LIST_OBJECTS_V2 = "arn:aws:states:::s3:listObjectsV2";
const SUPPORTED_INPUT_TYPES = ["JSON", "JSONL"];

/** Rejects, before the run starts, reader settings this engine does not reproduce. */
export function checkItemReader(stateName: string, reader: unknown): void {
  if (!isObject(reader))
    throw new WorkflowDefinitionError(`Map "${stateName}": ItemReader must be an object`);
  const config = isObject(reader.ReaderConfig) ? reader.ReaderConfig : {};
  if (reader.Resource === GET_OBJECT) {
    const inputType = config.InputType ?? "JSON";
    if (typeof inputType !== "string" || !SUPPORTED_INPUT_TYPES.includes(inputType)) {
      throw new WorkflowDefinitionError(
        `Map "${stateName}": ItemReader InputType ${String(inputType)} is not supported locally (JSON, JSONL)`,
      );
    }
    return;
  }
  if (reader.Resource === LIST_OBJECTS_V2) return;
  throw new WorkflowDefinitionError(
    `Map "${stateName}": ItemReader Resource ${String(reader.Resource)} is not supported locally (${GET_OBJECT}, ${LIST_OBJECTS_V2})`,
  );
}

export interface ReadRequest {
  resource: string;
  inputType: string;
  /** Parameters already evaluated against the state input. */
  parameters: Record<string, unknown>;
  maxItems?: number;
  signal: AbortSignal;
}

/** Reads every item; S3 or parse failures fail the Map with `States.ItemReaderFailed`. */
export async function readItems(s3: S3Client, request: ReadRequest): Promise<JsonValue[]> {
  let items: JsonValue[];
  try {
    items =
      request.resource === LIST_OBJECTS_V2
        ? await listObjects(s3, request)
        : await getObjectItems(s3, request);
  } catch (error) {
    if (error instanceof TaskFailure) throw error;
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new TaskFailure("States.ItemReaderFailed", `Reading items failed: ${message}`);
  }
  return request.maxItems === undefined ? items : items.slice(0, request.maxItems);
}

function stringParameter(parameters: Record<string, unknown>, name: string): string {
  const value = parameters[name];
  if (typeof value !== "string" || value === "") {
    throw new TaskFailure(
      "States.ItemReaderFailed",
      `ItemReader Parameters.${name} must be a non-empty string`,
    );
  }
  return value;
}

async function getObjectItems(s3: S3Client, request: ReadRequest): Promise<JsonValue[]> {
  const Bucket = stringParameter(request.parameters, "Bucket");
  const Key = stringParameter(request.parameters, "Key");
  const text = await getObjectText({ s3, bucket: Bucket, key: Key, signal: request.signal });
  if (request.inputType === "JSONL") return parseJsonLines(text, `s3://${Bucket}/${Key}`);
  const parsed = readerFailure(() => parseJson(text, `s3://${Bucket}/${Key}`)) as JsonValue;
  if (!Array.isArray(parsed)) {
    throw new TaskFailure(
      "States.ItemReaderFailed",
      `s3://${Bucket}/${Key} does not hold a JSON array`,
    );
  }
  return parsed;
}

/** A parse error as the Map state reports it: States.ItemReaderFailed. */
function readerFailure<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new TaskFailure("States.ItemReaderFailed", (error as Error).message);
  }
}

/** JSON Lines: one JSON value per line; blank lines are skipped. */
export function parseJsonLines(text: string, where: string): JsonValue[] {
  return readerFailure(() => parseJsonLinesText(text, where)) as JsonValue[];
}

/** One item per object, shaped as AWS shapes them (LastModified in epoch seconds). */
async function listObjects(s3: S3Client, request: ReadRequest): Promise<JsonValue[]> {
  const Bucket = stringParameter(request.parameters, "Bucket");
  const Prefix =
    typeof request.parameters.Prefix === "string" ? request.parameters.Prefix : undefined;
  const items: JsonValue[] = [];
  let ContinuationToken: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket, Prefix, ContinuationToken }), {
      abortSignal: request.signal,
    });
    for (const object of page.Contents ?? []) {
      items.push({
        Etag: object.ETag ?? "",
        Key: object.Key ?? "",
        LastModified: object.LastModified ? Math.floor(object.LastModified.getTime() / 1000) : 0,
        Size: object.Size ?? 0,
        StorageClass: object.StorageClass ?? "STANDARD",
      });
    }
    ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (ContinuationToken);
  return items;
}
