/**
 * The account's room for a run: Lambda concurrency for the Map's workers,
 * and the Custom Labels inference-unit quota for the units the plan may ask.
 */
import { GetAccountSettingsCommand, type LambdaClient } from "@aws-sdk/client-lambda";
import {
  ListAWSDefaultServiceQuotasCommand,
  ListServiceQuotasCommand,
  type ServiceQuota,
  type ServiceQuotasClient,
} from "@aws-sdk/client-service-quotas";
import { isPermissionDenied } from "../aws-errors.ts";
import { type CheckResult, errorText, fail, pass, skip } from "./check.ts";

/** Besides the workers: Plan, the model checks, the stop and the report run one at a time. */
const CONTROL_LAMBDAS = 1;

/** Lambda GetAccountSettings: unreserved concurrency against `maxWorkers`. */
export async function checkLambdaConcurrency(opts: {
  lambda: LambdaClient;
  maxWorkers: number;
}): Promise<CheckResult> {
  const id = "lambda-concurrency";
  const title = "Lambda concurrency";
  let unreserved: number | undefined;
  let limit: number | undefined;
  try {
    const answer = await opts.lambda.send(new GetAccountSettingsCommand({}));
    unreserved = answer.AccountLimit?.UnreservedConcurrentExecutions;
    limit = answer.AccountLimit?.ConcurrentExecutions;
  } catch (error) {
    return skip(
      id,
      title,
      `the account's Lambda limits could not be read (${errorText(error)}); allow the operator lambda:GetAccountSettings`,
    );
  }
  if (unreserved === undefined) {
    return skip(id, title, "GetAccountSettings did not report the unreserved concurrency");
  }
  const needed = opts.maxWorkers + CONTROL_LAMBDAS;
  const found = `${unreserved} unreserved of ${limit ?? "?"} concurrent executions`;
  if (unreserved < needed) {
    const workers = Math.max(1, unreserved - CONTROL_LAMBDAS);
    return fail(
      id,
      title,
      `${found}; a run may use ${opts.maxWorkers} workers (maxWorkers) + ${CONTROL_LAMBDAS}: workers past the limit are throttled and the Map fails`,
      `request more "Concurrent executions" for Lambda in Service Quotas (scheduled runs use maxWorkers ${opts.maxWorkers}), or start runs by hand with --max-workers ${workers}`,
    );
  }
  return pass(
    id,
    title,
    `${found}; a run uses at most ${needed} (maxWorkers ${opts.maxWorkers} + ${CONTROL_LAMBDAS})`,
    "other functions of the account share the unreserved pool while a run is going",
  );
}

/**
 * Service Quotas names the Custom Labels unit quota, and its code is not
 * documented with the API: find it by name among Rekognition's quotas.
 */
export function findUnitQuota(quotas: ServiceQuota[]): ServiceQuota | undefined {
  const named = quotas.filter((q) => /inference unit/i.test(q.QuotaName ?? ""));
  return named.find((q) => /custom labels|model|project/i.test(q.QuotaName ?? "")) ?? named[0];
}

async function listQuotas(client: ServiceQuotasClient, defaults: boolean): Promise<ServiceQuota[]> {
  const quotas: ServiceQuota[] = [];
  let NextToken: string | undefined;
  do {
    const request = { ServiceCode: "rekognition", ...(NextToken ? { NextToken } : {}) };
    const answer = defaults
      ? await client.send(new ListAWSDefaultServiceQuotasCommand(request))
      : await client.send(new ListServiceQuotasCommand(request));
    quotas.push(...(answer.Quotas ?? []));
    NextToken = answer.NextToken;
  } while (NextToken);
  return quotas;
}

/**
 * The applied value (or AWS's default) of the unit quota against `maxUnits`
 * (which also bounds `maxInferenceUnits`, see run-input).
 */
export async function checkUnitQuota(opts: {
  serviceQuotas: ServiceQuotasClient;
  maxUnits: number;
}): Promise<CheckResult> {
  const id = "unit-quota";
  const title = "Unit quota";
  let quota: ServiceQuota | undefined;
  let source = "applied";
  try {
    quota = findUnitQuota(await listQuotas(opts.serviceQuotas, false));
    if (!quota) {
      quota = findUnitQuota(await listQuotas(opts.serviceQuotas, true));
      source = "AWS default";
    }
  } catch (error) {
    const why = isPermissionDenied(error)
      ? "the operator may not read Service Quotas (servicequotas:ListServiceQuotas)"
      : `Service Quotas did not answer (${errorText(error)})`;
    return skip(
      id,
      title,
      `${why}: check the Rekognition inference-unit quota in the Service Quotas console against maxUnits ${opts.maxUnits}`,
    );
  }
  if (quota?.Value === undefined) {
    return skip(
      id,
      title,
      `no Rekognition quota named like "inference units" in Service Quotas: check the Custom Labels unit limit in the console against maxUnits ${opts.maxUnits}`,
    );
  }
  const name = `"${quota.QuotaName}" (${quota.QuotaCode}, ${source})`;
  const which = `maxUnits ${opts.maxUnits}`;
  if (opts.maxUnits > quota.Value) {
    return fail(
      id,
      title,
      `${which} is above the quota ${name} = ${quota.Value}: StartProjectVersion would be refused`,
      `deploy with --param="maxUnits=${quota.Value}" or request an increase of ${quota.QuotaCode} in Service Quotas`,
    );
  }
  return pass(id, title, `${name} = ${quota.Value}; ${which} fits`);
}
