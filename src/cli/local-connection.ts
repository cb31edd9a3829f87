/**
 * `--local`: the local stack (embedded S3 + Custom Labels emulator, on the
 * data folder) and the local Step Functions API, started in this process,
 * with `process.env` pointing the SDK at them and carrying the local
 * deployment's parameters (buckets, model ARN, state machine ARN).
 */
import { localDeploymentEnvironment } from "../../harness/local/local-job.ts";
import {
  LOCAL_DATA_DIRECTORY,
  type LocalStack,
  startLocalStack,
} from "../../harness/local/local-stack.ts";
import { type LocalSfnApi, startLocalSfnApi } from "../../harness/local/sfn-api.ts";

export interface LocalConnection {
  stack: LocalStack;
  sfn: LocalSfnApi;
  close(): Promise<void>;
}

export async function connectLocal(opts: { dataDirectory?: string }): Promise<LocalConnection> {
  const stack = await startLocalStack({
    dataDirectory: opts.dataDirectory ?? LOCAL_DATA_DIRECTORY,
  });
  let sfn: LocalSfnApi;
  try {
    sfn = await startLocalSfnApi({ stack });
  } catch (error) {
    await stack.close();
    throw error;
  }
  const restore = stack.applyEnvironment({
    ...localDeploymentEnvironment(stack),
    ...sfn.environment,
  });
  return {
    stack,
    sfn,
    async close() {
      try {
        await sfn.close();
      } finally {
        restore();
        await stack.close();
      }
    },
  };
}
