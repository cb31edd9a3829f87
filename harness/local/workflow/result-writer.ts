import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { isObject, type JsonValue, WorkflowDefinitionError } from "./asl.ts";
import { TaskFailure } from "./lambda-invoker.ts";

/**
 * ResultWriter: the Map Run's child results written to S3 in the layout AWS
 * uses: `<Prefix>/<mapRunId>/manifest.json`, `SUCCEEDED_0.json`,
 * `FAILED_0.json`, each result file a JSON array of child execution records
 * whose `Input` and `Output` are JSON strings.
 */

export const PUT_OBJECT = "arn:aws:states:::s3:putObject";

export function checkResultWriter(stateName: string, writer: unknown): void {
  if (!isObject(writer))
    throw new WorkflowDefinitionError(`Map "${stateName}": ResultWriter must be an object`);
  if (writer.Resource !== PUT_OBJECT) {
    throw new WorkflowDefinitionError(
      `Map "${stateName}": ResultWriter Resource must be ${PUT_OBJECT}, got ${String(writer.Resource)}`,
    );
  }
  if (writer.WriterConfig !== undefined) {
    throw new WorkflowDefinitionError(
      `Map "${stateName}": ResultWriter WriterConfig is not supported locally`,
    );
  }
}

/** One child execution as AWS records it in the result files. */
export interface ChildExecutionRecord {
  ExecutionArn: string;
  Input: string;
  InputDetails: { Included: true };
  Name: string;
  Output?: string;
  OutputDetails?: { Included: true };
  Error?: string;
  Cause?: string;
  RedriveCount: number;
  RedriveStatus: "NOT_REDRIVABLE" | "REDRIVABLE";
  RedriveStatusReason?: string;
  StartDate: string;
  StateMachineArn: string;
  Status: "SUCCEEDED" | "FAILED";
  StopDate: string;
}

export interface ChildOutcome {
  executionArn: string;
  name: string;
  stateMachineArn: string;
  input: JsonValue;
  startDate: Date;
  stopDate: Date;
  status: "SUCCEEDED" | "FAILED";
  output?: JsonValue;
  error?: string;
  cause?: string;
}

export function toExecutionRecord(child: ChildOutcome): ChildExecutionRecord {
  const common = {
    ExecutionArn: child.executionArn,
    Input: JSON.stringify(child.input),
    InputDetails: { Included: true as const },
    Name: child.name,
  };
  const dates = {
    StartDate: child.startDate.toISOString(),
    StateMachineArn: child.stateMachineArn,
  };
  if (child.status === "SUCCEEDED") {
    return {
      ...common,
      Output: JSON.stringify(child.output ?? null),
      OutputDetails: { Included: true },
      RedriveCount: 0,
      RedriveStatus: "NOT_REDRIVABLE",
      RedriveStatusReason: "Execution is SUCCEEDED and cannot be redriven",
      ...dates,
      Status: "SUCCEEDED",
      StopDate: child.stopDate.toISOString(),
    };
  }
  return {
    ...common,
    Error: child.error ?? "",
    Cause: child.cause ?? "",
    RedriveCount: 0,
    RedriveStatus: "REDRIVABLE",
    ...dates,
    Status: "FAILED",
    StopDate: child.stopDate.toISOString(),
  };
}

export interface WriteRequest {
  bucket: string;
  /** As given in Parameters; "" writes at the bucket root. */
  prefix: string;
  mapRunArn: string;
  mapRunId: string;
  children: ChildOutcome[];
  signal?: AbortSignal;
}

export interface ResultWriterDetails {
  Bucket: string;
  Key: string;
}

/** Writes the result files and the manifest; returns where the manifest is. */
export async function writeMapResults(
  s3: S3Client,
  request: WriteRequest,
): Promise<ResultWriterDetails> {
  const { bucket, mapRunArn, mapRunId, children } = request;
  const trimmed = request.prefix.replace(/\/+$/, "");
  const folder = trimmed === "" ? `${mapRunId}/` : `${trimmed}/${mapRunId}/`;
  const put = async (key: string, body: string) => {
    try {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentType: "application/json",
        }),
        { abortSignal: request.signal },
      );
    } catch (error) {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new TaskFailure(
        "States.ResultWriterFailed",
        `Writing s3://${bucket}/${key} failed: ${message}`,
      );
    }
    return { Key: key, Size: Buffer.byteLength(body, "utf8") };
  };
  const resultFiles: Record<"FAILED" | "PENDING" | "SUCCEEDED", { Key: string; Size: number }[]> = {
    FAILED: [],
    PENDING: [],
    SUCCEEDED: [],
  };
  for (const status of ["SUCCEEDED", "FAILED"] as const) {
    const records = children.filter((child) => child.status === status).map(toExecutionRecord);
    if (records.length === 0) continue;
    resultFiles[status].push(await put(`${folder}${status}_0.json`, JSON.stringify(records)));
  }
  const manifest = { DestinationBucket: bucket, MapRunArn: mapRunArn, ResultFiles: resultFiles };
  const manifestKey = `${folder}manifest.json`;
  await put(manifestKey, JSON.stringify(manifest));
  return { Bucket: bucket, Key: manifestKey };
}
