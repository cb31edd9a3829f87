import { LOCAL_ACCOUNT, LOCAL_REGION } from "../workflow/asl.ts";

/**
 * Who is calling the local AWS. Each identity signs with its own access key
 * id, so the local servers can tell the Lambdas, the state machine's own
 * integrations and the operator (seeding, tests) apart. All of them share
 * s3rver's secret: SigV4 signs with the secret only (the access key id is not
 * part of the string to sign), so once the gate has swapped a role's key id
 * for s3rver's own, s3rver still verifies the signature as it always does.
 */

/**
 * The roles of the packaged template: the one the Lambdas share, the Report
 * Lambda's own and the sharded Plan's (their `role:` in serverless.yml) and
 * the state machine's.
 */
export type RoleName = "lambda" | "report" | "planShard" | "stateMachine";

export interface LocalIdentity {
  role: RoleName;
  accessKeyId: string;
  /** The role's logical id in the packaged template. */
  logicalId: string;
  /** What AWS names the caller in an AccessDenied message. */
  principalArn: string;
}

/** The stack and the role names `osls package --stage local` produces. */
const STACK = "rekognition-weekly-batch-local";

export const LOCAL_IDENTITIES: Record<RoleName, LocalIdentity> = {
  lambda: {
    role: "lambda",
    accessKeyId: "ASIALOCALLAMBDAROLE",
    logicalId: "IamRoleLambdaExecution",
    principalArn: `arn:aws:sts::${LOCAL_ACCOUNT}:assumed-role/${STACK}-${LOCAL_REGION}-lambdaRole/${STACK}`,
  },
  report: {
    role: "report",
    accessKeyId: "ASIALOCALREPORTROLE",
    logicalId: "ReportFunctionRole",
    principalArn: `arn:aws:sts::${LOCAL_ACCOUNT}:assumed-role/${STACK}-ReportFunctionRole/${STACK}-report`,
  },
  planShard: {
    role: "planShard",
    accessKeyId: "ASIALOCALPLANSHARDROLE",
    logicalId: "PlanShardFunctionRole",
    principalArn: `arn:aws:sts::${LOCAL_ACCOUNT}:assumed-role/${STACK}-PlanShardFunctionRole/${STACK}-planShard`,
  },
  stateMachine: {
    role: "stateMachine",
    accessKeyId: "ASIALOCALSTATESROLE",
    logicalId: "WeeklyBatchStateMachineRole",
    principalArn: `arn:aws:sts::${LOCAL_ACCOUNT}:assumed-role/${STACK}-WeeklyBatchStateMachineRole/${STACK}`,
  },
};

/** The identity of a role by its logical id in the template; an unknown role is an error naming it. */
export function identityForRole(logicalId: string): LocalIdentity {
  const identity = Object.values(LOCAL_IDENTITIES).find(
    (candidate) => candidate.logicalId === logicalId,
  );
  if (!identity) {
    throw new Error(
      `Role ${logicalId} has no local identity: the local IAM check knows ${Object.values(
        LOCAL_IDENTITIES,
      )
        .map((candidate) => candidate.logicalId)
        .join(", ")}`,
    );
  }
  return identity;
}

export function identityForAccessKey(accessKeyId: string | undefined): LocalIdentity | undefined {
  if (!accessKeyId) return undefined;
  return Object.values(LOCAL_IDENTITIES).find((identity) => identity.accessKeyId === accessKeyId);
}

/** The access key id of a SigV4-signed request (Authorization header or presigned query). */
export function accessKeyOf(
  headers: Record<string, string | string[] | undefined>,
  url = "",
): string | undefined {
  const authorization = headers.authorization;
  const header = Array.isArray(authorization) ? authorization[0] : authorization;
  const fromHeader = header ? /Credential=([^/,\s]+)\//.exec(header)?.[1] : undefined;
  if (fromHeader) return fromHeader;
  const query = url.includes("?") ? new URLSearchParams(url.slice(url.indexOf("?") + 1)) : null;
  return query?.get("X-Amz-Credential")?.split("/")[0];
}
