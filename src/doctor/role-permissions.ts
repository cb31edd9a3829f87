/**
 * What the deployed Lambda role may do, proven without doing it:
 * iam:SimulatePrincipalPolicy for every request the job makes, on the
 * resources it makes it on, with the condition keys it sends (`s3:prefix`
 * only when the listing sends a prefix: an absent key does not match a
 * `StringLike` condition, as on AWS).
 */
import {
  type ContextEntry,
  type IAMClient,
  SimulatePrincipalPolicyCommand,
} from "@aws-sdk/client-iam";
import { isPermissionDenied } from "../aws-errors.ts";
import { resultKeyFor, resultsFolder } from "../result-keys.ts";
import type { RunInput } from "../run-input.ts";
import type { BucketFindings } from "./buckets.ts";
import { type CheckResult, errorText, fail, pass, skip } from "./check.ts";

/** One request of the job, as the simulator gets it. */
export interface SimulatedRequest {
  actions: string[];
  resource: string;
  context: ContextEntry[];
  /** For the operator: what the job does with it. */
  purpose: string;
  /** The grant comes from the KMS key parameter rather than the bucket parameters. */
  kms?: boolean;
}

const prefixContext = (prefix: string): ContextEntry[] =>
  // The SDK omits `prefix` when listing a whole bucket: no s3:prefix in the request context.
  prefix === ""
    ? []
    : [{ ContextKeyName: "s3:prefix", ContextKeyType: "string", ContextKeyValues: [prefix] }];

/** The requests a run makes with the Lambda role, for these parameters. */
export function jobRequests(opts: {
  input: RunInput;
  partition: string;
  region: string;
  projectArn?: string;
  stateMachineArn?: string;
  buckets: BucketFindings[];
}): SimulatedRequest[] {
  const { input, partition } = opts;
  const s3 = (bucket: string, key?: string) =>
    `arn:${partition}:s3:::${bucket}${key === undefined ? "" : `/${key}`}`;
  const requests: SimulatedRequest[] = [
    {
      actions: ["s3:ListBucket"],
      resource: s3(input.imagesBucket),
      context: prefixContext(input.imagesPrefix),
      purpose: `list the images (prefix ${JSON.stringify(input.imagesPrefix)})`,
    },
    {
      actions: ["s3:GetObject"],
      resource: s3(input.imagesBucket, `${input.imagesPrefix}example.jpg`),
      context: [],
      purpose: "read an image",
    },
    {
      actions: ["s3:ListBucket"],
      resource: s3(input.resultsBucket),
      context: prefixContext(resultsFolder(input.resultsPrefix)),
      purpose: `list the results (prefix ${JSON.stringify(resultsFolder(input.resultsPrefix))})`,
    },
    {
      actions: ["s3:GetObject", "s3:PutObject"],
      resource: s3(
        input.resultsBucket,
        resultKeyFor(input.resultsPrefix, `${input.imagesPrefix}example.jpg`),
      ),
      context: [],
      purpose: "read and write a result",
    },
    {
      actions: [
        "rekognition:DetectCustomLabels",
        "rekognition:StartProjectVersion",
        "rekognition:StopProjectVersion",
      ],
      resource: input.projectVersionArn,
      context: [],
      purpose: "start, call and stop the model",
    },
  ];
  // Plan checks that the buckets are in the job's Region before anything is billed.
  for (const bucket of new Set([input.imagesBucket, input.resultsBucket])) {
    requests.push({
      actions: ["s3:GetBucketLocation"],
      resource: s3(bucket),
      context: [],
      purpose: "check the bucket's Region",
    });
  }
  if (opts.projectArn) {
    requests.push({
      actions: ["rekognition:DescribeProjectVersions"],
      resource: opts.projectArn,
      context: [],
      purpose: "watch the model's status",
    });
  }
  if (opts.stateMachineArn) {
    requests.push({
      actions: ["states:ListExecutions"],
      resource: opts.stateMachineArn,
      context: [],
      purpose: "refuse a concurrent run",
    });
  }
  for (const bucket of opts.buckets) {
    if (bucket.encryption.kind !== "SSE-KMS" || !bucket.encryption.keyArn) continue;
    const writes = bucket.uses.includes("results");
    requests.push({
      actions: writes ? ["kms:Decrypt", "kms:GenerateDataKey"] : ["kms:Decrypt"],
      resource: bucket.encryption.keyArn,
      context: [
        {
          ContextKeyName: "kms:ViaService",
          ContextKeyType: "string",
          ContextKeyValues: [`s3.${bucket.region ?? opts.region}.amazonaws.com`],
        },
      ],
      purpose: `${writes ? "read and write" : "read"} SSE-KMS objects in ${bucket.bucket}`,
      kms: true,
    });
  }
  return requests;
}

interface Denial {
  action: string;
  resource: string;
  decision: string;
  request: SimulatedRequest;
}

const LIMITS =
  "simulates the role's identity policies (with its permissions boundary) for the job's requests; " +
  "bucket policies, KMS key policies and objects encrypted with a key other than the bucket's default are not evaluated";

/** Simulates every request; fails naming each denied action, resource and what it is for. */
export async function checkRolePermissions(opts: {
  iam: IAMClient;
  roleArn: string;
  requests: SimulatedRequest[];
}): Promise<CheckResult> {
  const id = "lambda-role";
  const title = "Lambda role";
  const denials: Denial[] = [];
  let simulated = 0;
  try {
    for (const request of opts.requests) {
      const answer = await opts.iam.send(
        new SimulatePrincipalPolicyCommand({
          PolicySourceArn: opts.roleArn,
          ActionNames: request.actions,
          ResourceArns: [request.resource],
          ...(request.context.length > 0 ? { ContextEntries: request.context } : {}),
        }),
      );
      for (const result of answer.EvaluationResults ?? []) {
        simulated += 1;
        if (result.EvalDecision !== "allowed") {
          denials.push({
            action: result.EvalActionName ?? "?",
            resource: result.EvalResourceName ?? request.resource,
            decision: result.EvalDecision ?? "?",
            request,
          });
        }
      }
    }
  } catch (error) {
    if (isPermissionDenied(error)) {
      return skip(
        id,
        title,
        `the operator may not call iam:SimulatePrincipalPolicy on ${opts.roleArn}, so the role's S3, KMS and Rekognition permissions were not checked`,
      );
    }
    return fail(
      id,
      title,
      `cannot simulate ${opts.roleArn}: ${errorText(error)}`,
      "run doctor again; allow the operator iam:SimulatePrincipalPolicy on the role",
    );
  }
  if (denials.length === 0) {
    return pass(
      id,
      title,
      `${opts.roleArn} is allowed all ${simulated} requests the job makes`,
      LIMITS,
    );
  }
  const lines = denials.map(
    (d) =>
      `${d.action} on ${d.resource} (${d.request.purpose}${d.request.context.length === 0 && d.action === "s3:ListBucket" ? ", sent without s3:prefix" : ""}): ${d.decision}`,
  );
  const kmsOnly = denials.every((d) => d.request.kms);
  const fix = kmsOnly
    ? `grant the role the bucket's KMS key: deploy with --param="kmsKeyArn=${denials[0]?.resource}" (and let the role use it in the key policy)`
    : "deploy this version of serverless.yml again with the same parameters (npx osls deploy ...), so the role's policy matches them; an explicitDeny comes from a permissions boundary or another policy: ask the account's administrator" +
      (denials.some((d) => d.request.kms)
        ? `; for the KMS key: --param="kmsKeyArn=<key arn>"`
        : "");
  return fail(
    id,
    title,
    `${denials.length} of ${simulated} requests denied:\n${lines.join("\n")}`,
    fix,
  );
}
