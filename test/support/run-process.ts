import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { PROJECT_ROOT } from "../../harness/local/s3-server.ts";

/** How a command the tests ran ended, and what it printed. */
export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command as a user would (its own process, the project as working
 * folder, logs silent) and collects its output.
 */
export function runProcess(command: string, args: readonly string[]): Promise<ProcessResult> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, {
      cwd: PROJECT_ROOT,
      env: { ...process.env, LOG_LEVEL: "silent" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.once("error", fail);
    child.once("close", (code) => done({ code, stdout, stderr }));
  });
}

/** `npm run local -- <args>`, without npm in between. */
export function runLocalCli(args: readonly string[]): Promise<ProcessResult> {
  return runProcess(resolve(PROJECT_ROOT, "node_modules/.bin/tsx"), [
    resolve(PROJECT_ROOT, "harness/local/cli.ts"),
    ...args,
  ]);
}
