import { readdir, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { resetHandlerClients } from "../../src/lambda-handler.ts";
import { emulatorMetricSource } from "./cloudwatch/emulator-metrics.ts";
import { type LocalCloudWatch, startLocalCloudWatch } from "./cloudwatch-server.ts";
import { acquireDataLock, type DataLock, LOCK_FILE_NAME } from "./data-lock.ts";
import { type Emulator, type EmulatorOptions, startEmulator } from "./emulator/index.ts";
import { IamGate } from "./iam/iam-gate.ts";
import { gateCloudWatchCall, gateRekognitionCall, gateS3Request } from "./iam/service-gates.ts";
import {
  type EmbeddedS3,
  localAwsEnvironment,
  localS3ClientConfig,
  PROJECT_ROOT,
  startS3Server,
} from "./s3-server.ts";

/**
 * The local AWS: the embedded S3 and the Rekognition emulator in this
 * process, on 127.0.0.1, with one declared model version. The code under test
 * reaches them only through the standard environment variables
 * (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL_REKOGNITION`, ...).
 */

/** Where `npm run local` keeps its data between runs (git-ignored). */
export const LOCAL_DATA_DIRECTORY = resolve(PROJECT_ROOT, ".local-data");

export const LOCAL_DEFAULTS = {
  imagesBucket: "local-images",
  imagesPrefix: "incoming/",
  resultsBucket: "local-results",
  resultsPrefix: "rekognition-results/",
  project: "local-demo",
  version: "v1",
  /**
   * The version ARN's trailing digits are its creation time; fixed so the
   * ARN, and with it the ledger, the lease and the learned TPS, stays the same
   * from one local run to the next.
   */
  createdAt: Date.UTC(2026, 0, 1),
} as const;

export interface LocalStackOptions {
  /** Data folder (default `.local-data` under the project). */
  dataDirectory?: string;
  /** Delete the data folder first. */
  fresh?: boolean;
  imagesBucket?: string;
  resultsBucket?: string;
  feature?: "CLASSIFICATION" | "OBJECT_DETECTION";
  /** Emulator settings (delays, TPS per unit, latency, ...). */
  emulator?: Omit<EmulatorOptions, "models" | "s3Endpoint" | "port" | "authorize">;
  /** Fixed ports on 127.0.0.1 (default 0: free ones), for a stack other processes use. */
  s3Port?: number;
  emulatorPort?: number;
  cloudwatchPort?: number;
  /** Names the owner in the data folder's lock (shown to a second run that is refused). */
  command?: string;
}

export interface LocalStack {
  s3Server: EmbeddedS3;
  /** This stack's hold on its data folder (one stack per folder at a time). */
  lock: DataLock;
  emulator: Emulator;
  /**
   * IAM enforcement at the doors of S3, the emulator, CloudWatch and the
   * local Step Functions API. Idle until a job installs the policies of its parameters;
   * only requests signed with a role's key are evaluated, never the operator's.
   */
  iam: IamGate;
  /** GetMetricData for the emulated model's unit metrics (`AWS_ENDPOINT_URL_CLOUDWATCH`), behind the IAM gate. */
  cloudwatch: LocalCloudWatch;
  /** An S3 client for the embedded S3 (seeding, reading results). */
  s3: S3Client;
  projectVersionArn: string;
  projectArn: string;
  imagesBucket: string;
  resultsBucket: string;
  /** The variables that point the AWS SDK (and the AWS CLI) at this stack. */
  environment: Record<string, string>;
  /** Sets `environment` on `process.env` (and drops cached clients); returns an undo. */
  applyEnvironment(extra?: Record<string, string>): () => void;
  close(): Promise<void>;
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const dataDirectory = options.dataDirectory ?? LOCAL_DATA_DIRECTORY;
  // The lock comes first: --fresh must not wipe a folder another run is using.
  const lock = await acquireDataLock(dataDirectory, options.command ?? "local stack");
  try {
    if (options.fresh) await emptyFolderBut(dataDirectory, LOCK_FILE_NAME);
    return await startOnLockedFolder(options, dataDirectory, lock);
  } catch (error) {
    await lock.release();
    throw error;
  }
}

/** Deletes everything in `directory` except the entry named `keep`. */
async function emptyFolderBut(directory: string, keep: string): Promise<void> {
  for (const entry of await readdir(directory)) {
    if (entry !== keep) await rm(join(directory, entry), { recursive: true, force: true });
  }
}

async function startOnLockedFolder(
  options: LocalStackOptions,
  dataDirectory: string,
  lock: DataLock,
): Promise<LocalStack> {
  const imagesBucket = options.imagesBucket ?? LOCAL_DEFAULTS.imagesBucket;
  const resultsBucket = options.resultsBucket ?? LOCAL_DEFAULTS.resultsBucket;

  const iam = new IamGate();
  const s3Server = await startS3Server({
    gate: (request, response) => gateS3Request(iam, request, response),
    directory: resolve(dataDirectory, "s3"),
    buckets: [...new Set([imagesBucket, resultsBucket])],
    ...(options.s3Port !== undefined ? { port: options.s3Port } : {}),
  });
  let emulator: Emulator;
  try {
    emulator = await startEmulator({
      ...options.emulator,
      ...(options.emulatorPort !== undefined ? { port: options.emulatorPort } : {}),
      s3Endpoint: s3Server.endpoint,
      // The model's reads of Image.S3Object go straight to the store: one
      // HTTP request less per image, for the same bytes and S3 errors.
      s3Objects: (bucket, key) =>
        s3Server
          .readObject(bucket, key)
          .then(({ contentLength, body }) => ({ contentLength, body })),
      authorize: (headers, operation, params) =>
        gateRekognitionCall(iam, headers, operation, params),
    });
  } catch (error) {
    await s3Server.close();
    throw error;
  }
  let cloudwatch: LocalCloudWatch;
  try {
    cloudwatch = await startLocalCloudWatch({
      source: emulatorMetricSource(emulator.admin),
      authorize: (headers, request) => gateCloudWatchCall(iam, headers, request.action),
      ...(options.cloudwatchPort !== undefined ? { port: options.cloudwatchPort } : {}),
    });
  } catch (error) {
    await emulator.close();
    await s3Server.close();
    throw error;
  }
  const declared = emulator.admin.declareModel({
    project: LOCAL_DEFAULTS.project,
    version: LOCAL_DEFAULTS.version,
    feature: options.feature ?? "CLASSIFICATION",
    createdAt: LOCAL_DEFAULTS.createdAt,
  });
  const environment = localAwsEnvironment({
    s3: s3Server.endpoint,
    rekognition: emulator.endpoint,
    cloudwatch: cloudwatch.endpoint,
  });
  const s3 = new S3Client(localS3ClientConfig(s3Server.endpoint));

  return {
    s3Server,
    emulator,
    iam,
    cloudwatch,
    s3,
    lock,
    projectVersionArn: declared.projectVersionArn,
    projectArn: declared.projectArn,
    imagesBucket,
    resultsBucket,
    environment,
    applyEnvironment(extra = {}) {
      const values = { ...environment, ...extra };
      const previous = Object.fromEntries(
        Object.keys(values).map((name) => [name, process.env[name]]),
      );
      Object.assign(process.env, values);
      resetHandlerClients();
      return () => {
        for (const [name, value] of Object.entries(previous)) {
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
        }
        resetHandlerClients();
      };
    },
    async close() {
      s3.destroy();
      await cloudwatch.close();
      await emulator.close();
      await s3Server.close();
      await lock.release();
    },
  };
}
