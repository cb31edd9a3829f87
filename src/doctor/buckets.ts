/**
 * The images and results buckets: they exist, they are in the deployment's
 * region (DetectCustomLabels reads S3Object images only in its own region),
 * and how they encrypt by default (SSE-KMS needs a key grant for the role).
 * Read-only: GetBucketLocation and GetBucketEncryption, with the operator's
 * credentials; what the job's role may do there is the "Lambda role" check.
 */
import {
  GetBucketEncryptionCommand,
  GetBucketLocationCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { awsErrorName, isPermissionDenied } from "../aws-errors.ts";
import { type CheckResult, errorText, fail, pass, skip } from "./check.ts";

export type BucketUse = "images" | "results";

/** A bucket's default encryption as far as it could be read. */
export type BucketEncryption =
  | { kind: "none" | "SSE-S3" | "unknown"; note?: string }
  /** `keyArn` absent: the AWS managed key (aws/s3), or a key given by alias. */
  | { kind: "SSE-KMS"; keyArn?: string; keyId?: string; note?: string };

export interface BucketFindings {
  bucket: string;
  uses: BucketUse[];
  region?: string;
  encryption: BucketEncryption;
}

/** GetBucketLocation answers "" (or nothing) for us-east-1 and "EU" for the oldest eu-west-1 buckets. */
export function regionOfLocation(constraint: string | undefined | null): string {
  if (!constraint) return "us-east-1";
  if (constraint === "EU") return "eu-west-1";
  return constraint;
}

const titleOf = (uses: BucketUse[]) =>
  uses.length === 2 ? "Bucket" : uses[0] === "images" ? "Images bucket" : "Results bucket";

const KEY_ARN = /^arn:[a-z-]+:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;
const KEY_ID = /^(mrk-)?[0-9a-f-]{32,36}$/i;

/** Turns GetBucketEncryption's KMSMasterKeyID (key ARN, key id or alias) into a key ARN where it can. */
function kmsKey(
  keyId: string | undefined,
  where: { partition: string; region: string; account?: string },
): BucketEncryption {
  if (!keyId) {
    return {
      kind: "SSE-KMS",
      note: "the AWS managed key aws/s3, whose key policy lets the account's principals use it through S3",
    };
  }
  if (KEY_ARN.test(keyId)) return { kind: "SSE-KMS", keyArn: keyId, keyId };
  if (KEY_ID.test(keyId) && where.account) {
    return {
      kind: "SSE-KMS",
      keyArn: `arn:${where.partition}:kms:${where.region}:${where.account}:key/${keyId}`,
      keyId,
    };
  }
  return {
    kind: "SSE-KMS",
    keyId,
    note: `key ${keyId} is named by alias: grant the key behind it (deploy with --param="kmsKeyArn=<key arn>")`,
  };
}

async function readEncryption(
  s3: S3Client,
  bucket: string,
  where: { partition: string; region: string; account?: string },
): Promise<BucketEncryption> {
  try {
    const answer = await s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }));
    const rule =
      answer.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault;
    if (!rule?.SSEAlgorithm) return { kind: "none" };
    if (rule.SSEAlgorithm === "AES256") return { kind: "SSE-S3" };
    return kmsKey(rule.KMSMasterKeyID, where);
  } catch (error) {
    const name = awsErrorName(error);
    if (name === "ServerSideEncryptionConfigurationNotFoundError") return { kind: "none" };
    if (name === "NotImplemented") {
      return { kind: "unknown", note: "this S3 does not implement default encryption" };
    }
    return {
      kind: "unknown",
      note: `default encryption not readable (${errorText(error)}): allow the operator s3:GetEncryptionConfiguration to check SSE-KMS`,
    };
  }
}

function encryptionText(encryption: BucketEncryption): string {
  switch (encryption.kind) {
    case "none":
      return "no default encryption";
    case "SSE-S3":
      return "default encryption SSE-S3 (no key grant needed)";
    case "SSE-KMS":
      return `default encryption SSE-KMS with ${encryption.keyArn ?? encryption.keyId ?? "aws/s3"}${encryption.note ? ` (${encryption.note})` : ""}`;
    default:
      return `default encryption unknown${encryption.note ? ` (${encryption.note})` : ""}`;
  }
}

/** One bucket, used for `uses`; its findings feed the role's KMS simulation. */
export async function checkBucket(opts: {
  s3: S3Client;
  bucket: string;
  uses: BucketUse[];
  region: string;
  partition: string;
  account?: string;
}): Promise<{ result: CheckResult; findings?: BucketFindings }> {
  const { bucket, uses, region } = opts;
  const id = `bucket-${uses.join("-")}`;
  const title = titleOf(uses);
  let bucketRegion: string;
  try {
    const answer = await opts.s3.send(new GetBucketLocationCommand({ Bucket: bucket }));
    bucketRegion = regionOfLocation(answer.LocationConstraint);
  } catch (error) {
    const name = awsErrorName(error);
    if (name === "NoSuchBucket") {
      return {
        result: fail(
          id,
          title,
          `${bucket} does not exist`,
          `create it in ${region} (aws s3 mb s3://${bucket} --region ${region}), or deploy with the right --param="${uses[0]}Bucket=<name>"`,
        ),
      };
    }
    const redirected = (error as { $response?: { headers?: Record<string, string> } }).$response
      ?.headers?.["x-amz-bucket-region"];
    if (redirected) bucketRegion = redirected;
    else if (isPermissionDenied(error)) {
      return {
        result: skip(
          id,
          title,
          `${bucket}: its region could not be read (${errorText(error)}); allow the operator s3:GetBucketLocation to check it`,
        ),
      };
    } else {
      return {
        result: fail(
          id,
          title,
          `cannot read ${bucket}: ${errorText(error)}`,
          "check the bucket name and that it is in this account",
        ),
      };
    }
  }
  if (bucketRegion !== region) {
    return {
      result: fail(
        id,
        title,
        `${bucket} is in ${bucketRegion}, the deployment in ${region}: DetectCustomLabels reads images only from buckets in its own region, and the job writes where it runs`,
        `use a bucket in ${region}, or deploy in ${bucketRegion} with a model there`,
      ),
    };
  }
  const encryption = await readEncryption(opts.s3, bucket, {
    partition: opts.partition,
    region: bucketRegion,
    ...(opts.account ? { account: opts.account } : {}),
  });
  return {
    result: pass(
      id,
      title,
      `${bucket} (${uses.join(" and ")}) exists in ${bucketRegion}; ${encryptionText(encryption)}`,
      "proves the bucket exists and where, not what the job's role may do in it (see Lambda role)",
    ),
    findings: { bucket, uses, region: bucketRegion, encryption },
  };
}
