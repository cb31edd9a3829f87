import { GetBucketLocationCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { InvalidRunInputError } from "../../src/errors.ts";
import { bucketRegion, checkRegions } from "../../src/region-check.ts";

const s3Mock = mockClient(S3Client);
const s3 = new S3Client({ region: "eu-west-1" });
afterEach(() => s3Mock.reset());

const ARN = "arn:aws:rekognition:eu-west-1:111122223333:project/shelf/version/v1/1767225600000";
const INPUT = { projectVersionArn: ARN, imagesBucket: "photos", resultsBucket: "labels" };

function locations(byBucket: Record<string, string | undefined>) {
  s3Mock
    .on(GetBucketLocationCommand)
    .callsFake((input: { Bucket: string }) => ({ LocationConstraint: byBucket[input.Bucket] }));
}

async function problemOf(run: () => Promise<unknown>): Promise<string> {
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidRunInputError);
  return (error as Error).message;
}

describe("bucketRegion", () => {
  it("reads GetBucketLocation: empty is us-east-1, EU is eu-west-1", async () => {
    locations({ a: undefined, b: "EU", c: "ap-southeast-2" });
    expect(await bucketRegion(s3, "a")).toBe("us-east-1");
    expect(await bucketRegion(s3, "b")).toBe("eu-west-1");
    expect(await bucketRegion(s3, "c")).toBe("ap-southeast-2");
  });

  it("takes the Region from a redirect's x-amz-bucket-region header", async () => {
    const redirect = new S3ServiceException({
      name: "PermanentRedirect",
      $fault: "client",
      $metadata: { httpStatusCode: 301 },
    });
    Object.assign(redirect, {
      $response: { statusCode: 301, headers: { "x-amz-bucket-region": "us-west-2" } },
    });
    s3Mock.on(GetBucketLocationCommand).rejects(redirect);
    expect(await bucketRegion(s3, "a")).toBe("us-west-2");
  });
});

describe("checkRegions", () => {
  it("passes when the model and both buckets are in the deployment's Region", async () => {
    locations({ photos: "eu-west-1", labels: "eu-west-1" });
    await checkRegions({ s3, input: INPUT, region: "eu-west-1" });
    expect(s3Mock.commandCalls(GetBucketLocationCommand).map((c) => c.args[0].input)).toEqual([
      { Bucket: "photos" },
      { Bucket: "labels" },
    ]);
  });

  it("names every field that is elsewhere, with the Regions and a fix", async () => {
    locations({ photos: undefined, labels: "eu-west-1" });
    const message = await problemOf(() =>
      checkRegions({ s3, input: INPUT, region: "eu-central-1" }),
    );
    expect(message).toContain(
      "projectVersionArn is a model in eu-west-1, but the job runs in eu-central-1",
    );
    expect(message).toContain(
      "imagesBucket photos is in us-east-1, but the job runs in eu-central-1",
    );
    expect(message).toContain(
      "DetectCustomLabels reads images only from buckets in its own Region",
    );
    expect(message).toContain("resultsBucket labels is in eu-west-1");
  });

  it("asks once when images and results share a bucket", async () => {
    locations({ photos: "eu-west-1" });
    await checkRegions({ s3, input: { ...INPUT, resultsBucket: "photos" }, region: "eu-west-1" });
    expect(s3Mock.commandCalls(GetBucketLocationCommand)).toHaveLength(1);
  });
});
