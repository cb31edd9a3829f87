import { describe, expect, it } from "vitest";
import { policiesFromTemplate } from "../../harness/local/iam/packaged-policies.ts";

/**
 * The policies the local IAM check enforces are every policy AWS would: a
 * role's inline policies and the `AWS::IAM::Policy` resources attached to it,
 * those with a `Condition` only when it holds.
 */

const KEY = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab";

const role = (statement: Record<string, unknown>) => ({
  Type: "AWS::IAM::Role",
  Properties: {
    Policies: [{ PolicyName: "inline", PolicyDocument: { Statement: [statement] } }],
  },
});

function template(kmsKeyArn: string) {
  return {
    Parameters: { KmsKeyArn: { Type: "String", Default: kmsKeyArn } },
    Conditions: { KmsKeySet: { "Fn::Not": [{ "Fn::Equals": [{ Ref: "KmsKeyArn" }, ""] }] } },
    Resources: {
      IamRoleLambdaExecution: role({ Effect: "Allow", Action: "s3:GetObject", Resource: "*" }),
      ReportFunctionRole: role({ Effect: "Allow", Action: "s3:PutObject", Resource: "*" }),
      PlanShardFunctionRole: role({ Effect: "Allow", Action: "s3:ListBucket", Resource: "*" }),
      WeeklyBatchStateMachineRole: role({
        Effect: "Allow",
        Action: "lambda:InvokeFunction",
        Resource: "*",
      }),
      KmsKeyAccessPolicy: {
        Type: "AWS::IAM::Policy",
        Condition: "KmsKeySet",
        Properties: {
          PolicyName: "weekly-batch-kms-key",
          Roles: [
            { Ref: "IamRoleLambdaExecution" },
            { Ref: "WeeklyBatchStateMachineRole" },
            { Ref: "ReportFunctionRole" },
            { Ref: "PlanShardFunctionRole" },
          ],
          PolicyDocument: {
            Statement: [
              {
                Effect: "Allow",
                Action: ["kms:Decrypt", "kms:GenerateDataKey"],
                Resource: { Ref: "KmsKeyArn" },
              },
            ],
          },
        },
      },
      ReportOnlyPolicy: {
        Type: "AWS::IAM::Policy",
        Properties: {
          PolicyName: "report-extra",
          Roles: [{ Ref: "ReportFunctionRole" }],
          PolicyDocument: {
            Statement: [
              {
                Effect: "Allow",
                Action: "cloudwatch:GetMetricData",
                Resource: { "Fn::Sub": "*" },
              },
            ],
          },
        },
      },
    },
  };
}

const actionsOf = (entries: { policy: { Statement: Record<string, unknown>[] } }[]) =>
  entries.flatMap((entry) => entry.policy.Statement.flatMap((statement) => statement.Action));

describe("policiesFromTemplate", () => {
  it("adds the attached policies whose condition holds to each role they name, resolved", () => {
    const policies = policiesFromTemplate(template(KEY));
    for (const role of ["lambda", "report", "planShard", "stateMachine"] as const) {
      const kms = policies[role].find((entry) => entry.name === "weekly-batch-kms-key");
      expect(kms?.policy.Statement).toEqual([
        { Effect: "Allow", Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: KEY },
      ]);
    }
    expect(actionsOf(policies.report)).toEqual([
      "s3:PutObject",
      "kms:Decrypt",
      "kms:GenerateDataKey",
      "cloudwatch:GetMetricData",
    ]);
    expect(actionsOf(policies.lambda)).not.toContain("cloudwatch:GetMetricData");
  });

  it("leaves out an attached policy whose condition does not hold (no KMS key given)", () => {
    const policies = policiesFromTemplate(template(""));
    for (const role of ["lambda", "report", "planShard", "stateMachine"] as const) {
      expect(
        actionsOf(policies[role]).filter((action) => String(action).startsWith("kms:")),
      ).toEqual([]);
    }
    expect(actionsOf(policies.report)).toContain("cloudwatch:GetMetricData");
  });

  it("names an unknown condition of an attached policy", () => {
    const broken = template(KEY);
    (broken.Resources.KmsKeyAccessPolicy as { Condition: string }).Condition = "NoSuchCondition";
    expect(() => policiesFromTemplate(broken)).toThrow(/NoSuchCondition/);
  });
});
