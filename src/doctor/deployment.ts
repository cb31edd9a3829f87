/**
 * The deployment as `osls deploy` left it: the CloudFormation stack, its
 * state machine (a stack output), and the parameters, which live in the
 * Lambdas' environment (serverless.yml turns every `--param` into one).
 */
import {
  type CloudFormationClient,
  DescribeStacksCommand,
  type Stack,
} from "@aws-sdk/client-cloudformation";
import { GetFunctionConfigurationCommand, type LambdaClient } from "@aws-sdk/client-lambda";
import { DescribeStateMachineCommand, type SFNClient } from "@aws-sdk/client-sfn";
import { awsErrorName } from "../aws-errors.ts";
import { type CheckResult, errorText, fail, pass, skip } from "./check.ts";

/** What the doctor reads from a deployed stack. */
export interface Deployment {
  stackName: string;
  stateMachineArn?: string;
  /** The Plan function's environment: the deployed parameters. */
  environment: Record<string, string>;
  /** The role every Lambda of the service runs as. */
  lambdaRoleArn?: string;
  planFunctionArn: string;
}

/** osls names the stack `<service>-<stage>`. */
export const defaultStackName = (stage: string) => `rekognition-weekly-batch-${stage}`;

/** osls exports `<Function>LambdaFunctionQualifiedArn` for every function. */
const PLAN_OUTPUT = "PlanLambdaFunctionQualifiedArn";

const deployFix = (region: string, stackName: string) =>
  `deploy with \`npx osls deploy --region ${region} --param="projectVersionArn=..." --param="imagesBucket=..."\`, ` +
  `or point doctor at the deployment: --stage <stage> / --stack-name <name> (looked for ${stackName}), and AWS_REGION`;

const outputValue = (stack: Stack, predicate: (key: string, value: string) => boolean) =>
  stack.Outputs?.find((o) => o.OutputKey && o.OutputValue && predicate(o.OutputKey, o.OutputValue))
    ?.OutputValue;

/**
 * DescribeStacks, then GetFunctionConfiguration of the Plan function. Fails
 * when the stack is missing, not in a usable state, or not this service's.
 */
export async function checkDeployment(opts: {
  cloudFormation: CloudFormationClient;
  lambda: LambdaClient;
  stackName: string;
  region: string;
}): Promise<{ result: CheckResult; deployment?: Deployment }> {
  const { stackName, region } = opts;
  const title = "Deployment";
  const missing = () => ({
    result: fail(
      "deployment",
      title,
      `no stack ${stackName} in ${region}`,
      deployFix(region, stackName),
    ),
  });
  let stack: Stack | undefined;
  try {
    const answer = await opts.cloudFormation.send(
      new DescribeStacksCommand({ StackName: stackName }),
    );
    stack = answer.Stacks?.[0];
  } catch (error) {
    // CloudFormation answers a missing stack with a ValidationError "... does not exist".
    if (awsErrorName(error) === "ValidationError" && /does not exist/i.test(errorText(error))) {
      return missing();
    }
    return {
      result: fail(
        "deployment",
        title,
        `cannot read stack ${stackName}: ${errorText(error)}`,
        "allow the operator cloudformation:DescribeStacks on the stack",
      ),
    };
  }
  if (!stack) {
    return missing();
  }
  const status = stack.StackStatus ?? "UNKNOWN";
  const usable =
    status === "CREATE_COMPLETE" ||
    status === "UPDATE_COMPLETE" ||
    status === "UPDATE_ROLLBACK_COMPLETE" ||
    status === "IMPORT_COMPLETE";
  if (!usable) {
    return {
      result: fail(
        "deployment",
        title,
        `stack ${stackName} is ${status}${stack.StackStatusReason ? ` (${stack.StackStatusReason})` : ""}`,
        status.endsWith("_IN_PROGRESS")
          ? "wait until the stack operation ends, then run doctor again"
          : `see the stack's events in the CloudFormation console, fix the cause and deploy again (a ROLLBACK_COMPLETE stack must be deleted first: npx osls remove --region ${region})`,
      ),
    };
  }
  const planFunctionArn = outputValue(stack, (key) => key === PLAN_OUTPUT);
  const stateMachineArn = outputValue(stack, (_, value) => value.includes(":stateMachine:"));
  if (!planFunctionArn) {
    return {
      result: fail(
        "deployment",
        title,
        `stack ${stackName} has no ${PLAN_OUTPUT} output: it is not a rekognition-weekly-batch deployment`,
        deployFix(region, stackName),
      ),
    };
  }
  let environment: Record<string, string>;
  let lambdaRoleArn: string | undefined;
  try {
    const config = await opts.lambda.send(
      new GetFunctionConfigurationCommand({ FunctionName: planFunctionArn }),
    );
    environment = config.Environment?.Variables ?? {};
    lambdaRoleArn = config.Role;
  } catch (error) {
    return {
      result: fail(
        "deployment",
        title,
        `cannot read the Plan function's configuration (${planFunctionArn}): ${errorText(error)}`,
        "allow the operator lambda:GetFunctionConfiguration on the service's functions",
      ),
    };
  }
  const note = status === "UPDATE_ROLLBACK_COMPLETE" ? " (the last update was rolled back)" : "";
  return {
    result: pass("deployment", title, `stack ${stackName} is ${status}${note}`),
    deployment: {
      stackName,
      environment,
      planFunctionArn,
      ...(stateMachineArn ? { stateMachineArn } : {}),
      ...(lambdaRoleArn ? { lambdaRoleArn } : {}),
    },
  };
}

/** DescribeStateMachine: it exists, is ACTIVE, is a Standard workflow, in the deployment's region. */
export async function checkStateMachine(opts: {
  sfn: SFNClient;
  stateMachineArn: string | undefined;
  region: string;
  /** Why there is no ARN, when there is none. */
  missingReason: string;
}): Promise<CheckResult> {
  const title = "State machine";
  const arn = opts.stateMachineArn;
  if (!arn) return skip("state-machine", title, opts.missingReason);
  const arnRegion = arn.split(":")[3];
  if (arnRegion !== opts.region) {
    return fail(
      "state-machine",
      title,
      `${arn} is in ${arnRegion}, the deployment in ${opts.region}`,
      `set AWS_REGION=${arnRegion} (or pass the state machine of the ${opts.region} deployment)`,
    );
  }
  try {
    const answer = await opts.sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn }));
    if (answer.status && answer.status !== "ACTIVE") {
      return fail(
        "state-machine",
        title,
        `${arn} is ${answer.status}`,
        "deploy the service again (npx osls deploy)",
      );
    }
    if (answer.type && answer.type !== "STANDARD") {
      return fail(
        "state-machine",
        title,
        `${arn} is an ${answer.type} workflow; the job needs STANDARD (Distributed Map, one-year runs, status events)`,
        "deploy the service's serverless.yml unchanged (type: STANDARD)",
      );
    }
    return pass("state-machine", title, `${arn} is ${answer.status ?? "ACTIVE"}`);
  } catch (error) {
    const name = awsErrorName(error);
    if (name === "StateMachineDoesNotExist") {
      return fail(
        "state-machine",
        title,
        `${arn} does not exist`,
        "deploy the service (npx osls deploy), or fix STATE_MACHINE_ARN / --state-machine-arn",
      );
    }
    return fail(
      "state-machine",
      title,
      `cannot describe ${arn}: ${errorText(error)}`,
      "allow the operator states:DescribeStateMachine on the state machine",
    );
  }
}
