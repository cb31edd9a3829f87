/** The model version: in the deployment's region, existing, and in a status a run can use. */
import type { RekognitionClient } from "@aws-sdk/client-rekognition";
import { AccessDeniedError, ResourceNotFoundError } from "../errors.ts";
import { describeModel, type ModelDescription, UNUSABLE_STATUSES } from "../model/describe.ts";
import { parseProjectVersionArn, resolveProjectArn } from "../model/model-ref.ts";
import { type CheckResult, errorText, fail, pass, skip } from "./check.ts";

/** The ARN's region must be the deployment's: the Lambdas call Rekognition in their own region. */
export function checkModelRegion(projectVersionArn: string, region: string): CheckResult {
  const title = "Model region";
  const modelRegion = parseProjectVersionArn(projectVersionArn).region;
  if (modelRegion !== region) {
    return fail(
      "model-region",
      title,
      `the model is in ${modelRegion}, the deployment in ${region}: the job calls Rekognition in its own region, where this model does not exist`,
      `deploy in ${modelRegion} (npx osls deploy --region ${modelRegion}) with buckets in ${modelRegion}, or copy the model to ${region}`,
    );
  }
  return pass("model-region", title, `${modelRegion}, as the deployment`);
}

const unitsText = (model: ModelDescription) =>
  model.minInferenceUnits === undefined
    ? "no units (not running)"
    : `${model.minInferenceUnits} min / ${model.maxInferenceUnits ?? model.minInferenceUnits} max units`;

/**
 * DescribeProjects + DescribeProjectVersions (read-only). Passes for a model
 * the job can start or use; says what the job will do with it.
 */
export async function checkModelVersion(opts: {
  rekognition: RekognitionClient;
  projectVersionArn: string;
  regionMatches: boolean;
}): Promise<{ result: CheckResult; projectArn?: string }> {
  const title = "Model version";
  const id = "model-version";
  const { projectVersionArn } = opts;
  if (!opts.regionMatches) {
    return { result: skip(id, title, "the model is in another region (see Model region)") };
  }
  let model: ModelDescription;
  let projectArn: string;
  try {
    projectArn = await resolveProjectArn({ rekognition: opts.rekognition, projectVersionArn });
    model = await describeModel({ rekognition: opts.rekognition, projectVersionArn, projectArn });
  } catch (error) {
    if (error instanceof ResourceNotFoundError) {
      return {
        result: fail(
          id,
          title,
          error.message,
          'check projectVersionArn (the model version\'s ARN in the Custom Labels console, or aws rekognition describe-project-versions) and deploy with --param="projectVersionArn=<arn>"',
        ),
      };
    }
    if (error instanceof AccessDeniedError) {
      return {
        result: fail(
          id,
          title,
          `the operator may not describe the model: ${error.message}`,
          "allow the operator rekognition:DescribeProjects and rekognition:DescribeProjectVersions",
        ),
      };
    }
    return {
      result: fail(
        id,
        title,
        `cannot describe ${projectVersionArn}: ${errorText(error)}`,
        "run doctor again; if it persists, check the Rekognition endpoint and the region",
      ),
    };
  }
  const status = `${model.status}${model.statusMessage ? ` (${model.statusMessage})` : ""}`;
  if (UNUSABLE_STATUSES.has(model.status)) {
    return {
      projectArn,
      result: fail(
        id,
        title,
        `${projectVersionArn} is ${status}: a run cannot start it`,
        'deploy with a trained model version (status TRAINING_COMPLETED, STOPPED or RUNNING): --param="projectVersionArn=<arn>"',
      ),
    };
  }
  const what: Record<string, string> = {
    STOPPED: "the job starts it and stops it afterwards",
    TRAINING_COMPLETED: "the job starts it and stops it afterwards",
    RUNNING: `already running with ${unitsText(model)}: the job uses it as it is and leaves it running (and billed)`,
    STARTING: "starting: the job waits for it and leaves it running (someone else started it)",
    STOPPING: "stopping: the job waits, then starts it",
  };
  return {
    projectArn,
    result: pass(id, title, `${status}, ${unitsText(model)}; ${what[model.status] ?? "usable"}`),
  };
}
