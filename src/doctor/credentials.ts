/** Who the operator is on AWS, and which region every other check looks in. */
import { GetCallerIdentityCommand, type STSClient } from "@aws-sdk/client-sts";
import { isExpiredCredentials } from "../aws-errors.ts";
import type { regionOf } from "../clients.ts";
import { type CheckResult, errorText, fail, pass } from "./check.ts";

export interface CallerIdentity {
  account: string;
  arn: string;
}

/** STS GetCallerIdentity: needs no permission, so it fails only for missing or rejected credentials. */
export async function checkCredentials(
  sts: STSClient,
): Promise<{ result: CheckResult; identity?: CallerIdentity }> {
  try {
    const answer = await sts.send(new GetCallerIdentityCommand({}));
    const identity = { account: answer.Account ?? "?", arn: answer.Arn ?? "?" };
    return {
      result: pass("credentials", "Credentials", `account ${identity.account} as ${identity.arn}`),
      identity,
    };
  } catch (error) {
    const fix = isExpiredCredentials(error)
      ? "refresh the credentials (aws sso login, or new temporary keys) and run doctor again"
      : "configure the standard AWS SDK chain (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO) for the account you deploy to";
    return { result: fail("credentials", "Credentials", errorText(error), fix) };
  }
}

const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/** The region in use and where it came from; a malformed one fails here rather than as a DNS error later. */
export function checkRegion(region: ReturnType<typeof regionOf>, local: boolean): CheckResult {
  if (!REGION.test(region.region)) {
    return fail(
      "region",
      "Region",
      `"${region.region}" (from ${region.source}) is not an AWS region name`,
      "set AWS_REGION to the region you deploy to, e.g. AWS_REGION=eu-west-1",
    );
  }
  const source = local
    ? "the local stack's"
    : region.source === "default"
      ? "the default: neither AWS_REGION nor AWS_DEFAULT_REGION is set, and a profile's region is not read"
      : `from ${region.source}`;
  return pass("region", "Region", `${region.region} (${source})`);
}
