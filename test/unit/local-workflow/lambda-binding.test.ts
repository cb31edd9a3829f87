import { describe, expect, it } from "vitest";
import { WorkflowDefinitionError } from "../../../harness/local/workflow/asl.ts";
import {
  bindFunction,
  functionNameFromLogicalId,
  readFunctionRef,
} from "../../../harness/local/workflow/lambda-binding.ts";

describe("function references", () => {
  it("maps Serverless logical ids back to function names", () => {
    expect(functionNameFromLogicalId("PlanLambdaFunction")).toBe("plan");
    expect(functionNameFromLogicalId("ProcessBatchLambdaFunction")).toBe("processBatch");
    expect(functionNameFromLogicalId("ProcessDashbatchLambdaFunction")).toBe("process-batch");
    expect(functionNameFromLogicalId("SafetyUnderscorestopLambdaFunction")).toBe("safety_stop");
  });

  it("reads Fn::GetAtt in both forms, Lambda ARNs and bare names; not service integrations", () => {
    expect(readFunctionRef({ "Fn::GetAtt": ["PlanLambdaFunction", "Arn"] })).toMatchObject({
      logicalId: "PlanLambdaFunction",
      functionName: "plan",
    });
    expect(readFunctionRef({ "Fn::GetAtt": "ReportLambdaFunction.Arn" })).toMatchObject({
      functionName: "report",
    });
    expect(
      readFunctionRef("arn:aws:lambda:eu-west-1:111122223333:function:stop:live"),
    ).toMatchObject({
      functionName: "stop",
    });
    expect(readFunctionRef("plan")).toMatchObject({ functionName: "plan" });
    expect(
      readFunctionRef("arn:aws:states:::aws-sdk:rekognition:describeProjectVersions"),
    ).toBeUndefined();
    expect(readFunctionRef({ Ref: "X" })).toBeUndefined();
  });

  it("binds by logical id first, then by function name, with the function's timeout", () => {
    const byName = () => "name";
    const byId = () => "id";
    const ref = readFunctionRef({ "Fn::GetAtt": ["PlanLambdaFunction", "Arn"] });
    if (!ref) throw new Error("unreadable");
    expect(bindFunction("Plan", ref, { plan: byName }).binding.handler).toBe(byName);
    const bound = bindFunction("Plan", ref, {
      plan: byName,
      PlanLambdaFunction: { handler: byId, timeoutSeconds: 30 },
    });
    expect(bound).toMatchObject({
      boundAs: "PlanLambdaFunction",
      binding: { handler: byId, timeoutSeconds: 30 },
    });
    expect(bound.arn).toMatch(/^arn:aws:lambda:[^:]+:\d{12}:function:plan$/);
  });

  it("names the state, the reference and the bound handlers when nothing matches", () => {
    const ref = readFunctionRef({ "Fn::GetAtt": ["PlanLambdaFunction", "Arn"] });
    if (!ref) throw new Error("unreadable");
    const bind = () => bindFunction("Plan", ref, { report: () => null });
    expect(bind).toThrow(WorkflowDefinitionError);
    expect(bind).toThrow(
      'Task "Plan" calls Fn::GetAtt PlanLambdaFunction but no local handler is bound to "PlanLambdaFunction" or "plan"; bound handlers: report',
    );
  });
});
