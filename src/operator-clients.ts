/**
 * The read-only account clients that only the operator's `doctor` uses. Kept
 * apart from `clients.ts` so that no Lambda bundle carries them.
 */
import { CloudFormationClient } from "@aws-sdk/client-cloudformation";
import { IAMClient } from "@aws-sdk/client-iam";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { ServiceQuotasClient } from "@aws-sdk/client-service-quotas";
import { STSClient } from "@aws-sdk/client-sts";
import { regionOf } from "./clients.ts";

export interface OperatorClients {
  sts: STSClient;
  cloudFormation: CloudFormationClient;
  lambda: LambdaClient;
  iam: IAMClient;
  serviceQuotas: ServiceQuotasClient;
}

/** In the same region as `createAwsClients`, from the same environment. */
export function createOperatorClients(env: NodeJS.ProcessEnv = process.env): OperatorClients {
  const { region } = regionOf(env);
  return {
    sts: new STSClient({ region }),
    cloudFormation: new CloudFormationClient({ region }),
    lambda: new LambdaClient({ region }),
    iam: new IAMClient({ region }),
    serviceQuotas: new ServiceQuotasClient({ region }),
  };
}
