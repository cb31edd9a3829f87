/**
 * The harness's side of the operator CLI's `--local` and `local`: the local
 * stack (embedded S3 + Custom Labels emulator, on the data folder) and the
 * local Step Functions API started in this process, with `process.env`
 * pointing the SDK at them and carrying the local deployment's parameters;
 * and `npm run local` as a child process.
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import type { LocalConnection, LocalHarness } from "../../src/cli/local-harness.ts";
import { localDeploymentEnvironment } from "./local-job.ts";
import { LOCAL_DATA_DIRECTORY, startLocalStack } from "./local-stack.ts";
import { PROJECT_ROOT } from "./s3-server.ts";
import { type LocalSfnApi, startLocalSfnApi } from "./sfn-api.ts";

const LOCAL_CLI = resolve(PROJECT_ROOT, "harness/local/cli.ts");

async function connect(opts: { dataDirectory?: string }): Promise<LocalConnection> {
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
    projectVersionArn: stack.projectVersionArn,
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

/** Runs `npm run local` with `argv`, sharing this terminal; resolves with its exit code. */
function runLocalJob(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", "tsx", LOCAL_CLI, ...argv], {
      cwd: PROJECT_ROOT,
      env,
      stdio: "inherit",
    });
    child.once("error", fail);
    child.once("exit", (code, signal) => done(code ?? (signal ? 1 : 0)));
  });
}

export const operatorHarness: LocalHarness = { connect, runLocalJob };
