import type { S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { causeMessage } from "../failure-cause.ts";
import { getObjectJson, getObjectText, parseJson, parseJsonLines } from "../s3-json.ts";
import type { BatchOutput } from "../shapes.ts";

/** Where the Distributed Map's ResultWriter put its manifest (the Map state's output). */
export interface ResultWriterDetails {
  Bucket: string;
  /** Key of `<prefix>/<mapRunId>/manifest.json`. */
  Key: string;
}

/** A batch whose child execution did not succeed: its items have no outcome from this run. */
export interface FailedBatch {
  /** The child execution's name (unique within the map run). */
  name: string;
  status: "FAILED" | "PENDING" | "MALFORMED";
  error: string;
  /** A readable message: the Lambda's `errorMessage` when the cause is its JSON error. */
  cause: string;
  /** Number of items the batch held; `undefined` when the child's input was not exported. */
  items: number | undefined;
  /** Image keys of the batch (when the input was exported). */
  keys: string[];
}

export interface MapResults {
  mapRunArn?: string;
  batches: BatchOutput[];
  /** The child execution name of each batch in `batches`, same order. */
  batchNames: string[];
  failedBatches: FailedBatch[];
}

const timelinePointSchema = z.object({
  t: z.number(),
  accepted: z.number(),
  throttled: z.number(),
});

const batchOutputSchema = z.object({
  runId: z.string(),
  items: z.number().int().nonnegative(),
  succeeded: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  unreadable: z.number().int().nonnegative().optional(),
  resumed: z.number().int().nonnegative(),
  failures: z.array(z.object({ key: z.string(), error: z.string(), message: z.string() })),
  // Absent in outputs written before the output was bounded: the list was complete then.
  failuresOmitted: z.number().int().nonnegative().default(0),
  labels: z.record(z.string(), z.number()),
  labelsOmitted: z.number().int().nonnegative().default(0),
  calls: z.number().int().nonnegative(),
  throttled: z.number().int().nonnegative(),
  retried: z.number().int().nonnegative(),
  startedAt: z.string(),
  endedAt: z.string(),
  timeline: z.array(timelinePointSchema),
});

const resultFileSchema = z.object({ Key: z.string(), Size: z.number().optional() });

const manifestSchema = z.object({
  DestinationBucket: z.string().optional(),
  MapRunArn: z.string().optional(),
  ResultFiles: z.object({
    FAILED: z.array(resultFileSchema).default([]),
    PENDING: z.array(resultFileSchema).default([]),
    SUCCEEDED: z.array(resultFileSchema).default([]),
  }),
});

/** One child execution as the ResultWriter exports it (Transformation NONE, the S3 default). */
const childResultSchema = z.looseObject({
  ExecutionArn: z.string().optional(),
  Name: z.string().optional(),
  Status: z.string().optional(),
  Input: z.unknown().optional(),
  Output: z.unknown().optional(),
  Error: z.string().optional(),
  Cause: z.string().optional(),
});
type ChildResult = z.infer<typeof childResultSchema>;

/** A result file is a JSON array, or JSON Lines when the writer's OutputType is JSONL. */
function parseResultFile(text: string, where: string): ChildResult[] {
  const trimmed = text.trim();
  if (trimmed === "") return [];
  const rows = trimmed.startsWith("[")
    ? (parseJson(trimmed, where) as unknown[])
    : parseJsonLines(trimmed, where);
  return rows.map((row, index) => {
    const parsed = childResultSchema.safeParse(row);
    if (!parsed.success) throw new Error(`${where}[${index}] is not a child execution result`);
    return parsed.data;
  });
}

/** `Input`/`Output` are JSON strings in the export; accept already-parsed objects too. */
function parseJsonField(value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

/** The image keys of a batch, from the child's input `{ BatchInput, Items }`. */
function batchKeys(child: ChildResult): string[] | undefined {
  const input = parseJsonField(child.Input);
  if (typeof input !== "object" || input === null) return undefined;
  const items = (input as { Items?: unknown }).Items;
  if (!Array.isArray(items)) return undefined;
  return items.map((item) =>
    typeof item === "object" && item !== null && typeof (item as { key?: unknown }).key === "string"
      ? (item as { key: string }).key
      : "",
  );
}

function childName(child: ChildResult, fallback: string): string {
  return child.Name ?? child.ExecutionArn?.split(":").pop() ?? fallback;
}

function failedBatchOf(
  child: ChildResult,
  name: string,
  status: FailedBatch["status"],
  error: string,
  cause: string,
): FailedBatch {
  const keys = batchKeys(child);
  return { name, status, error, cause, items: keys?.length, keys: keys ?? [] };
}

/**
 * Reads what the Distributed Map's ResultWriter wrote: the manifest, then
 * every SUCCEEDED/FAILED/PENDING file. Succeeded children yield their
 * `BatchOutput`; failed or unfinished ones become `FailedBatch`es whose items
 * have no outcome from this run. A child listed both as succeeded and as
 * failed (a redriven map run) counts once, as succeeded.
 */
export async function loadBatchOutputs(
  s3: S3Client,
  details: ResultWriterDetails,
): Promise<MapResults> {
  const manifestWhere = `s3://${details.Bucket}/${details.Key}`;
  const manifest = manifestSchema.parse(
    await getObjectJson({ s3, bucket: details.Bucket, key: details.Key }),
  );
  const bucket = manifest.DestinationBucket ?? details.Bucket;

  const read = async (status: "SUCCEEDED" | "FAILED" | "PENDING") => {
    const children: ChildResult[] = [];
    for (const file of manifest.ResultFiles[status]) {
      const text = await getObjectText({ s3, bucket, key: file.Key });
      children.push(...parseResultFile(text, `s3://${bucket}/${file.Key}`));
    }
    return children;
  };

  const succeededNames = new Set<string>();
  const batches: BatchOutput[] = [];
  const failedBatches: FailedBatch[] = [];
  const failedNames = new Set<string>();
  let position = 0;
  for (const child of await read("SUCCEEDED")) {
    const name = childName(child, `succeeded-${position++}`);
    const output = batchOutputSchema.safeParse(parseJsonField(child.Output));
    if (output.success) {
      if (succeededNames.has(name)) continue;
      succeededNames.add(name);
      batches.push(output.data);
    } else if (!succeededNames.has(name) && !failedNames.has(name)) {
      failedNames.add(name);
      failedBatches.push(
        failedBatchOf(
          child,
          name,
          "MALFORMED",
          "MalformedBatchOutput",
          `the batch succeeded but its output is not a batch result (${manifestWhere})`,
        ),
      );
    }
  }
  for (const status of ["FAILED", "PENDING"] as const) {
    for (const child of await read(status)) {
      const name = childName(child, `${status.toLowerCase()}-${position++}`);
      if (succeededNames.has(name) || failedNames.has(name)) continue;
      failedNames.add(name);
      const error = child.Error || (status === "PENDING" ? "Pending" : "UnknownError");
      const cause =
        causeMessage(child.Cause) ||
        (status === "PENDING" ? "the child execution had not finished when the map ended" : "");
      failedBatches.push(failedBatchOf(child, name, status, error, cause));
    }
  }
  return { mapRunArn: manifest.MapRunArn, batches, batchNames: [...succeededNames], failedBatches };
}
