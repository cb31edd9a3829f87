import { GetBucketLocationCommand, type S3Client } from "@aws-sdk/client-s3";
import { InvalidRunInputError } from "./errors.ts";
import type { RunInput } from "./run-input.ts";

/**
 * The Region of a bucket from GetBucketLocation (authorised by
 * s3:GetBucketLocation on the bucket; HeadBucket would need s3:ListBucket,
 * which the job holds only under a prefix). An empty LocationConstraint is
 * us-east-1; "EU" is the legacy name of eu-west-1.
 */
export async function bucketRegion(s3: S3Client, bucket: string): Promise<string> {
  try {
    const answer = await s3.send(new GetBucketLocationCommand({ Bucket: bucket }));
    const location = String(answer?.LocationConstraint ?? "");
    if (location === "") return "us-east-1";
    if (location === "EU") return "eu-west-1";
    return location;
  } catch (error) {
    // A bucket in another Region can answer with a redirect that names its Region.
    const header = (error as { $response?: { headers?: Record<string, string> } }).$response
      ?.headers?.["x-amz-bucket-region"];
    if (header) return header;
    throw error;
  }
}

/** The Region in a model version ARN (`arn:<partition>:rekognition:<region>:...`). */
export function modelRegion(projectVersionArn: string): string {
  return projectVersionArn.split(":")[3] ?? "";
}

/**
 * DetectCustomLabels runs in the deployment's Region and reads S3 objects
 * only in that Region: a model or a bucket elsewhere would fail every image
 * after the model started. Checked in Plan, before anything is billed.
 */
export async function checkRegions(opts: {
  s3: S3Client;
  input: Pick<RunInput, "projectVersionArn" | "imagesBucket" | "resultsBucket">;
  region: string;
}): Promise<void> {
  const { s3, input, region } = opts;
  const problems: string[] = [];
  const model = modelRegion(input.projectVersionArn);
  if (model !== region) {
    problems.push(
      `projectVersionArn is a model in ${model}, but the job runs in ${region}: deploy the job to ${model} (--region ${model}) or use a model version in ${region}`,
    );
  }
  const buckets = [...new Set([input.imagesBucket, input.resultsBucket])];
  for (const bucket of buckets) {
    const where = await bucketRegion(s3, bucket);
    if (where === region) continue;
    const why =
      bucket === input.imagesBucket
        ? "DetectCustomLabels reads images only from buckets in its own Region"
        : "the job reads and writes its results in its own Region";
    const field = bucket === input.imagesBucket ? "imagesBucket" : "resultsBucket";
    problems.push(
      `${field} ${bucket} is in ${where}, but the job runs in ${region}: ${why}; deploy the job and the model to ${where}, or use a bucket in ${region}`,
    );
  }
  if (problems.length > 0) {
    throw new InvalidRunInputError(`Region mismatch:\n${problems.join("\n")}`);
  }
}
