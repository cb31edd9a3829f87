import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CloudWatchClient, GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { DetectCustomLabelsCommand, RekognitionClient } from "@aws-sdk/client-rekognition";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_IDENTITIES } from "../../harness/local/iam/identities.ts";
import { packagedPolicies, type RolePolicies } from "../../harness/local/iam/packaged-policies.ts";
import {
  LOCAL_STATE_MACHINE_NAME,
  localDeploymentEnvironment,
  runLocalJob,
} from "../../harness/local/local-job.ts";
import { type LocalStack, startLocalStack } from "../../harness/local/local-stack.ts";
import { LOCAL_S3_CREDENTIALS, localS3ClientConfig } from "../../harness/local/s3-server.ts";
import { writeSampleImages } from "../../harness/local/sample-images.ts";
import { localArn } from "../../harness/local/workflow/asl.ts";

/**
 * IAM enforced by the local stack: the policies of the packaged template,
 * evaluated for every request a role makes, denied as AWS denies them.
 */

let dataDirectory: string;
let stack: LocalStack;
let policies: RolePolicies;

beforeAll(async () => {
  dataDirectory = await mkdtemp(join(tmpdir(), "local-iam-"));
  stack = await startLocalStack({
    dataDirectory,
    emulator: { startDelayMs: 200, stopDelayMs: 100, latencyMs: 5, tpsPerUnit: 50 },
  });
  process.env.LOG_LEVEL = "silent";
  await writeSampleImages({
    s3: stack.s3,
    bucket: stack.imagesBucket,
    prefix: "incoming/",
    count: 12,
    badObjects: false,
    largeImages: 0,
  });
  const environment = localDeploymentEnvironment(stack);
  policies = await packagedPolicies({
    projectVersionArn: stack.projectVersionArn,
    imagesBucket: stack.imagesBucket,
    imagesPrefix: environment.IMAGES_PREFIX ?? "",
    resultsBucket: stack.resultsBucket,
    resultsPrefix: environment.RESULTS_PREFIX ?? "",
    alertTopicArn: "",
    stateMachineArn: localArn.stateMachine(LOCAL_STATE_MACHINE_NAME),
  });
}, 300_000);

afterAll(async () => {
  await stack?.close();
  if (dataDirectory) await rm(dataDirectory, { recursive: true, force: true });
});

type Statement = { Action?: string | string[]; Resource?: unknown };

/**
 * The policies with `action` taken out of `role`'s statements that `where`
 * picks (a statement left with no action is dropped).
 */
function withoutAction(
  role: keyof RolePolicies,
  action: string,
  where: (statement: Statement) => boolean = () => true,
): (packaged: RolePolicies) => RolePolicies {
  return (packaged) => {
    const narrowed = structuredClone(packaged);
    let removed = 0;
    for (const entry of narrowed[role]) {
      entry.policy.Statement = entry.policy.Statement.flatMap((original) => {
        const statement = original as Statement;
        const actions = [statement.Action].flat();
        if (!actions.includes(action) || !where(statement)) return [original];
        removed += 1;
        const kept = actions.filter((candidate) => candidate !== action);
        return kept.length > 0 ? [{ ...original, Action: kept }] : [];
      });
    }
    if (removed === 0) throw new Error(`the test's narrowing found no ${action} grant`);
    return narrowed;
  };
}

/** Two new images, so that the next run has work (earlier runs processed the rest). */
async function addPendingImages(folder: string): Promise<void> {
  await writeSampleImages({
    s3: stack.s3,
    bucket: stack.imagesBucket,
    prefix: `incoming/${folder}/`,
    count: 2,
    badObjects: false,
    largeImages: 0,
  });
}

function roleClients(role: keyof typeof LOCAL_IDENTITIES) {
  const credentials = {
    accessKeyId: LOCAL_IDENTITIES[role].accessKeyId,
    secretAccessKey: LOCAL_S3_CREDENTIALS.secretAccessKey,
  };
  return {
    s3: new S3Client({ ...localS3ClientConfig(stack.s3Server.endpoint), credentials }),
    rekognition: new RekognitionClient({
      endpoint: stack.emulator.endpoint,
      region: "us-east-1",
      credentials,
      maxAttempts: 1,
    }),
  };
}

describe("local IAM enforcement", () => {
  it("a run with the packaged policies checks every request and denies none", async () => {
    stack.iam.resetStats();
    const result = await runLocalJob({ stack, waitMs: 50 });
    expect(result.execution.status).toBe("SUCCEEDED");
    expect(result.summary?.counts.succeeded).toBe(12);
    // Plan's listings, the image reads by Rekognition, result writes, the
    // state machine's invocations and its ItemReader/ResultWriter calls.
    expect(stack.iam.stats.checked).toBeGreaterThan(12 * 3);
    expect(stack.iam.stats.denials).toEqual([]);
  });

  it("fails the run with AccessDenied naming the action when the images listing grant is removed", async () => {
    stack.iam.resetStats();
    const result = await runLocalJob({
      stack,
      waitMs: 50,
      adjustPolicies: withoutAction(
        "lambda",
        "s3:ListBucket",
        (statement) => statement.Resource === `arn:aws:s3:::${stack.imagesBucket}`,
      ),
    });
    expect(result.execution.status).toBe("FAILED");
    expect(result.execution.cause).toMatch(/AccessDenied|not authorized/);
    expect(result.execution.cause).toContain("s3:ListBucket");
    expect(stack.iam.stats.denials[0]).toMatchObject({
      action: "s3:ListBucket",
      resource: `arn:aws:s3:::${stack.imagesBucket}`,
      role: "IamRoleLambdaExecution",
    });
  });

  it("the same narrowed policies pass when enforcement is switched off (what the rehearsal let through before)", async () => {
    stack.iam.resetStats();
    const result = await runLocalJob({
      stack,
      waitMs: 50,
      iam: false,
      adjustPolicies: withoutAction("lambda", "s3:ListBucket"),
    });
    expect(result.execution.status).toBe("SUCCEEDED");
    expect(stack.iam.stats.checked).toBe(0);
  });

  it("denies the state machine's own calls: ResultWriter's s3:PutObject", async () => {
    stack.iam.resetStats();
    await writeSampleImages({
      s3: stack.s3,
      bucket: stack.imagesBucket,
      prefix: "incoming/more/",
      count: 2,
      badObjects: false,
      largeImages: 0,
    });
    const result = await runLocalJob({
      stack,
      waitMs: 50,
      adjustPolicies: withoutAction("stateMachine", "s3:PutObject"),
    });
    expect(result.execution.status).toBe("FAILED");
    expect(stack.iam.stats.denials[0]).toMatchObject({
      action: "s3:PutObject",
      role: "WeeklyBatchStateMachineRole",
    });
  });

  it("denies the state machine's lambda:InvokeFunction as Lambda.AWSLambdaException", async () => {
    stack.iam.resetStats();
    const result = await runLocalJob({
      stack,
      waitMs: 50,
      adjustPolicies: withoutAction("stateMachine", "lambda:InvokeFunction"),
    });
    expect(result.execution.status).toBe("FAILED");
    expect(result.execution.error).toBe("Lambda.AWSLambdaException");
    expect(result.execution.cause).toContain(
      `is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:000000000000:function:${LOCAL_STATE_MACHINE_NAME}-plan`,
    );
  });

  it("denies the Distributed Map's child executions without states:StartExecution on the state machine: States.Runtime", async () => {
    stack.iam.resetStats();
    await addPendingImages("map-start");
    const result = await runLocalJob({
      stack,
      waitMs: 50,
      adjustPolicies: withoutAction("stateMachine", "states:StartExecution"),
    });
    const stateMachineArn = localArn.stateMachine(LOCAL_STATE_MACHINE_NAME);
    expect(result.execution.status).toBe("FAILED");
    expect(result.execution.error).toBe("States.Runtime");
    expect(result.execution.cause).toContain(
      `User: ${LOCAL_IDENTITIES.stateMachine.principalArn} is not authorized to perform: states:StartExecution on resource: ${stateMachineArn}`,
    );
    expect(stack.iam.stats.denials[0]).toMatchObject({
      action: "states:StartExecution",
      resource: stateMachineArn,
      role: "WeeklyBatchStateMachineRole",
    });
  });

  it("checks the Report Lambda as its own role (ReportFunctionRole), not the shared one", async () => {
    stack.iam.resetStats();
    const result = await runLocalJob({
      stack,
      waitMs: 50,
      adjustPolicies: withoutAction("report", "s3:PutObject"),
    });
    expect(result.execution.status).toBe("FAILED");
    expect(stack.iam.stats.denials[0]).toMatchObject({
      action: "s3:PutObject",
      role: "ReportFunctionRole",
      principalArn: LOCAL_IDENTITIES.report.principalArn,
    });
    expect(stack.iam.stats.denials[0]?.resource).toMatch(
      new RegExp(`^arn:aws:s3:::${stack.resultsBucket}/rekognition-results/`),
    );
    // Only the Report Lambda was refused: the others' writes were their role's.
    expect(new Set(stack.iam.stats.denials.map((denial) => denial.role))).toEqual(
      new Set(["ReportFunctionRole"]),
    );
  });

  it("puts the local CloudWatch behind the check: the Report's GetMetricData is denied without its grant", async () => {
    stack.iam.resetStats();
    await addPendingImages("metrics");
    const result = await runLocalJob({
      stack,
      waitMs: 50,
      adjustPolicies: withoutAction("report", "cloudwatch:GetMetricData"),
    });
    // The report reads the unit metrics best-effort: the run succeeds, the summary says why they are missing.
    expect(result.execution.status).toBe("SUCCEEDED");
    expect(JSON.stringify(result.summary)).toMatch(
      /Not read: [^"]*not authorized to perform: cloudwatch:GetMetricData/,
    );
    expect(stack.iam.stats.denials[0]).toMatchObject({
      action: "cloudwatch:GetMetricData",
      resource: "*",
      role: "ReportFunctionRole",
    });
  });

  it("answers CloudWatch's AccessDenied (HTTP 403) to a role without cloudwatch:GetMetricData", async () => {
    const release = stack.iam.enforce(policies);
    const credentials = {
      accessKeyId: LOCAL_IDENTITIES.lambda.accessKeyId,
      secretAccessKey: LOCAL_S3_CREDENTIALS.secretAccessKey,
    };
    const cloudwatch = new CloudWatchClient({
      endpoint: stack.cloudwatch.endpoint,
      region: "us-east-1",
      credentials,
      maxAttempts: 1,
    });
    const query = new GetMetricDataCommand({
      StartTime: new Date(Date.now() - 60_000),
      EndTime: new Date(),
      MetricDataQueries: [
        {
          Id: "units",
          MetricStat: {
            Metric: { Namespace: "AWS/Rekognition", MetricName: "InServiceInferenceUnits" },
            Period: 60,
            Stat: "Average",
          },
        },
      ],
    });
    try {
      // The shared Lambda role has no CloudWatch grant; the Report's role has.
      const error = await cloudwatch.send(query).catch((caught: unknown) => caught as Error);
      expect(error).toMatchObject({ name: "AccessDenied" });
      expect((error as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(
        403,
      );
      expect((error as Error).message).toContain(
        `User: ${LOCAL_IDENTITIES.lambda.principalArn} is not authorized to perform: cloudwatch:GetMetricData on resource: *`,
      );
      const allowed = new CloudWatchClient({
        endpoint: stack.cloudwatch.endpoint,
        region: "us-east-1",
        credentials: { ...credentials, accessKeyId: LOCAL_IDENTITIES.report.accessKeyId },
        maxAttempts: 1,
      });
      await expect(allowed.send(query)).resolves.toBeDefined();
      allowed.destroy();
    } finally {
      release();
      cloudwatch.destroy();
    }
  });

  it("answers as the services do: S3 403 AccessDenied, Rekognition AccessDeniedException, and checks s3:GetObject for DetectCustomLabels' S3Object", async () => {
    const release = stack.iam.enforce(policies);
    const { s3, rekognition } = roleClients("lambda");
    try {
      await stack.s3.send(
        new PutObjectCommand({ Bucket: stack.imagesBucket, Key: "elsewhere/x.jpg", Body: "x" }),
      );
      const s3Error = await s3
        .send(new GetObjectCommand({ Bucket: stack.imagesBucket, Key: "elsewhere/x.jpg" }))
        .catch((error: unknown) => error as Error & { $metadata: { httpStatusCode: number } });
      expect(s3Error).toMatchObject({ name: "AccessDenied" });
      expect((s3Error as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(
        403,
      );
      expect((s3Error as Error).message).toBe(
        `User: ${LOCAL_IDENTITIES.lambda.principalArn} is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::${stack.imagesBucket}/elsewhere/x.jpg because no identity-based policy allows the s3:GetObject action`,
      );
      // The operator's key is never evaluated.
      await expect(
        stack.s3.send(new GetObjectCommand({ Bucket: stack.imagesBucket, Key: "elsewhere/x.jpg" })),
      ).resolves.toBeDefined();

      const detectError = await rekognition
        .send(
          new DetectCustomLabelsCommand({
            ProjectVersionArn: stack.projectVersionArn,
            Image: { S3Object: { Bucket: stack.imagesBucket, Name: "elsewhere/x.jpg" } },
          }),
        )
        .catch((error: unknown) => error as Error);
      expect(detectError).toMatchObject({ name: "AccessDeniedException" });
      expect((detectError as Error).message).toContain("s3:GetObject");

      const otherModel = await rekognition
        .send(
          new DetectCustomLabelsCommand({
            ProjectVersionArn: stack.projectVersionArn.replace("/v1/", "/v2/"),
            Image: { Bytes: new Uint8Array([1]) },
          }),
        )
        .catch((error: unknown) => error as Error);
      expect(otherModel).toMatchObject({ name: "AccessDeniedException" });
      expect((otherModel as Error).message).toContain("rekognition:DetectCustomLabels");
    } finally {
      release();
      s3.destroy();
      rekognition.destroy();
    }
  });
});
