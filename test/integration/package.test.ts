import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import aslValidator from "asl-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { policiesFromTemplate } from "../../harness/local/iam/packaged-policies.ts";
import { MODEL_WAIT_SECONDS } from "../../src/workflow-steps.ts";

/**
 * `osls package` builds the real CloudFormation template offline; we assert on
 * what would be deployed: schedule, safety net, runtime, and least-privilege IAM.
 */

const run = promisify(execFile);
const alertTopicArn = "arn:aws:sns:eu-west-1:111122223333:shelf-alerts";
const kmsKeyArn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const projectVersionArn =
  "arn:aws:rekognition:eu-west-1:111122223333:project/shelf-audit/version/shelf-audit.2026-01-01/1767225600000";
const stateMachineName = "rekognition-weekly-batch-prod";

type Statement = {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
};
type Resource = { Type: string; Condition?: string; Properties: Record<string, any> };
type Template = {
  Parameters?: Record<string, { Default?: string }>;
  Conditions?: Record<string, unknown>;
  Resources: Record<string, Resource>;
};

/**
 * What the packaged template means once deployed, with the parameters as the
 * command line gave them (`--param` values are strings): Refs to template
 * parameters take their defaults, pseudo parameters get example values,
 * Fn::If follows its condition, Fn::Join/Select/Split are applied, and
 * resources whose condition is false are gone. Fn::GetAtt stays as it is.
 */
class Deployed {
  constructor(readonly template: Template) {}

  static readonly PSEUDO: Record<string, string> = {
    "AWS::Partition": "aws",
    "AWS::Region": "eu-west-1",
    "AWS::AccountId": "111122223333",
  };

  condition(name: string): boolean {
    return Boolean(this.resolve(this.template.Conditions?.[name]));
  }

  resolve(node: unknown): unknown {
    if (Array.isArray(node)) {
      return node.map((n) => this.resolve(n)).filter((n) => n !== Deployed.NO_VALUE);
    }
    if (!node || typeof node !== "object") return node;
    const entries = Object.entries(node);
    const [key, arg] = entries[0] ?? [];
    if (entries.length === 1 && key === "Ref") {
      if (arg === "AWS::NoValue") return Deployed.NO_VALUE;
      return (
        Deployed.PSEUDO[arg as string] ?? this.template.Parameters?.[arg as string]?.Default ?? node
      );
    }
    if (entries.length === 1 && key === "Fn::If") {
      const [name, yes, no] = arg as [string, unknown, unknown];
      return this.resolve(this.condition(name) ? yes : no);
    }
    if (entries.length === 1 && key === "Fn::Not") return !this.resolve((arg as unknown[])[0]);
    if (entries.length === 1 && key === "Fn::Equals") {
      const [a, b] = this.resolve(arg) as unknown[];
      return a === b;
    }
    if (entries.length === 1 && key === "Fn::Join") {
      const [separator, parts] = arg as [string, unknown[]];
      return (this.resolve(parts) as string[]).join(separator);
    }
    if (entries.length === 1 && key === "Fn::Split") {
      const [separator, text] = this.resolve(arg) as [string, string];
      return text.split(separator);
    }
    if (entries.length === 1 && key === "Fn::Select") {
      const [index, list] = this.resolve(arg) as [number, unknown[]];
      return list[index];
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of entries) {
      const value = this.resolve(v);
      if (value !== Deployed.NO_VALUE) out[k] = value;
    }
    return out;
  }

  static readonly NO_VALUE = Symbol("AWS::NoValue");

  resources(type: string): [string, Resource][] {
    return Object.entries(this.template.Resources).filter(
      ([, r]) => r.Type === type && (r.Condition === undefined || this.condition(r.Condition)),
    );
  }

  /** Every statement granted to a role: its inline policies and the policies attached to it. */
  statementsOf(roleId: string): Statement[] {
    const inline = (this.template.Resources[roleId]?.Properties.Policies ?? []).map(
      (p: { PolicyDocument: unknown }) => p.PolicyDocument,
    );
    const attached = this.resources("AWS::IAM::Policy")
      .filter(([, p]) => JSON.stringify(p.Properties.Roles).includes(`"${roleId}"`))
      .map(([, p]) => p.Properties.PolicyDocument);
    return [...inline, ...attached].flatMap(
      (document) => (this.resolve(document) as { Statement: Statement[] }).Statement,
    );
  }

  find(roleId: string, action: string): Statement[] {
    return this.statementsOf(roleId).filter((s) => actions(s).includes(action));
  }
}

function actions(statement: Statement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

function resources(statement: Statement): unknown[] {
  return Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
}

/** `osls package` with parameters given as `--param` strings, as a user types them. */
async function packageWith(
  params: Record<string, string>,
): Promise<{ dir: string; template: Template }> {
  const dir = await mkdtemp(join(tmpdir(), "package-"));
  await run(
    "npx",
    [
      "osls",
      "package",
      "--package",
      dir,
      "--region",
      "eu-west-1",
      ...Object.entries(params).flatMap(([name, value]) => ["--param", `${name}=${value}`]),
    ],
    {
      env: {
        ...process.env,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        // Each package run builds in its own folder (a finished run deletes its folder).
        ESBUILD_WORK_FOLDER: join(dir, ".esbuild"),
      },
      timeout: 240_000,
    },
  );
  const template = JSON.parse(
    await readFile(join(dir, "cloudformation-template-update-stack.json"), "utf8"),
  );
  return { dir, template };
}

const LAMBDA_ROLE = "IamRoleLambdaExecution";
const MACHINE_ROLE = "WeeklyBatchStateMachineRole";
const REPORT_ROLE = "ReportFunctionRole";
const PLAN_SHARD_ROLE = "PlanShardFunctionRole";

/** Every setting given (the Athena table on), the results in their own bucket. */
let full: { dir: string; template: Template };
/** Only the two required parameters (and the schedule switched off, as a string). */
let minimal: { dir: string; template: Template };
let template: Template;
let deployed: Deployed;
let deployedMinimal: Deployed;

function resourcesOfType(type: string) {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

beforeAll(async () => {
  // One after the other: two builds at once compete for memory on a small machine.
  full = await packageWith({
    projectVersionArn,
    imagesBucket: "acme-shelf-images",
    imagesPrefix: "incoming/",
    resultsBucket: "acme-shelf-results",
    resultsPrefix: "labels/",
    alertTopicArn,
    kmsKeyArn,
    athena: "true",
  });
  minimal = await packageWith({
    projectVersionArn,
    imagesBucket: "acme-shelf",
    scheduleEnabled: "false",
  });
  template = full.template;
  deployed = new Deployed(full.template);
  deployedMinimal = new Deployed(minimal.template);
}, 540_000);

afterAll(async () => {
  for (const packaged of [full, minimal]) {
    if (packaged) await rm(packaged.dir, { recursive: true, force: true });
  }
});

describe("the packaged CloudFormation template", () => {
  it("has a Standard state machine started by a weekly schedule with an empty input", () => {
    const [machines] = [resourcesOfType("AWS::StepFunctions::StateMachine")];
    expect(machines).toHaveLength(1);
    const schedules = resourcesOfType("AWS::Events::Rule").filter(
      ([, r]) => r.Properties.ScheduleExpression === "cron(0 2 ? * MON *)",
    );
    expect(schedules).toHaveLength(1);
    const target = schedules[0]?.[1].Properties.Targets[0];
    expect(target.Input).toBe("{}");
  });

  it("routes FAILED, TIMED_OUT and ABORTED executions of this state machine to the safety stop", () => {
    const rule = resourcesOfType("AWS::Events::Rule").find(
      ([, r]) => r.Properties.EventPattern?.source?.[0] === "aws.states",
    );
    expect(rule).toBeDefined();
    const pattern = rule?.[1].Properties.EventPattern;
    expect(pattern["detail-type"]).toEqual(["Step Functions Execution Status Change"]);
    expect(pattern.detail.status).toEqual(["FAILED", "TIMED_OUT", "ABORTED"]);
    expect(JSON.stringify(pattern.detail.stateMachineArn)).toContain("rekognition-weekly-batch");
    expect(JSON.stringify(rule?.[1].Properties.Targets)).toContain("SafetyStopLambdaFunction");
  });

  it("ends a hung execution at the workflow timeout: 24 hours by default", () => {
    const [[, machine] = []] = resourcesOfType("AWS::StepFunctions::StateMachine");
    const sub = machine?.Properties.DefinitionString["Fn::Sub"];
    const definition = JSON.parse(Array.isArray(sub) ? sub[0] : sub);
    // An integer, as Step Functions requires (a --param value is a string).
    expect(definition.TimeoutSeconds).toBe(86_400);
  });

  it("runs an hourly reaper", () => {
    const reaper = resourcesOfType("AWS::Events::Rule").find(([, r]) =>
      JSON.stringify(r.Properties.Targets).includes("ReaperLambdaFunction"),
    );
    expect(reaper?.[1].Properties.ScheduleExpression).toBe("rate(1 hour)");
  });

  it("deploys every Lambda on nodejs22.x", () => {
    const functions = resourcesOfType("AWS::Lambda::Function");
    expect(functions.map(([id]) => id).sort()).toEqual(
      [
        "CheckModelLambdaFunction",
        "EnsureModelRunningLambdaFunction",
        "EvaluateRoundLambdaFunction",
        "MergePlanLambdaFunction",
        "PlanLambdaFunction",
        "PlanShardLambdaFunction",
        "ProcessBatchLambdaFunction",
        "ReaperLambdaFunction",
        "ReportLambdaFunction",
        "SafetyStopLambdaFunction",
        "StopModelLambdaFunction",
      ].sort(),
    );
    for (const [, fn] of functions) expect(fn.Properties.Runtime).toBe("nodejs22.x");
  });

  it("grants no wildcard resources for Rekognition actions or S3 writes, in any role", () => {
    for (const config of [deployed, deployedMinimal]) {
      for (const [id] of config.resources("AWS::IAM::Role")) {
        for (const statement of config.statementsOf(id)) {
          // DescribeProjects (read-only listing) is the one action IAM cannot scope.
          const sensitive = actions(statement).some(
            (a) =>
              (a.startsWith("rekognition:") && a !== "rekognition:DescribeProjects") ||
              a === "s3:PutObject" ||
              a === "s3:*",
          );
          if (!sensitive) continue;
          for (const resource of resources(statement)) {
            expect(resource, `${id}: ${actions(statement).join(",")}`).not.toBe("*");
            expect(String(resource)).not.toMatch(/^arn:aws:s3:::\*|^arn:aws:rekognition:\*/);
          }
        }
      }
    }
  });

  it("scopes the Lambdas to this model version and its own project", () => {
    for (const action of [
      "rekognition:StartProjectVersion",
      "rekognition:StopProjectVersion",
      "rekognition:DetectCustomLabels",
    ]) {
      expect(deployed.find(LAMBDA_ROLE, action).flatMap(resources)).toEqual([projectVersionArn]);
    }
    expect(deployed.find(LAMBDA_ROLE, "rekognition:DescribeProjects").flatMap(actions)).toEqual([
      "rekognition:DescribeProjects",
    ]);
    // project/<name>/<id>: "shelf-audit/*", which "shelf-audit-2/..." does not match.
    expect(
      deployed.find(LAMBDA_ROLE, "rekognition:DescribeProjectVersions").flatMap(resources),
    ).toEqual(["arn:aws:rekognition:eu-west-1:111122223333:project/shelf-audit/*"]);
  });

  it("scopes S3 to the two prefixes, with the multipart abort the manifest writer needs", () => {
    const find = (action: string) => deployed.find(LAMBDA_ROLE, action).flatMap(resources);
    expect(find("s3:PutObject")).toEqual(["arn:aws:s3:::acme-shelf-results/labels/*"]);
    expect(find("s3:AbortMultipartUpload")).toEqual(["arn:aws:s3:::acme-shelf-results/labels/*"]);
    expect(find("s3:GetObject").sort()).toEqual(
      [
        "arn:aws:s3:::acme-shelf-images/incoming/*",
        "arn:aws:s3:::acme-shelf-results/labels/*",
      ].sort(),
    );
    expect(find("s3:GetBucketLocation").sort()).toEqual(
      ["arn:aws:s3:::acme-shelf-images", "arn:aws:s3:::acme-shelf-results"].sort(),
    );
  });

  it("grants cloudwatch:GetMetricData to the Report Lambda's own role only, which cannot touch the model", () => {
    const lambdas = deployed.resources("AWS::Lambda::Function");
    const roleOf = (id: string) =>
      JSON.stringify(lambdas.find(([name]) => name === id)?.[1].Properties.Role);
    expect(roleOf("ReportLambdaFunction")).toBe(`{"Fn::GetAtt":["${REPORT_ROLE}","Arn"]}`);
    const ownRoles = ["ReportLambdaFunction", "PlanShardLambdaFunction", "MergePlanLambdaFunction"];
    for (const [id] of lambdas.filter(([name]) => !ownRoles.includes(name))) {
      expect(roleOf(id), id).toBe(`{"Fn::GetAtt":["${LAMBDA_ROLE}","Arn"]}`);
    }
    const granting = deployed
      .resources("AWS::IAM::Role")
      .filter(([id]) =>
        deployed.statementsOf(id).some((s) => actions(s).includes("cloudwatch:GetMetricData")),
      );
    expect(granting.map(([id]) => id)).toEqual([REPORT_ROLE]);

    const find = (action: string) => deployed.find(REPORT_ROLE, action);
    // GetMetricData takes no resource ARN: "*" is the only resource IAM accepts for it.
    expect(find("cloudwatch:GetMetricData").flatMap(resources)).toEqual(["*"]);
    expect(find("cloudwatch:GetMetricData").flatMap(actions)).toEqual(["cloudwatch:GetMetricData"]);
    const granted = deployed.statementsOf(REPORT_ROLE).flatMap(actions);
    expect(granted.filter((a) => a.startsWith("rekognition:"))).toEqual([]);
    expect(find("s3:PutObject").flatMap(resources)).toEqual([
      "arn:aws:s3:::acme-shelf-results/labels/*",
    ]);
    expect(find("s3:GetObject").flatMap(resources)).toEqual([
      "arn:aws:s3:::acme-shelf-results/labels/*",
    ]);
    expect(find("s3:ListBucket")[0]?.Condition?.StringLike?.["s3:prefix"]).toEqual(["labels/*"]);
    expect(JSON.stringify(find("logs:PutLogEvents").flatMap(resources))).toContain(
      "/aws/lambda/rekognition-weekly-batch-prod-report",
    );
  });

  it("gives the sharded Plan's Lambdas a role that lists images and reads and writes results, nothing else", () => {
    const lambdas = deployed.resources("AWS::Lambda::Function");
    for (const id of ["PlanShardLambdaFunction", "MergePlanLambdaFunction"]) {
      const role = lambdas.find(([name]) => name === id)?.[1].Properties.Role;
      expect(JSON.stringify(role), id).toBe(`{"Fn::GetAtt":["${PLAN_SHARD_ROLE}","Arn"]}`);
    }
    const granted = [...new Set(deployed.statementsOf(PLAN_SHARD_ROLE).flatMap(actions))].sort();
    expect(granted.filter((a) => !a.startsWith("logs:") && !a.startsWith("kms:"))).toEqual([
      "s3:AbortMultipartUpload",
      "s3:GetObject",
      "s3:ListBucket",
      "s3:PutObject",
    ]);
    const find = (action: string) => deployed.find(PLAN_SHARD_ROLE, action);
    for (const action of ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]) {
      expect(find(action).flatMap(resources)).toEqual(["arn:aws:s3:::acme-shelf-results/labels/*"]);
    }
    expect(find("s3:ListBucket").map((s) => [s.Resource, s.Condition])).toEqual([
      ["arn:aws:s3:::acme-shelf-images", { StringLike: { "s3:prefix": ["incoming/*"] } }],
      ["arn:aws:s3:::acme-shelf-results", { StringLike: { "s3:prefix": ["labels/*"] } }],
    ]);
    const logs = JSON.stringify(find("logs:PutLogEvents").flatMap(resources));
    expect(logs).toContain("/aws/lambda/rekognition-weekly-batch-prod-planShard");
    expect(logs).toContain("/aws/lambda/rekognition-weekly-batch-prod-mergePlan");
  });

  it("lets every listing the job makes through, and only those", () => {
    // What the job sends: the images prefix; the results ledger and a run's map results
    // (always a folder under the results prefix, so `prefix` is always present there).
    const lists = (config: Deployed) =>
      config.find(LAMBDA_ROLE, "s3:ListBucket").map((s) => [s.Resource, s.Condition]);
    expect(lists(deployed)).toEqual([
      ["arn:aws:s3:::acme-shelf-images", { StringLike: { "s3:prefix": ["incoming/*"] } }],
      ["arn:aws:s3:::acme-shelf-results", { StringLike: { "s3:prefix": ["labels/*"] } }],
    ]);
    // An empty images prefix lists the whole bucket without a `prefix` parameter, which no
    // s3:prefix condition matches: that grant has no condition.
    expect(lists(deployedMinimal)).toEqual([
      ["arn:aws:s3:::acme-shelf", undefined],
      ["arn:aws:s3:::acme-shelf", { StringLike: { "s3:prefix": ["rekognition-results/*"] } }],
    ]);
  });

  it("lets the state machine run, stop and redrive its Distributed Map children, and touch only the results prefix", () => {
    const statements = deployed.statementsOf(MACHINE_ROLE);
    const s3 = statements.filter((s) => actions(s).some((a) => a.startsWith("s3:")));
    expect(s3.flatMap(resources)).toEqual(["arn:aws:s3:::acme-shelf-results/labels/*"]);
    const execution = `arn:aws:states:eu-west-1:111122223333:execution:${stateMachineName}`;
    expect(deployed.find(MACHINE_ROLE, "states:StartExecution").flatMap(resources)).toEqual([
      `arn:aws:states:eu-west-1:111122223333:stateMachine:${stateMachineName}`,
    ]);
    for (const action of ["states:DescribeExecution", "states:StopExecution"]) {
      expect(deployed.find(MACHINE_ROLE, action).flatMap(resources)).toEqual([
        `${execution}:*`,
        `${execution}/ProcessImages:*`,
        `${execution}/PlanShards:*`,
      ]);
    }
    expect(deployed.find(MACHINE_ROLE, "states:RedriveExecution").flatMap(resources)).toEqual([
      `${execution}/ProcessImages:*`,
      `${execution}/PlanShards:*`,
    ]);
  });

  it("lets only the state machine publish, only to the alert topic, only when one is set", () => {
    expect(deployed.find(MACHINE_ROLE, "sns:Publish").flatMap(resources)).toEqual([alertTopicArn]);
    expect(deployedMinimal.find(MACHINE_ROLE, "sns:Publish")).toEqual([]);
    for (const config of [deployed, deployedMinimal]) {
      const lambda = config.statementsOf(LAMBDA_ROLE).flatMap(actions);
      expect(lambda.filter((a) => a.startsWith("sns:"))).toEqual([]);
    }
  });

  it("grants the KMS key to every role only when one is given", () => {
    for (const role of [LAMBDA_ROLE, MACHINE_ROLE, REPORT_ROLE, PLAN_SHARD_ROLE]) {
      expect(deployed.find(role, "kms:Decrypt").flatMap(resources)).toEqual([kmsKeyArn]);
      expect(deployed.find(role, "kms:GenerateDataKey").flatMap(resources)).toEqual([kmsKeyArn]);
      const kms = deployedMinimal.statementsOf(role).flatMap(actions);
      expect(kms.filter((a) => a.startsWith("kms:"))).toEqual([]);
    }
  });

  it("gives the local IAM check the same KMS grant: the attached policy, per role, only when a key is given", () => {
    for (const role of ["lambda", "report", "planShard", "stateMachine"] as const) {
      const granted = (packaged: Template) =>
        policiesFromTemplate(packaged as never)
          [role].flatMap((entry) => entry.policy.Statement as Statement[])
          .filter((statement) => actions(statement).includes("kms:Decrypt"))
          .flatMap(resources);
      expect(granted(full.template)).toEqual([kmsKeyArn]);
      expect(granted(minimal.template)).toEqual([]);
    }
  });

  it("writes no partition into an ARN it builds: aws-cn and GovCloud deploy the same template", () => {
    for (const packaged of [full.template, minimal.template]) {
      // The state machine definition's service integrations (arn:aws:states:::s3:getObject) aside.
      const built = Object.values(packaged.Resources).filter(
        (r) => r.Type !== "AWS::StepFunctions::StateMachine",
      );
      const text = JSON.stringify(built)
        .replaceAll(projectVersionArn, "")
        .replaceAll(alertTopicArn, "")
        .replaceAll(kmsKeyArn, "");
      expect(text.match(/arn:aws[-:][^"]{0,60}/g) ?? []).toEqual([]);
    }
  });

  it("switches the schedule off with --param scheduleEnabled=false, a string", () => {
    const state = (config: Deployed) =>
      config
        .resources("AWS::Events::Rule")
        .find(([, r]) => r.Properties.ScheduleExpression === "cron(0 2 ? * MON *)")?.[1].Properties
        .State;
    expect(state(deployed)).toBe("ENABLED");
    expect(state(deployedMinimal)).toBe("DISABLED");
  });

  it("declares the deployed IAM scope to the Lambdas, with the defaults of the minimal configuration", () => {
    const [, plan] =
      deployedMinimal
        .resources("AWS::Lambda::Function")
        .find(([id]) => id === "PlanLambdaFunction") ?? [];
    const env = deployedMinimal.resolve(plan?.Properties.Environment.Variables);
    expect(env).toMatchObject({
      DEPLOYED_IAM_SCOPE: "true",
      IMAGES_BUCKET: "acme-shelf",
      IMAGES_PREFIX: "",
      RESULTS_BUCKET: "acme-shelf",
      RESULTS_PREFIX: "rekognition-results/",
      PROJECT_VERSION_ARN: projectVersionArn,
    });
  });
});

describe("the run's event", () => {
  it("may be put by the state machine only, only on the account's default bus", () => {
    for (const config of [deployed, deployedMinimal]) {
      expect(config.find(MACHINE_ROLE, "events:PutEvents").flatMap(resources)).toEqual([
        "arn:aws:events:eu-west-1:111122223333:event-bus/default",
      ]);
      for (const role of [LAMBDA_ROLE, REPORT_ROLE]) {
        const granted = config.statementsOf(role).flatMap(actions);
        expect(granted.filter((a) => a.startsWith("events:"))).toEqual([]);
      }
    }
  });
});

describe("the optional Athena table", () => {
  const glue = (config: Deployed) =>
    [...config.resources("AWS::Glue::Database"), ...config.resources("AWS::Glue::Table")].map(
      ([id]) => id,
    );

  it("is off by default: its resources are in the template under a condition that is false", () => {
    expect(glue(deployedMinimal)).toEqual([]);
    for (const id of ["ResultsDatabase", "ResultsTable"]) {
      expect(minimal.template.Resources[id]?.Condition).toBe("AthenaEnabled");
    }
    expect(deployedMinimal.condition("AthenaEnabled")).toBe(false);
  });

  it("athena=true (a string) adds a database and a projected table over the runs' result parts", () => {
    expect(glue(deployed)).toEqual(["ResultsDatabase", "ResultsTable"]);
    const [, database] = deployed.resources("AWS::Glue::Database")[0] ?? [];
    expect(database?.Properties.DatabaseInput.Name).toBe("rekognition_weekly_batch_prod");
    const [, table] = deployed.resources("AWS::Glue::Table")[0] ?? [];
    const input = deployed.resolve(table?.Properties.TableInput) as {
      StorageDescriptor: { Location: string; SerdeInfo: { SerializationLibrary: string } };
      PartitionKeys: { Name: string }[];
      Parameters: Record<string, string>;
    };
    expect(input.StorageDescriptor.Location).toBe("s3://acme-shelf-results/labels/runs/");
    expect(input.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe(
      "org.openx.data.jsonserde.JsonSerDe",
    );
    expect(input.PartitionKeys.map((k) => k.Name)).toEqual(["run_id"]);
    expect(input.Parameters).toMatchObject({
      "projection.enabled": "true",
      "projection.run_id.type": "injected",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Athena's placeholder, not JavaScript's
      "storage.location.template": "s3://acme-shelf-results/labels/runs/${run_id}/results/",
    });
  });

  it("grants no IAM, on or off: no Glue or Athena action, no role refers to the table", () => {
    for (const packaged of [full.template, minimal.template]) {
      const roles = Object.values(packaged.Resources).filter((r) =>
        ["AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"].includes(r.Type),
      );
      const text = JSON.stringify(roles);
      expect(text).not.toMatch(/"(glue|athena):/);
      expect(text).not.toMatch(/ResultsDatabase|ResultsTable/);
    }
  });
});

describe("osls package without a required parameter", () => {
  it("names the missing parameters and how to pass them", async () => {
    const failure = await run("npx", ["osls", "package", "--package", join(tmpdir(), "never")], {
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
      timeout: 120_000,
    }).then(
      () => undefined,
      (error: { stdout: string; stderr: string }) => `${error.stdout}\n${error.stderr}`,
    );
    expect(failure).toBeDefined();
    expect(failure).toContain(
      'the deployment parameter projectVersionArn is required: pass --param="projectVersionArn=arn:aws:rekognition:',
    );
    expect(failure).toContain(
      'the deployment parameter imagesBucket is required: pass --param="imagesBucket=',
    );
    expect(failure).not.toContain("provider.iam.role.statements");
  });
});

describe("cfn-lint", () => {
  const configurations = [
    ["every setting given, the Athena table on", () => full.dir],
    ["only the two required parameters, the Athena table off", () => minimal.dir],
  ] as const;
  for (const [name, dirOf] of configurations) {
    it(`finds no errors in the packaged template (${name})`, async (ctx) => {
      const found = await run("cfn-lint", ["--version"]).then(
        () => true,
        () => false,
      );
      if (!found) ctx.skip("cfn-lint is not installed");
      // Exit code 0 = clean; 4 = warnings only; 2 (errors) or other codes reject.
      const result = await run("cfn-lint", [
        join(dirOf(), "cloudformation-template-update-stack.json"),
      ]).then(
        () => ({ code: 0, stdout: "" }),
        (error: { code: number; stdout: string }) => error,
      );
      expect([0, 4], result.stdout).toContain(result.code);
    });
  }
});

describe("the state machine definition", () => {
  const definitionPath = join(import.meta.dirname, "../../statemachines/weekly-batch.asl.yml");

  it("passes asl-validator", async () => {
    const definition = parseYaml(await readFile(definitionPath, "utf8"));
    // Resources are CloudFormation references until deploy: give them a Lambda ARN shape.
    const resolved = JSON.parse(
      JSON.stringify(definition).replace(
        /\{"Fn::GetAtt":\["(\w+)","Arn"\]\}/g,
        '"arn:aws:lambda:eu-west-1:111122223333:function:$1"',
      ),
    );
    const { isValid, errorsText } = aslValidator(resolved);
    expect(isValid, errorsText?.("\n")).toBe(true);
  });

  it("waits between model checks as long as the check step counts on", async () => {
    const definition = parseYaml(await readFile(definitionPath, "utf8"));
    expect(definition.States.WaitForModel.Seconds).toBe(MODEL_WAIT_SECONDS);
  });
});
