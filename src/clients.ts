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
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1";
  return {
    // Path-style addressing is needed by S3-compatible servers on loopback;
    // it is an explicit setting (`S3_FORCE_PATH_STYLE=true`), not a local branch.
    s3: new S3Client({ region, forcePathStyle: env.S3_FORCE_PATH_STYLE === "true" }),
    rekognition: new RekognitionClient({ region, maxAttempts: 1 }),
    sfn: new SFNClient({ region }),
  };
}
