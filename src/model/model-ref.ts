/**
 * Naming the Custom Labels model version: its ARN's parts, and the project
 * ARN that DescribeProjectVersions needs but the version ARN does not contain.
 */
import {
  DescribeProjectsCommand,
  type DescribeProjectsCommandOutput,
  type RekognitionClient,
} from "@aws-sdk/client-rekognition";
import { InvalidRunInputError, ResourceNotFoundError } from "../errors.ts";
import { mapRekognitionError } from "./control-plane-errors.ts";

/** The parts of a model version ARN. */
export interface ProjectVersionArnParts {
  partition: string;
  region: string;
  account: string;
  project: string;
  version: string;
}

/**
 * `arn:<partition>:rekognition:<region>:<account>:project/<project>/version/<version>/<digits>`:
 * the one pattern of a model version ARN (run input, model control, metrics).
 */
export const PROJECT_VERSION_ARN =
  /^arn:(aws(?:-[a-z]+)*):rekognition:([a-z]{2}(?:-[a-z]+)+-\d+):(\d{12}):project\/([a-zA-Z0-9_.-]{1,255})\/version\/([a-zA-Z0-9_.-]{1,255})\/(\d+)$/;

/** The parts of a model version ARN, or `undefined` when it is not one. */
export function matchProjectVersionArn(
  projectVersionArn: string,
): ProjectVersionArnParts | undefined {
  const match = PROJECT_VERSION_ARN.exec(projectVersionArn);
  if (!match) return undefined;
  const [, partition = "", region = "", account = "", project = "", version = ""] = match;
  return { partition, region, account, project, version };
}

/**
 * Splits `arn:aws:rekognition:<region>:<account>:project/<project>/version/<version>/<digits>`.
 * Throws `InvalidRunInputError` naming the field when it is not of that form.
 */
export function parseProjectVersionArn(projectVersionArn: string): ProjectVersionArnParts {
  const parts = matchProjectVersionArn(projectVersionArn);
  if (!parts) {
    throw new InvalidRunInputError(
      `projectVersionArn "${projectVersionArn}" is not a Custom Labels model version ARN ` +
        "(arn:aws:rekognition:<region>:<account>:project/<project>/version/<version>/<digits>)",
    );
  }
  return parts;
}

/** What every function here needs to find the model. */
export interface ModelRef {
  /**
   * The control-plane client (`AwsClients.modelControl`): its SDK retries
   * ride out throttling and 5xx answers before an error reaches us.
   */
  rekognition: RekognitionClient;
  projectVersionArn: string;
  /**
   * The project's own ARN, when known. Optional: it is looked up by project
   * name (DescribeProjects) because it cannot be derived from the version ARN.
   */
  projectArn?: string;
}

// Project ARNs never change for a given version ARN (a re-created project
// gets new version ARNs too), so lookups are cached per client.
const projectArnCache = new WeakMap<RekognitionClient, Map<string, string>>();

/**
 * The project ARN of a model version. The version ARN does not contain it:
 * a project ARN ends in the project's creation timestamp
 * (`project/<project>/<digits>`) and the version ARN's trailing digits are the
 * version's. DescribeProjectVersions needs the exact project ARN, so the
 * project is found by name with DescribeProjects (ProjectNames filter) and its
 * ARN checked to be in the same partition, Region and account.
 */
export async function resolveProjectArn(ref: ModelRef): Promise<string> {
  if (ref.projectArn) return ref.projectArn;
  const cached = projectArnCache.get(ref.rekognition)?.get(ref.projectVersionArn);
  if (cached) return cached;
  const parts = parseProjectVersionArn(ref.projectVersionArn);
  const expectedPrefix = `arn:${parts.partition}:rekognition:${parts.region}:${parts.account}:project/${parts.project}/`;
  let response: DescribeProjectsCommandOutput;
  try {
    response = await ref.rekognition.send(
      new DescribeProjectsCommand({ ProjectNames: [parts.project] }),
    );
  } catch (error) {
    throw mapRekognitionError(error, ref.projectVersionArn, "describe the project of");
  }
  const projectArn = response.ProjectDescriptions?.map((project) => project.ProjectArn).find(
    (arn): arn is string => arn?.startsWith(expectedPrefix) === true,
  );
  if (!projectArn) {
    throw new ResourceNotFoundError(
      `model version ${ref.projectVersionArn} not found: there is no project "${parts.project}" in ${parts.region} of account ${parts.account}`,
    );
  }
  let forClient = projectArnCache.get(ref.rekognition);
  if (!forClient) {
    forClient = new Map();
    projectArnCache.set(ref.rekognition, forClient);
  }
  forClient.set(ref.projectVersionArn, projectArn);
  return projectArn;
}
