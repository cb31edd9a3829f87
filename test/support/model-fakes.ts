/**
 * Fakes at the SDK boundary for the model lifecycle, lease and reaper unit
 * tests: real SDK clients whose `send` is stubbed by aws-sdk-client-mock,
 * backed by a tiny stateful model and an in-memory bucket, plus a manual
 * clock whose `sleep` advances time instantly.
 */
import {
  AccessDeniedException,
  DescribeProjectsCommand,
  DescribeProjectVersionsCommand,
  RekognitionClient,
  ResourceInUseException,
  ResourceNotFoundException,
  StartProjectVersionCommand,
  StopProjectVersionCommand,
} from "@aws-sdk/client-rekognition";
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { SFNClient } from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import type { LeaseRecord } from "../../src/lease.ts";
import { stateFiles } from "../../src/result-keys.ts";
import type { Clock, LogFields, Logger } from "../../src/runtime.ts";

export const REGION = "us-east-1";
export const PROJECT_ARN =
  "arn:aws:rekognition:us-east-1:123456789012:project/flowers/1690000000000";
export const MODEL_ARN =
  "arn:aws:rekognition:us-east-1:123456789012:project/flowers/version/flowers.2025-01-06/1700000000001";
export const OTHER_MODEL_ARN =
  "arn:aws:rekognition:us-east-1:123456789012:project/flowers/version/flowers.2024-12-01/1690000000002";
export const RESULTS_BUCKET = "results";
export const RESULTS_PREFIX = "out/";
export const LEASE_KEY = stateFiles.lease(RESULTS_PREFIX);
export const EXECUTION_ARN =
  "arn:aws:states:us-east-1:123456789012:execution:weekly-batch:run-2025-01-06";
export const OTHER_EXECUTION_ARN =
  "arn:aws:states:us-east-1:123456789012:execution:weekly-batch:run-2024-12-30";

const credentials = { accessKeyId: "test", secretAccessKey: "test" };

/** A clock that only moves when someone sleeps. */
export interface ManualClock extends Clock {
  sleeps: number[];
  /** Called after every sleep with the new time; lets a test change the world while "waiting". */
  onSleep?: (now: number, sleepCount: number) => void;
}

export function manualClock(start = Date.parse("2025-01-06T02:00:00.000Z")): ManualClock {
  let now = start;
  const clock: ManualClock = {
    sleeps: [],
    now: () => now,
    sleep: async (ms) => {
      clock.sleeps.push(ms);
      now += ms;
      clock.onSleep?.(now, clock.sleeps.length);
    },
  };
  return clock;
}

export interface RecordingLogger extends Logger {
  lines: { level: string; message: string; fields?: LogFields }[];
}

export function recordingLogger(): RecordingLogger {
  const lines: RecordingLogger["lines"] = [];
  const at = (level: string) => (message: string, fields?: LogFields) => {
    lines.push({ level, message, ...(fields ? { fields } : {}) });
  };
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** The stand-in model's state, changed by Start/Stop and by the test. */
export interface FakeModel {
  status: string;
  statusMessage?: string;
  minInferenceUnits?: number;
  maxInferenceUnits?: number;
  /** When set, StartProjectVersion throws it (after being logged). */
  startError?: Error;
  /** When set, StopProjectVersion throws it. */
  stopError?: Error;
  /** When set, DescribeProjectVersions throws it (once; then it is cleared). */
  describeErrorOnce?: Error;
}

export function rekognitionError<T extends Error>(
  ErrorClass: new (opts: { message: string; $metadata: object }) => T,
  message: string,
  httpStatusCode = 400,
): T {
  return new ErrorClass({ message, $metadata: { httpStatusCode } });
}

/** A service error of any name (for exceptions the SDK has no class for). */
export function serviceError(name: string, httpStatusCode: number, message = name): Error {
  return Object.assign(new Error(message), {
    name,
    $fault: httpStatusCode >= 500 ? "server" : "client",
    $metadata: { httpStatusCode },
  });
}

const mockRekognition = (client: RekognitionClient) => mockClient(client);
const mockS3 = (client: S3Client) => mockClient(client);
const mockSfn = (client: SFNClient) => mockClient(client);

export interface FakeAws {
  rekognition: RekognitionClient;
  s3: S3Client;
  sfn: SFNClient;
  rekognitionMock: ReturnType<typeof mockRekognition>;
  s3Mock: ReturnType<typeof mockS3>;
  sfnMock: ReturnType<typeof mockSfn>;
  model: FakeModel;
  /** Objects by "bucket/key". */
  objects: Map<string, string>;
  /** Every call in order: "describe", "start 2/-", "stop", "put <key>", "get <key>". */
  events: string[];
  /** The lease object as stored, parsed. */
  storedLease(): LeaseRecord | undefined;
  putLease(lease: LeaseRecord): void;
  restore(): void;
}

/** Fresh clients with stubbed `send`, one stateful model version MODEL_ARN in project PROJECT_ARN. */
export function fakeAws(initialStatus = "STOPPED"): FakeAws {
  const rekognition = new RekognitionClient({ region: REGION, credentials, maxAttempts: 1 });
  const s3 = new S3Client({ region: REGION, credentials });
  const sfn = new SFNClient({ region: REGION, credentials });
  const rekognitionMock = mockRekognition(rekognition);
  const s3Mock = mockS3(s3);
  const sfnMock = mockSfn(sfn);
  const model: FakeModel = { status: initialStatus };
  const objects = new Map<string, string>();
  const events: string[] = [];

  rekognitionMock.on(DescribeProjectsCommand).callsFake((input) => ({
    ProjectDescriptions: input.ProjectNames?.includes("flowers")
      ? [{ ProjectArn: PROJECT_ARN, Status: "CREATED" }]
      : [],
  }));
  rekognitionMock.on(DescribeProjectVersionsCommand).callsFake((input) => {
    events.push("describe");
    if (model.describeErrorOnce) {
      const error = model.describeErrorOnce;
      model.describeErrorOnce = undefined;
      throw error;
    }
    if (input.ProjectArn !== PROJECT_ARN) {
      throw rekognitionError(ResourceNotFoundException, "project not found");
    }
    const versions = ["flowers.2025-01-06"];
    const wanted: string[] = input.VersionNames ?? versions;
    return {
      ProjectVersionDescriptions: wanted
        .filter((name: string) => versions.includes(name))
        .map(() => ({
          ProjectVersionArn: MODEL_ARN,
          Status: model.status,
          StatusMessage: model.statusMessage,
          MinInferenceUnits: model.minInferenceUnits,
          MaxInferenceUnits: model.maxInferenceUnits,
        })),
    };
  });
  rekognitionMock.on(StartProjectVersionCommand).callsFake((input) => {
    events.push(`start ${input.MinInferenceUnits}/${input.MaxInferenceUnits ?? "-"}`);
    if (model.startError) throw model.startError;
    if (model.status !== "STOPPED" && model.status !== "TRAINING_COMPLETED") {
      throw rekognitionError(ResourceInUseException, `model is ${model.status}`);
    }
    model.status = "STARTING";
    model.minInferenceUnits = input.MinInferenceUnits;
    model.maxInferenceUnits = input.MaxInferenceUnits;
    return { Status: "STARTING" };
  });
  rekognitionMock.on(StopProjectVersionCommand).callsFake(() => {
    events.push("stop");
    if (model.stopError) throw model.stopError;
    if (model.status !== "RUNNING" && model.status !== "STARTING") {
      throw rekognitionError(ResourceInUseException, `model is ${model.status}`);
    }
    model.status = "STOPPING";
    return { Status: "STOPPING" };
  });

  s3Mock.on(PutObjectCommand).callsFake((input) => {
    events.push(`put ${input.Key}`);
    objects.set(`${input.Bucket}/${input.Key}`, String(input.Body));
    return {};
  });
  s3Mock.on(GetObjectCommand).callsFake((input) => {
    events.push(`get ${input.Key}`);
    const body = objects.get(`${input.Bucket}/${input.Key}`);
    if (body === undefined) {
      throw new NoSuchKey({ message: "The specified key does not exist.", $metadata: {} });
    }
    return { Body: { transformToString: async () => body } };
  });

  return {
    rekognition,
    s3,
    sfn,
    rekognitionMock,
    s3Mock,
    sfnMock,
    model,
    objects,
    events,
    storedLease: () => {
      const body = objects.get(`${RESULTS_BUCKET}/${LEASE_KEY}`);
      return body === undefined ? undefined : (JSON.parse(body) as LeaseRecord);
    },
    putLease: (lease) => {
      objects.set(`${RESULTS_BUCKET}/${LEASE_KEY}`, JSON.stringify(lease));
    },
    restore: () => {
      rekognitionMock.restore();
      s3Mock.restore();
      sfnMock.restore();
    },
  };
}

/** A lease as a run would have written it. */
export function leaseFor(executionId: string, overrides: Partial<LeaseRecord> = {}): LeaseRecord {
  return {
    projectVersionArn: MODEL_ARN,
    executionId,
    runId: "run-1",
    startedAt: "2025-01-06T01:00:00.000Z",
    units: 2,
    expiresAt: "2025-01-06T09:00:00.000Z",
    ...overrides,
  };
}

export { AccessDeniedException, ResourceInUseException, ResourceNotFoundException };
