import { LOCAL_ACCOUNT, LOCAL_REGION } from "../workflow/asl.ts";

/**
 * Who is calling the local AWS. Each identity signs with its own access key
 * id, so the local servers can tell the Lambdas, the state machine's own
 * integrations and the operator (seeding, tests) apart. All of them share
 * s3rver's secret: SigV4 signs with the secret only (the access key id is not
 * part of the string to sign), so once the gate has swapped a role's key id
 * for s3rver's own, s3rver still verifies the signature as it always does.
 */

export type RoleName = "lambda" | "stateMachine";

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
  stateMachine: {
    role: "stateMachine",
    accessKeyId: "ASIALOCALSTATESROLE",
    logicalId: "WeeklyBatchStateMachineRole",
    principalArn: `arn:aws:sts::${LOCAL_ACCOUNT}:assumed-role/${STACK}-WeeklyBatchStateMachineRole/${STACK}`,
  },
};

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
