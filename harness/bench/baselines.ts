import {
  DescribeProjectVersionsCommand,
  DetectCustomLabelsCommand,
  RekognitionClient,
  StartProjectVersionCommand,
  StopProjectVersionCommand,
} from "@aws-sdk/client-rekognition";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import pMap from "p-map";
import { listObjects } from "../../src/s3-listing.ts";
import type { LocalStack } from "../local/local-stack.ts";

/**
 * The two ways published samples run a Custom Labels batch, for comparison
 * on the same emulator and images: (a) a loop, one image at a time; (b) many
 * calls at a fixed concurrency with no rate control. Both use the SDK's
 * default retries (standard mode, 3 attempts), start the model, wait for
 * RUNNING, write one result per image and stop the model.
 */

export interface BaselineOptions {
  stack: LocalStack;
  imagesPrefix: string;
  resultsPrefix: string;
  units: number;
  /** Parallel calls: 1 for the loop, many for the fixed-concurrency sample. */
  concurrency: number;
  /** Process at most this many images (the loop is slow; the rest is extrapolated). */
  limit?: number;
}

export interface BaselineRun {
  images: number;
  succeeded: number;
  failed: number;
  startRequestedAt: number;
  runningAt: number;
  lastDoneAt: number;
  stopRequestedAt: number;
}

const IMAGE_EXTENSION = /\.(jpe?g|png)$/i;

/** Runs one baseline end to end; emulator figures (timeline, billing) are read by the caller. */
export async function runBaseline(options: BaselineOptions): Promise<BaselineRun> {
  const { stack } = options;
  const env = stack.environment;
  const credentials = {
    accessKeyId: env.AWS_ACCESS_KEY_ID ?? "",
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? "",
  };
  const region = env.AWS_REGION ?? "us-east-1";
  // SDK defaults on purpose: that is what the samples do.
  const rekognition = new RekognitionClient({
    region,
    credentials,
    endpoint: stack.emulator.endpoint,
  });
  const s3 = new S3Client({
    region,
    credentials,
    endpoint: env.AWS_ENDPOINT_URL_S3,
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  const arn = stack.projectVersionArn;
  try {
    const keys: string[] = [];
    for await (const object of listObjects(s3, {
      bucket: stack.imagesBucket,
      prefix: options.imagesPrefix,
    })) {
      if (IMAGE_EXTENSION.test(object.key) && object.size > 0) keys.push(object.key);
    }
    const images = keys.slice(0, options.limit ?? keys.length);

    const startRequestedAt = Date.now();
    await rekognition.send(
      new StartProjectVersionCommand({ ProjectVersionArn: arn, MinInferenceUnits: options.units }),
    );
    for (;;) {
      const described = await rekognition.send(
        new DescribeProjectVersionsCommand({ ProjectArn: stack.projectArn }),
      );
      const status = described.ProjectVersionDescriptions?.find(
        (d) => d.ProjectVersionArn === arn,
      )?.Status;
      if (status === "RUNNING") break;
      if (status === "FAILED") throw new Error("the model failed to start");
      await new Promise((done) => setTimeout(done, 200));
    }
    const runningAt = Date.now();

    let succeeded = 0;
    let failed = 0;
    let lastDoneAt = runningAt;
    await pMap(
      images,
      async (key) => {
        try {
          const result = await rekognition.send(
            new DetectCustomLabelsCommand({
              ProjectVersionArn: arn,
              Image: { S3Object: { Bucket: stack.imagesBucket, Name: key } },
            }),
          );
          await s3.send(
            new PutObjectCommand({
              Bucket: stack.resultsBucket,
              Key: `${options.resultsPrefix}${key}.json`,
              Body: JSON.stringify(result.CustomLabels ?? []),
            }),
          );
          succeeded += 1;
          lastDoneAt = Date.now();
        } catch {
          // What the samples do: log and move on; the image is simply not done.
          failed += 1;
        }
      },
      { concurrency: options.concurrency },
    );
    const stopRequestedAt = Date.now();
    await rekognition.send(new StopProjectVersionCommand({ ProjectVersionArn: arn }));
    return {
      images: images.length,
      succeeded,
      failed,
      startRequestedAt,
      runningAt,
      lastDoneAt,
      stopRequestedAt,
    };
  } finally {
    rekognition.destroy();
    s3.destroy();
  }
}
