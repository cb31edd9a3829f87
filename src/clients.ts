import { RekognitionClient } from "@aws-sdk/client-rekognition";
import { S3Client } from "@aws-sdk/client-s3";
import { SFNClient } from "@aws-sdk/client-sfn";

/** The AWS clients the core functions receive. Created once per process. */
export interface AwsClients {
  s3: S3Client;
  rekognition: RekognitionClient;
  sfn: SFNClient;
}

/**
 * Clients configured from the environment only. Endpoints come from the SDK's
 * standard `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL_REKOGNITION` /
 * `AWS_ENDPOINT_URL_SFN`, checksum behaviour from `AWS_REQUEST_CHECKSUM_CALCULATION`
 * / `AWS_RESPONSE_CHECKSUM_VALIDATION`, so the same code runs on AWS and locally.
 *
 * Rekognition retries are off (`maxAttempts: 1`): the rate controller owns
 * retries, and SDK retries of ProvisionedThroughputExceededException would
 * hide throttling from it and multiply calls beyond the provisioned rate.
 */
export function createAwsClients(env: NodeJS.ProcessEnv = process.env): AwsClients {
  const { region } = regionOf(env);
  return {
    // Path-style addressing is needed by S3-compatible servers on loopback;
    // it is an explicit setting (`S3_FORCE_PATH_STYLE=true`), not a local branch.
    s3: new S3Client({ region, forcePathStyle: env.S3_FORCE_PATH_STYLE === "true" }),
    rekognition: new RekognitionClient({ region, maxAttempts: 1 }),
    sfn: new SFNClient({ region }),
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
