/**
 * `doctor`: everything a first run needs, checked with read-only calls, one
 * result per check. With the local stack, the checks it cannot answer are
 * skipped with the reason, and the rest run against it for real.
 */
import type { RunInputField } from "../cli/args.ts";
import type { AwsClients, regionOf } from "../clients.ts";
import { parseProjectVersionArn } from "../model/model-ref.ts";
import type { OperatorClients } from "../operator-clients.ts";
import type { RunInput } from "../run-input.ts";
import { type BucketFindings, type BucketUse, checkBucket } from "./buckets.ts";
import { checkLambdaConcurrency, checkUnitQuota } from "./capacity.ts";
import { type CheckResult, skip } from "./check.ts";
import { type CallerIdentity, checkCredentials, checkRegion } from "./credentials.ts";
import { checkDeployment, checkStateMachine, type Deployment } from "./deployment.ts";
import { checkModelRegion, checkModelVersion } from "./model.ts";
import { checkParameters } from "./parameters.ts";
import { checkRolePermissions, jobRequests } from "./role-permissions.ts";

export interface DoctorOptions {
  /** S3, Rekognition and Step Functions: AWS's, or the local stack's. */
  aws: AwsClients;
  /** STS, CloudFormation, Lambda, IAM, Service Quotas; absent for the local stack. */
  account?: OperatorClients;
  region: ReturnType<typeof regionOf>;
  /** The settings' environment (the local deployment's with the local stack). */
  env: NodeJS.ProcessEnv;
  overrides: Partial<Record<RunInputField, string>>;
  stackName: string;
  /** `--state-machine-arn`, which wins over the stack's output. */
  stateMachineArn?: string;
}

export interface DoctorReport {
  ok: boolean;
  region: string;
  local: boolean;
  counts: { passed: number; failed: number; skipped: number };
  checks: CheckResult[];
}

/** What the local stack cannot answer, and why. */
const LOCAL_SKIPS: Record<string, [string, string]> = {
  credentials: [
    "Credentials",
    "the local stack has no STS; its servers take fixed local credentials",
  ],
  deployment: [
    "Deployment",
    "the local stack is not deployed with CloudFormation; its parameters are the local deployment's",
  ],
  "lambda-role": ["Lambda role", "the local stack has no IAM API to simulate a deployed role with"],
  "lambda-concurrency": [
    "Lambda concurrency",
    "the local stack has no Lambda service; its workers run in this process",
  ],
  "unit-quota": [
    "Unit quota",
    "the local stack has no Service Quotas; the emulator has no unit quota",
  ],
};

const localSkip = (id: string) => {
  const [title, why] = LOCAL_SKIPS[id] ?? [id, "not available locally"];
  return skip(id, title, why);
};

const TITLES: Record<string, string> = {
  ...Object.fromEntries(Object.entries(LOCAL_SKIPS).map(([id, [title]]) => [id, title])),
  parameters: "Parameters",
  "state-machine": "State machine",
  "model-region": "Model region",
  "model-version": "Model version",
  buckets: "Buckets",
};

/** Marks the checks that cannot run because an earlier one failed. */
const skipped = (ids: string[], why: string) => ids.map((id) => skip(id, TITLES[id] ?? id, why));

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const checks: CheckResult[] = [];
  const { account } = options;
  const region = options.region.region;
  const local = account === undefined;

  let identity: CallerIdentity | undefined;
  if (account) {
    const credentials = await checkCredentials(account.sts);
    checks.push(credentials.result);
    identity = credentials.identity;
  } else checks.push(localSkip("credentials"));
  const regionCheck = checkRegion(options.region, local);
  checks.push(regionCheck);
  if ((account && !identity) || regionCheck.status === "fail") {
    const why =
      regionCheck.status === "fail"
        ? "no usable region (see Region)"
        : "no usable AWS credentials (see Credentials)";
    checks.push(
      ...skipped(
        [
          "deployment",
          "parameters",
          "state-machine",
          "model-region",
          "model-version",
          "buckets",
          "lambda-role",
          "lambda-concurrency",
          "unit-quota",
        ],
        why,
      ),
    );
    return report(checks, region, local);
  }

  let deployment: Deployment | undefined;
  if (account) {
    const found = await checkDeployment({
      cloudFormation: account.cloudFormation,
      lambda: account.lambda,
      stackName: options.stackName,
      region,
    });
    checks.push(found.result);
    deployment = found.deployment;
  } else checks.push(localSkip("deployment"));

  const parameters = checkParameters({
    source: deployment
      ? "the deployed Plan function's environment"
      : local
        ? "the local stack's deployment"
        : "this shell's environment (no deployment found)",
    environment: deployment ? deployment.environment : options.env,
    overrides: options.overrides,
    fix: local
      ? "correct the run input flags named above"
      : 'deploy with the parameter corrected (npx osls deploy --param="<name>=<value>"), or correct the flag named above',
  });
  checks.push(parameters.result);

  const stateMachineArn =
    options.stateMachineArn ??
    deployment?.stateMachineArn ??
    (options.env.STATE_MACHINE_ARN || undefined);
  checks.push(
    await checkStateMachine({
      sfn: options.aws.sfn,
      stateMachineArn,
      region,
      missingReason: deployment
        ? "the stack has no state machine output; pass --state-machine-arn"
        : "no deployment found (see Deployment) and no --state-machine-arn / STATE_MACHINE_ARN",
    }),
  );

  const input = parameters.input;
  if (!input) {
    checks.push(
      ...skipped(
        [
          "model-region",
          "model-version",
          "buckets",
          ...(account ? ["lambda-role", "lambda-concurrency", "unit-quota"] : []),
        ],
        "the parameters are not valid (see Parameters)",
      ),
    );
    if (!account)
      checks.push(...["lambda-role", "lambda-concurrency", "unit-quota"].map(localSkip));
    return report(checks, region, local);
  }

  const modelRegion = checkModelRegion(input.projectVersionArn, region);
  checks.push(modelRegion);
  const model = await checkModelVersion({
    rekognition: options.aws.modelControl,
    projectVersionArn: input.projectVersionArn,
    regionMatches: modelRegion.status === "pass",
  });
  checks.push(model.result);

  const partition = parseProjectVersionArn(input.projectVersionArn).partition;
  const buckets = await checkBuckets(options.aws, input, {
    region,
    partition,
    ...(identity ? { account: identity.account } : {}),
  });
  checks.push(...buckets.results);

  if (account) {
    checks.push(
      deployment?.lambdaRoleArn
        ? await checkRolePermissions({
            iam: account.iam,
            roleArn: deployment.lambdaRoleArn,
            requests: jobRequests({
              input,
              partition,
              region,
              buckets: buckets.findings,
              ...(model.projectArn ? { projectArn: model.projectArn } : {}),
              ...(stateMachineArn ? { stateMachineArn } : {}),
            }),
          })
        : skip("lambda-role", "Lambda role", "no deployed Lambda role found (see Deployment)"),
      await checkLambdaConcurrency({ lambda: account.lambda, maxWorkers: input.maxWorkers }),
      await checkUnitQuota({ serviceQuotas: account.serviceQuotas, maxUnits: input.maxUnits }),
    );
  } else {
    checks.push(...["lambda-role", "lambda-concurrency", "unit-quota"].map(localSkip));
  }
  return report(checks, region, local);
}

async function checkBuckets(
  aws: AwsClients,
  input: RunInput,
  where: { region: string; partition: string; account?: string },
): Promise<{ results: CheckResult[]; findings: BucketFindings[] }> {
  const uses = new Map<string, BucketUse[]>();
  uses.set(input.imagesBucket, ["images"]);
  uses.set(input.resultsBucket, [...(uses.get(input.resultsBucket) ?? []), "results"]);
  const results: CheckResult[] = [];
  const findings: BucketFindings[] = [];
  for (const [bucket, bucketUses] of uses) {
    const checked = await checkBucket({ s3: aws.s3, bucket, uses: bucketUses, ...where });
    results.push(checked.result);
    if (checked.findings) findings.push(checked.findings);
  }
  return { results, findings };
}

function report(checks: CheckResult[], region: string, local: boolean): DoctorReport {
  const count = (status: CheckResult["status"]) => checks.filter((c) => c.status === status).length;
  const counts = { passed: count("pass"), failed: count("fail"), skipped: count("skip") };
  return { ok: counts.failed === 0, region, local, counts, checks };
}
