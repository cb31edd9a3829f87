import { CloudFormationClient, DescribeStacksCommand } from "@aws-sdk/client-cloudformation";
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { IAMClient, SimulatePrincipalPolicyCommand } from "@aws-sdk/client-iam";
import {
  GetAccountSettingsCommand,
  GetFunctionConfigurationCommand,
  LambdaClient,
} from "@aws-sdk/client-lambda";
import {
  DescribeProjectsCommand,
  DescribeProjectVersionsCommand,
  RekognitionClient,
} from "@aws-sdk/client-rekognition";
import {
  GetBucketEncryptionCommand,
  GetBucketLocationCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import {
  ListAWSDefaultServiceQuotasCommand,
  ListServiceQuotasCommand,
  ServiceQuotasClient,
} from "@aws-sdk/client-service-quotas";
import { DescribeStateMachineCommand, SFNClient } from "@aws-sdk/client-sfn";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { regionOfLocation } from "../../src/doctor/buckets.ts";
import { findUnitQuota } from "../../src/doctor/capacity.ts";
import { renderDoctor } from "../../src/doctor/render.ts";
import { jobRequests } from "../../src/doctor/role-permissions.ts";
import { type DoctorReport, runDoctor } from "../../src/doctor/run-doctor.ts";
import { parseRunInput } from "../../src/run-input.ts";

/** Every doctor check's pass and failure, and its message, mocked at the SDK boundary. */

const REGION = "eu-west-1";
const ACCOUNT = "123456789012";
const MODEL = `arn:aws:rekognition:${REGION}:${ACCOUNT}:project/shelf/version/v1/1700000000001`;
const PROJECT = `arn:aws:rekognition:${REGION}:${ACCOUNT}:project/shelf/1690000000000`;
const STATE_MACHINE = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:rekognition-weekly-batch-prod`;
const PLAN_FUNCTION = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:rekognition-weekly-batch-prod-plan:3`;
const ROLE = `arn:aws:iam::${ACCOUNT}:role/rekognition-weekly-batch-prod-${REGION}-lambdaRole`;
const KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;

const DEPLOYED_ENV = {
  PROJECT_VERSION_ARN: MODEL,
  IMAGES_BUCKET: "acme-images",
  IMAGES_PREFIX: "incoming/",
  RESULTS_BUCKET: "acme-results",
  RESULTS_PREFIX: "rekognition-results/",
  MAX_UNITS: "5",
  STATE_MACHINE_ARN: STATE_MACHINE,
};

const sts = mockClient(STSClient);
const cfn = mockClient(CloudFormationClient);
const lambda = mockClient(LambdaClient);
const iam = mockClient(IAMClient);
const quotas = mockClient(ServiceQuotasClient);
const s3 = mockClient(S3Client);
const rekognition = mockClient(RekognitionClient);
const sfn = mockClient(SFNClient);

function awsError(name: string, message: string, status = 400) {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
}

function s3Error(name: string, message: string, status: number) {
  return new S3ServiceException({
    name,
    message,
    $fault: "client",
    $metadata: { httpStatusCode: status },
  });
}

/** A healthy account: every check passes. Tests break one thing each. */
function healthy() {
  for (const mock of [sts, cfn, lambda, iam, quotas, s3, rekognition, sfn]) mock.reset();
  sts.on(GetCallerIdentityCommand).resolves({
    Account: ACCOUNT,
    Arn: `arn:aws:iam::${ACCOUNT}:user/operator`,
  });
  cfn.on(DescribeStacksCommand).resolves({
    Stacks: [
      {
        StackName: "rekognition-weekly-batch-prod",
        StackStatus: "UPDATE_COMPLETE",
        CreationTime: new Date(),
        Outputs: [
          { OutputKey: "PlanLambdaFunctionQualifiedArn", OutputValue: PLAN_FUNCTION },
          { OutputKey: "RekognitionDashweeklyDashbatchDashprodArn", OutputValue: STATE_MACHINE },
        ],
      },
    ],
  });
  lambda.on(GetFunctionConfigurationCommand).resolves({
    Role: ROLE,
    Environment: { Variables: DEPLOYED_ENV },
  });
  lambda.on(GetAccountSettingsCommand).resolves({
    AccountLimit: { ConcurrentExecutions: 1000, UnreservedConcurrentExecutions: 900 },
  });
  iam.on(SimulatePrincipalPolicyCommand).callsFake((input) => ({
    EvaluationResults: input.ActionNames.map((action: string) => ({
      EvalActionName: action,
      EvalResourceName: input.ResourceArns[0],
      EvalDecision: "allowed",
    })),
  }));
  quotas.on(ListServiceQuotasCommand).resolves({
    Quotas: [
      { QuotaName: "Transactions per second for DetectLabels", QuotaCode: "L-1", Value: 50 },
      {
        QuotaName: "Inference units per Custom Labels model",
        QuotaCode: "L-UNITS",
        Value: 5,
      },
    ],
  });
  s3.on(GetBucketLocationCommand).resolves({ LocationConstraint: REGION });
  s3.on(GetBucketEncryptionCommand).resolves({
    ServerSideEncryptionConfiguration: {
      Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
    },
  });
  rekognition.on(DescribeProjectsCommand).resolves({
    ProjectDescriptions: [{ ProjectArn: PROJECT }],
  });
  rekognition.on(DescribeProjectVersionsCommand).resolves({
    ProjectVersionDescriptions: [{ ProjectVersionArn: MODEL, Status: "STOPPED" }],
  });
  sfn.on(DescribeStateMachineCommand).resolves({
    stateMachineArn: STATE_MACHINE,
    name: "rekognition-weekly-batch-prod",
    status: "ACTIVE",
    type: "STANDARD",
    definition: "{}",
    roleArn: ROLE,
    creationDate: new Date(),
  });
}

function clients(region = REGION) {
  return {
    aws: {
      s3: new S3Client({ region }),
      rekognition: new RekognitionClient({ region }),
      modelControl: new RekognitionClient({ region }),
      sfn: new SFNClient({ region }),
      cloudwatch: new CloudWatchClient({ region }),
    },
    account: {
      sts: new STSClient({ region }),
      cloudFormation: new CloudFormationClient({ region }),
      lambda: new LambdaClient({ region }),
      iam: new IAMClient({ region }),
      serviceQuotas: new ServiceQuotasClient({ region }),
    },
  };
}

async function doctor(
  opts: {
    region?: string;
    overrides?: Record<string, string>;
    local?: boolean;
    env?: NodeJS.ProcessEnv;
  } = {},
): Promise<DoctorReport> {
  const region = opts.region ?? REGION;
  const { aws, account } = clients(region);
  return runDoctor({
    aws,
    ...(opts.local ? {} : { account }),
    region: { region, source: "AWS_REGION" },
    env: opts.env ?? {},
    overrides: opts.overrides ?? {},
    stackName: "rekognition-weekly-batch-prod",
  });
}

const check = (report: DoctorReport, id: string) => {
  const found = report.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no check ${id} in ${report.checks.map((c) => c.id).join(", ")}`);
  return found;
};

beforeEach(healthy);

describe("doctor against a healthy deployment", () => {
  it("passes every check, reads the parameters from the deployed Plan function, exit-ready", async () => {
    const report = await doctor();
    expect(report.checks.filter((c) => c.status !== "pass")).toEqual([]);
    expect(report.ok).toBe(true);
    expect(check(report, "parameters").detail).toContain(
      "from the deployed Plan function's environment: images s3://acme-images/incoming/",
    );
    expect(check(report, "credentials").detail).toBe(
      `account ${ACCOUNT} as arn:aws:iam::${ACCOUNT}:user/operator`,
    );
    expect(check(report, "model-version").detail).toMatch(/^STOPPED, no units .*the job starts it/);
    expect(check(report, "unit-quota").detail).toContain(
      '"Inference units per Custom Labels model" (L-UNITS, applied) = 5',
    );
    const text = renderDoctor(report);
    expect(text).toContain("✓ Lambda role");
    expect(text).toMatch(/Doctor: 12 checks passed, 0 failed, 0 skipped; ready for a first run\.$/);
  });

  it("simulates the role with the request context the job sends (s3:prefix, resources)", async () => {
    await doctor();
    const calls = iam.commandCalls(SimulatePrincipalPolicyCommand).map((c) => c.args[0].input);
    expect(calls.every((c) => c.PolicySourceArn === ROLE)).toBe(true);
    const listImages = calls.find(
      (c) =>
        c.ActionNames?.[0] === "s3:ListBucket" &&
        c.ResourceArns?.[0] === "arn:aws:s3:::acme-images",
    );
    expect(listImages?.ContextEntries).toEqual([
      { ContextKeyName: "s3:prefix", ContextKeyType: "string", ContextKeyValues: ["incoming/"] },
    ]);
    expect(calls.map((c) => c.ResourceArns?.[0])).toContain(PROJECT);
    expect(calls.map((c) => c.ResourceArns?.[0])).toContain(STATE_MACHINE);
  });
});

describe("each check's failure names what is wrong and how to fix it", () => {
  it("credentials: rejected credentials fail and the account checks are skipped", async () => {
    sts
      .on(GetCallerIdentityCommand)
      .rejects(
        awsError("InvalidClientTokenId", "The security token included in the request is invalid."),
      );
    const report = await doctor();
    expect(report.ok).toBe(false);
    const credentials = check(report, "credentials");
    expect(credentials.status).toBe("fail");
    expect(credentials.detail).toContain("InvalidClientTokenId: The security token");
    expect(credentials.fix).toContain("AWS_PROFILE");
    expect(check(report, "model-version")).toMatchObject({
      status: "skip",
      detail: "no usable AWS credentials (see Credentials)",
    });
  });

  it("deployment: a missing stack fails with the deploy command; the shell's settings are checked instead", async () => {
    cfn
      .on(DescribeStacksCommand)
      .rejects(
        awsError("ValidationError", "Stack with id rekognition-weekly-batch-prod does not exist"),
      );
    const report = await doctor({ env: DEPLOYED_ENV });
    const deployment = check(report, "deployment");
    expect(deployment).toMatchObject({
      status: "fail",
      detail: `no stack rekognition-weekly-batch-prod in ${REGION}`,
    });
    expect(deployment.fix).toContain(`npx osls deploy --region ${REGION}`);
    expect(check(report, "parameters").detail).toContain(
      "this shell's environment (no deployment found)",
    );
    expect(check(report, "lambda-role")).toMatchObject({ status: "skip" });
    // The model and buckets are still checked from the shell's settings.
    expect(check(report, "model-version").status).toBe("pass");
  });

  it("deployment: a rolled-back first deploy fails", async () => {
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [{ StackName: "x", StackStatus: "ROLLBACK_COMPLETE", CreationTime: new Date() }],
    });
    const deployment = check(await doctor(), "deployment");
    expect(deployment.status).toBe("fail");
    expect(deployment.detail).toContain("is ROLLBACK_COMPLETE");
    expect(deployment.fix).toContain("npx osls remove");
  });

  it("parameters: an invalid deployed value fails naming the env var and the value", async () => {
    lambda.on(GetFunctionConfigurationCommand).resolves({
      Role: ROLE,
      Environment: { Variables: { ...DEPLOYED_ENV, MAX_UNITS: "0" } },
    });
    const report = await doctor();
    const parameters = check(report, "parameters");
    expect(parameters.status).toBe("fail");
    expect(parameters.detail).toMatch(/env var MAX_UNITS \(maxUnits\) must be .*, got "0"/);
    expect(parameters.fix).toContain('npx osls deploy --param="<name>=<value>"');
    expect(check(report, "buckets").status).toBe("skip");
  });

  it("state machine: a deleted state machine fails", async () => {
    sfn
      .on(DescribeStateMachineCommand)
      .rejects(awsError("StateMachineDoesNotExist", "State Machine Does Not Exist"));
    const result = check(await doctor(), "state-machine");
    expect(result).toMatchObject({ status: "fail", detail: `${STATE_MACHINE} does not exist` });
  });

  it("model region: a model in another region fails and its description is skipped", async () => {
    const other = MODEL.replace(REGION, "us-west-2");
    const report = await doctor({ overrides: { projectVersionArn: other } });
    const region = check(report, "model-region");
    expect(region.status).toBe("fail");
    expect(region.detail).toContain(`the model is in us-west-2, the deployment in ${REGION}`);
    expect(region.fix).toContain("npx osls deploy --region us-west-2");
    expect(check(report, "model-version").status).toBe("skip");
  });

  it("model version: a version that does not exist fails with the ARN", async () => {
    rekognition.on(DescribeProjectVersionsCommand).resolves({ ProjectVersionDescriptions: [] });
    const result = check(await doctor(), "model-version");
    expect(result).toMatchObject({ status: "fail", detail: `model version ${MODEL} not found` });
    expect(result.fix).toContain('--param="projectVersionArn=<arn>"');
  });

  it("model version: a FAILED model fails; a RUNNING one passes with its units and what the job does", async () => {
    rekognition.on(DescribeProjectVersionsCommand).resolves({
      ProjectVersionDescriptions: [{ ProjectVersionArn: MODEL, Status: "TRAINING_FAILED" }],
    });
    expect(check(await doctor(), "model-version")).toMatchObject({
      status: "fail",
      detail: `${MODEL} is TRAINING_FAILED: a run cannot start it`,
    });
    rekognition.on(DescribeProjectVersionsCommand).resolves({
      ProjectVersionDescriptions: [
        { ProjectVersionArn: MODEL, Status: "RUNNING", MinInferenceUnits: 2, MaxInferenceUnits: 4 },
      ],
    });
    expect(check(await doctor(), "model-version").detail).toContain(
      "already running with 2 min / 4 max units: the job uses it as it is and leaves it running",
    );
  });

  it("buckets: a missing bucket fails with the command that creates it", async () => {
    s3.on(GetBucketLocationCommand, { Bucket: "acme-images" }).rejects(
      s3Error("NoSuchBucket", "The specified bucket does not exist", 404),
    );
    const report = await doctor();
    expect(check(report, "bucket-images")).toMatchObject({
      status: "fail",
      detail: "acme-images does not exist",
    });
    expect(check(report, "bucket-images").fix).toContain(
      `aws s3 mb s3://acme-images --region ${REGION}`,
    );
    expect(check(report, "bucket-results").status).toBe("pass");
  });

  it("buckets: a bucket in another region fails; us-east-1 and EU locations are read right", async () => {
    s3.on(GetBucketLocationCommand, { Bucket: "acme-results" }).resolves({});
    const result = check(await doctor(), "bucket-results");
    expect(result.status).toBe("fail");
    expect(result.detail).toContain(`acme-results is in us-east-1, the deployment in ${REGION}`);
    expect(regionOfLocation("EU")).toBe("eu-west-1");
    expect(regionOfLocation("")).toBe("us-east-1");
  });

  it("buckets and role: SSE-KMS without a key grant fails naming the key and the kmsKeyArn parameter", async () => {
    s3.on(GetBucketEncryptionCommand, { Bucket: "acme-images" }).resolves({
      ServerSideEncryptionConfiguration: {
        Rules: [
          { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: KEY } },
        ],
      },
    });
    iam.on(SimulatePrincipalPolicyCommand).callsFake((input) => ({
      EvaluationResults: input.ActionNames.map((action: string) => ({
        EvalActionName: action,
        EvalResourceName: input.ResourceArns[0],
        EvalDecision: action.startsWith("kms:") ? "implicitDeny" : "allowed",
      })),
    }));
    const report = await doctor();
    expect(check(report, "bucket-images").detail).toContain(
      `default encryption SSE-KMS with ${KEY}`,
    );
    const role = check(report, "lambda-role");
    expect(role.status).toBe("fail");
    expect(role.detail).toContain(
      `kms:Decrypt on ${KEY} (read SSE-KMS objects in acme-images): implicitDeny`,
    );
    expect(role.fix).toContain(`--param="kmsKeyArn=${KEY}"`);
  });

  it("role: listing a whole bucket without s3:prefix, denied by a prefix condition, is named", async () => {
    iam.on(SimulatePrincipalPolicyCommand).callsFake((input) => ({
      EvaluationResults: input.ActionNames.map((action: string) => ({
        EvalActionName: action,
        EvalResourceName: input.ResourceArns[0],
        EvalDecision:
          action === "s3:ListBucket" && !input.ContextEntries ? "implicitDeny" : "allowed",
      })),
    }));
    const report = await doctor({ overrides: { imagesPrefix: "", resultsBucket: "acme-results" } });
    const role = check(report, "lambda-role");
    expect(role.status).toBe("fail");
    expect(role.detail).toContain(
      's3:ListBucket on arn:aws:s3:::acme-images (list the images (prefix ""), sent without s3:prefix): implicitDeny',
    );
    expect(role.fix).toContain("npx osls deploy");
  });

  it("role: an operator who may not simulate gets a skip that says what was not checked", async () => {
    iam.on(SimulatePrincipalPolicyCommand).rejects(awsError("AccessDenied", "not authorized"));
    const role = check(await doctor(), "lambda-role");
    expect(role.status).toBe("skip");
    expect(role.detail).toContain("may not call iam:SimulatePrincipalPolicy");
  });

  it("Lambda concurrency: fewer unreserved executions than maxWorkers fails", async () => {
    lambda.on(GetAccountSettingsCommand).resolves({
      AccountLimit: { ConcurrentExecutions: 10, UnreservedConcurrentExecutions: 10 },
    });
    const result = check(await doctor(), "lambda-concurrency");
    expect(result.status).toBe("fail");
    expect(result.detail).toContain(
      "10 unreserved of 10 concurrent executions; a run may use 50 workers (maxWorkers)",
    );
    expect(result.fix).toContain("--max-workers 9");
  });

  it("unit quota: maxUnits above the quota fails; a quota that cannot be found is skipped", async () => {
    lambda.on(GetFunctionConfigurationCommand).resolves({
      Role: ROLE,
      Environment: { Variables: { ...DEPLOYED_ENV, MAX_UNITS: "8" } },
    });
    const over = check(await doctor(), "unit-quota");
    expect(over.status).toBe("fail");
    expect(over.detail).toContain("maxUnits 8 is above the quota");
    expect(over.fix).toContain('--param="maxUnits=5"');

    quotas.on(ListServiceQuotasCommand).resolves({ Quotas: [] });
    quotas.on(ListAWSDefaultServiceQuotasCommand).resolves({ Quotas: [] });
    const missing = check(await doctor(), "unit-quota");
    expect(missing.status).toBe("skip");
    expect(missing.detail).toContain('no Rekognition quota named like "inference units"');
  });

  it("unit quota: falls back to AWS's default when no value is applied", async () => {
    quotas.on(ListServiceQuotasCommand).resolves({ Quotas: [] });
    quotas.on(ListAWSDefaultServiceQuotasCommand).resolves({
      Quotas: [{ QuotaName: "Max inference units", QuotaCode: "L-D", Value: 10 }],
    });
    expect(check(await doctor(), "unit-quota").detail).toContain("(L-D, AWS default) = 10");
    expect(findUnitQuota([{ QuotaName: "Something else" }])).toBeUndefined();
  });
});

describe("doctor on the local stack (mocked S3, Rekognition and Step Functions)", () => {
  it("skips what the local stack cannot answer, with the reason, and checks the rest", async () => {
    const report = await doctor({ local: true, env: DEPLOYED_ENV });
    const skipped = report.checks.filter((c) => c.status === "skip").map((c) => c.id);
    expect(skipped).toEqual([
      "credentials",
      "deployment",
      "lambda-role",
      "lambda-concurrency",
      "unit-quota",
    ]);
    expect(check(report, "lambda-role").detail).toContain("no IAM API");
    expect(report.ok).toBe(true);
    expect(sts.calls()).toHaveLength(0);
  });
});

describe("the job's requests", () => {
  it("sends s3:prefix only where the listing sends a prefix, and asks GenerateDataKey only where it writes", () => {
    const input = parseRunInput(
      {},
      { ...DEPLOYED_ENV, IMAGES_PREFIX: "", RESULTS_BUCKET: "acme-results" },
    );
    const requests = jobRequests({
      input,
      partition: "aws",
      region: REGION,
      buckets: [
        {
          bucket: "acme-images",
          uses: ["images"],
          region: REGION,
          encryption: { kind: "SSE-KMS", keyArn: KEY },
        },
        {
          bucket: "acme-results",
          uses: ["results"],
          region: REGION,
          encryption: { kind: "SSE-KMS", keyArn: KEY },
        },
      ],
    });
    const listImages = requests.find((r) => r.resource === "arn:aws:s3:::acme-images");
    expect(listImages?.context).toEqual([]);
    const listResults = requests.find((r) => r.resource === "arn:aws:s3:::acme-results");
    expect(listResults?.context[0]?.ContextKeyValues).toEqual(["rekognition-results/results/"]);
    // Plan's Region check.
    const locations = requests.filter((r) => r.actions.includes("s3:GetBucketLocation"));
    expect(locations.map((r) => r.resource)).toEqual([
      "arn:aws:s3:::acme-images",
      "arn:aws:s3:::acme-results",
    ]);
    const kms = requests.filter((r) => r.kms).map((r) => r.actions);
    expect(kms).toEqual([["kms:Decrypt"], ["kms:Decrypt", "kms:GenerateDataKey"]]);
  });
});
