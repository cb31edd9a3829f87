import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import aslValidator from "asl-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { LAMBDA_RUNTIME_ERROR_NAMES, RUNNER_ERROR_NAMES } from "../../src/errors.ts";
import { MODEL_WAIT_SECONDS } from "../../src/workflow-steps.ts";

/**
 * `osls package` builds the real CloudFormation template offline; we assert on
 * what would be deployed: schedule, safety net, runtime, and least-privilege IAM.
 */

const run = promisify(execFile);
const alertTopicArn = "arn:aws:sns:eu-west-1:111122223333:shelf-alerts";
const projectVersionArn =
  "arn:aws:rekognition:eu-west-1:111122223333:project/shelf-audit/version/shelf-audit.2026-01-01/1767225600000";

type Statement = {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
};
type Template = { Resources: Record<string, { Type: string; Properties: Record<string, any> }> };

let dir: string;
let template: Template;

function resourcesOfType(type: string) {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

/** A conditional statement (`Fn::If: [condition, statement, AWS::NoValue]`) as its "true" branch. */
function whenConditionHolds(statement: Statement | { "Fn::If": [string, Statement, unknown] }) {
  return "Fn::If" in statement ? statement["Fn::If"][1] : statement;
}

function statementsOf(roleProperties: Record<string, any>): Statement[] {
  return roleProperties.Policies.flatMap(
    (policy: { PolicyDocument: { Statement: Statement[] } }) => policy.PolicyDocument.Statement,
  ).map(whenConditionHolds);
}

function actions(statement: Statement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

function resources(statement: Statement): unknown[] {
  return Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "package-"));
  await run(
    "npx",
    [
      "osls",
      "package",
      "--package",
      dir,
      "--region",
      "eu-west-1",
      "--param",
      `projectVersionArn=${projectVersionArn}`,
      "--param",
      "imagesBucket=acme-shelf-images",
      "--param",
      "imagesPrefix=incoming/",
      "--param",
      "resultsBucket=acme-shelf-results",
      "--param",
      "resultsPrefix=labels/",
      "--param",
      `alertTopicArn=${alertTopicArn}`,
    ],
    {
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
      timeout: 240_000,
    },
  );
  template = JSON.parse(
    await readFile(join(dir, "cloudformation-template-update-stack.json"), "utf8"),
  );
}, 300_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
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
        "PlanLambdaFunction",
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
    for (const [id, role] of resourcesOfType("AWS::IAM::Role")) {
      for (const statement of statementsOf(role.Properties)) {
        // DescribeProjects (read-only listing) is the one action IAM cannot scope.
        const sensitive = actions(statement).some(
          (a) =>
            (a.startsWith("rekognition:") && a !== "rekognition:DescribeProjects") ||
            a === "s3:PutObject" ||
            a === "s3:*",
        );
        if (!sensitive) continue;
        for (const resource of resources(statement)) {
          const text = JSON.stringify(resource);
          expect(text, `${id}: ${actions(statement).join(",")}`).not.toBe('"*"');
          expect(text).not.toMatch(/arn:aws:s3:::\*|"arn:aws:rekognition:\*/);
        }
      }
    }
  });

  it("scopes the Lambdas to this model version, its project and the two prefixes", () => {
    const lambdaRole = template.Resources.IamRoleLambdaExecution;
    const statements = statementsOf(lambdaRole?.Properties ?? {});
    const find = (action: string) => statements.filter((s) => actions(s).includes(action));

    for (const action of [
      "rekognition:StartProjectVersion",
      "rekognition:StopProjectVersion",
      "rekognition:DetectCustomLabels",
    ]) {
      expect(find(action).flatMap(resources)).toEqual([projectVersionArn]);
    }
    expect(find("rekognition:DescribeProjects").flatMap(actions)).toEqual([
      "rekognition:DescribeProjects",
    ]);
    const describe = JSON.stringify(find("rekognition:DescribeProjectVersions").flatMap(resources));
    expect(describe).toContain('"/version/"');
    expect(describe).toContain(projectVersionArn);

    const puts = find("s3:PutObject").flatMap(resources);
    expect(puts).toEqual(["arn:aws:s3:::acme-shelf-results/labels/*"]);
    const gets = find("s3:GetObject").flatMap(resources).sort();
    expect(gets).toEqual(
      [
        "arn:aws:s3:::acme-shelf-images/incoming/*",
        "arn:aws:s3:::acme-shelf-results/labels/*",
      ].sort(),
    );
    for (const list of find("s3:ListBucket")) {
      const prefixes = list.Condition?.StringLike?.["s3:prefix"];
      expect(prefixes, "ListBucket must be limited to a prefix").toBeDefined();
    }
  });

  it("grants cloudwatch:GetMetricData to the Report Lambda's own role only, which cannot touch the model", () => {
    const lambdas = resourcesOfType("AWS::Lambda::Function");
    const roleOf = (id: string) =>
      JSON.stringify(lambdas.find(([name]) => name === id)?.[1].Properties.Role);
    expect(roleOf("ReportLambdaFunction")).toBe('{"Fn::GetAtt":["ReportFunctionRole","Arn"]}');
    for (const [id] of lambdas.filter(([name]) => name !== "ReportLambdaFunction")) {
      expect(roleOf(id), id).toBe('{"Fn::GetAtt":["IamRoleLambdaExecution","Arn"]}');
    }
    const granting = resourcesOfType("AWS::IAM::Role").filter(([, role]) =>
      statementsOf(role.Properties).some((s) => actions(s).includes("cloudwatch:GetMetricData")),
    );
    expect(granting.map(([id]) => id)).toEqual(["ReportFunctionRole"]);

    const statements = statementsOf(template.Resources.ReportFunctionRole?.Properties ?? {});
    const find = (action: string) => statements.filter((s) => actions(s).includes(action));
    // GetMetricData takes no resource ARN: "*" is the only resource IAM accepts for it.
    expect(find("cloudwatch:GetMetricData").flatMap(resources)).toEqual(["*"]);
    expect(find("cloudwatch:GetMetricData").flatMap(actions)).toEqual(["cloudwatch:GetMetricData"]);
    expect(statements.flatMap(actions).filter((a) => a.startsWith("rekognition:"))).toEqual([]);
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

  it("lets the state machine start its own Distributed Map children and touch only the results prefix", () => {
    const role = template.Resources.WeeklyBatchStateMachineRole;
    const statements = statementsOf(role?.Properties ?? {});
    const s3 = statements.filter((s) => actions(s).some((a) => a.startsWith("s3:")));
    expect(s3.flatMap(resources)).toEqual(["arn:aws:s3:::acme-shelf-results/labels/*"]);
    const start = statements.find((s) => actions(s).includes("states:StartExecution"));
    expect(JSON.stringify(start?.Resource)).toContain("stateMachine");
  });

  it("lets only the state machine publish, only to the alert topic, only when one is set", () => {
    const role = template.Resources.WeeklyBatchStateMachineRole;
    const raw = role?.Properties.Policies.flatMap(
      (policy: { PolicyDocument: { Statement: unknown[] } }) => policy.PolicyDocument.Statement,
    );
    const conditional = raw.find((s: Record<string, unknown>) => "Fn::If" in s);
    expect(conditional).toEqual({
      "Fn::If": [
        "AlertTopicSet",
        { Effect: "Allow", Action: "sns:Publish", Resource: alertTopicArn },
        { Ref: "AWS::NoValue" },
      ],
    });
    // An empty alertTopicArn makes the condition false, which drops the statement.
    expect((template as { Conditions?: unknown }).Conditions).toEqual({
      AlertTopicSet: { "Fn::Not": [{ "Fn::Equals": [alertTopicArn, ""] }] },
    });
    const lambdaStatements = statementsOf(
      template.Resources.IamRoleLambdaExecution?.Properties ?? {},
    );
    expect(lambdaStatements.flatMap(actions).filter((a) => a.startsWith("sns:"))).toEqual([]);
  });
});

describe("cfn-lint", () => {
  it("finds no errors in the packaged template", async (ctx) => {
    const found = await run("cfn-lint", ["--version"]).then(
      () => true,
      () => false,
    );
    if (!found) ctx.skip("cfn-lint is not installed");
    // Exit code 0 = clean; 4 = warnings only; 2 (errors) or other codes reject.
    const result = await run("cfn-lint", [
      join(dir, "cloudformation-template-update-stack.json"),
    ]).then(
      () => ({ code: 0, stdout: "" }),
      (error: { code: number; stdout: string }) => error,
    );
    expect([0, 4], result.stdout).toContain(result.code);
  });
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

  it("matches only error names the code can throw", async () => {
    const text = await readFile(definitionPath, "utf8");
    const names = new Set<string>();
    const collect = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(collect);
      else if (node && typeof node === "object") {
        for (const [key, value] of Object.entries(node)) {
          if (key === "ErrorEquals") for (const name of value as string[]) names.add(name);
          else collect(value);
        }
      }
    };
    collect(parseYaml(text));
    const allowed = (name: string) =>
      name.startsWith("States.") ||
      name.startsWith("Lambda.") ||
      (LAMBDA_RUNTIME_ERROR_NAMES as readonly string[]).includes(name) ||
      (RUNNER_ERROR_NAMES as readonly string[]).includes(name);
    expect([...names].filter((n) => !allowed(n))).toEqual([]);
    expect(names.size).toBeGreaterThan(3);
  });
});
