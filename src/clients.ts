import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { RekognitionClient } from "@aws-sdk/client-rekognition";
import { S3Client } from "@aws-sdk/client-s3";
import { SFNClient } from "@aws-sdk/client-sfn";

/** The AWS clients the core functions receive. Created once per process. */
export interface AwsClients {
  s3: S3Client;
  /** DetectCustomLabels only: SDK retries off, the rate controller owns them. */
  rekognition: RekognitionClient;
  /**
   * The model's control plane (DescribeProjects, DescribeProjectVersions,
   * StartProjectVersion, StopProjectVersion): SDK retries on, with backoff.
   */
  modelControl: RekognitionClient;
  sfn: SFNClient;
  /** Reads the model's unit metrics (the Report step and `status`). */
  cloudwatch: CloudWatchClient;
}

/**
 * Attempts (first call included) of a control-plane call. The SDK's standard
 * mode backs off exponentially with full jitter (base 100 ms, cap 20 s), so
 * five attempts ride out a throttling burst of a few seconds; what outlasts
 * them leaves the Lambda as `ControlPlaneUnavailable`, which the workflow
 * retries with its own, longer backoff.
 */
export const CONTROL_PLANE_MAX_ATTEMPTS = 5;

/**
 * Every client resolves its middleware stack once per command class rather
 * than on every call (the SDK's `cacheMiddleware`): the stack is fixed once
 * the client is built, and rebuilding it took a few per cent of the CPU of
 * each image (two S3 calls and one DetectCustomLabels). Nothing here adds
 * middleware to a client after its first call, which the cache would ignore.
 */
export const CLIENT_DEFAULTS = { cacheMiddleware: true } as const;

/**
 * Clients configured from the environment only. Endpoints come from the SDK's
 * standard `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL_REKOGNITION` /
 * `AWS_ENDPOINT_URL_SFN` / `AWS_ENDPOINT_URL_CLOUDWATCH`, checksum behaviour from `AWS_REQUEST_CHECKSUM_CALCULATION`
 * / `AWS_RESPONSE_CHECKSUM_VALIDATION`, so the same code runs on AWS and locally.
 *
 * Detection retries are off (`maxAttempts: 1`): the rate controller owns
 * retries, and SDK retries of ProvisionedThroughputExceededException would
 * hide throttling from it and multiply calls beyond the provisioned rate.
 * The control plane is called a handful of times per run and must not fail
 * the run on one ThrottlingException or 5xx, so it has its own client with
 * the SDK's retries on.
 */
export function createAwsClients(env: NodeJS.ProcessEnv = process.env): AwsClients {
  const { region } = regionOf(env);
  return {
    // Path-style addressing is needed by S3-compatible servers on loopback;
    // it is an explicit setting (`S3_FORCE_PATH_STYLE=true`), not a local branch.
    s3: new S3Client({
      region,
      forcePathStyle: env.S3_FORCE_PATH_STYLE === "true",
      ...CLIENT_DEFAULTS,
    }),
    rekognition: new RekognitionClient({ region, maxAttempts: 1, ...CLIENT_DEFAULTS }),
    modelControl: createModelControlClient(region),
    sfn: new SFNClient({ region, ...CLIENT_DEFAULTS }),
    cloudwatch: new CloudWatchClient({ region, ...CLIENT_DEFAULTS }),
  };
}

/** The region the clients use, and where that choice came from (for the operator's eyes). */
export function regionOf(env: NodeJS.ProcessEnv = process.env): {
  region: string;
  source: "AWS_REGION" | "AWS_DEFAULT_REGION" | "default";
} {
  if (env.AWS_REGION) return { region: env.AWS_REGION, source: "AWS_REGION" };
  if (env.AWS_DEFAULT_REGION)
    return { region: env.AWS_DEFAULT_REGION, source: "AWS_DEFAULT_REGION" };
  return { region: "us-east-1", source: "default" };
}

/** The control-plane client: standard retry mode, `CONTROL_PLANE_MAX_ATTEMPTS` attempts. */
export function createModelControlClient(region: string): RekognitionClient {
  return new RekognitionClient({
    region,
    ...CLIENT_DEFAULTS,
    retryMode: "standard",
    maxAttempts: CONTROL_PLANE_MAX_ATTEMPTS,
  });
}
