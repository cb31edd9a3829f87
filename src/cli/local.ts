/** `local`: exactly `npm run local`, run as a child process with the same options. */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

// Not imported from the local stack's modules: they load the embedded servers.
const PROJECT_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const LOCAL_CLI = resolve(PROJECT_ROOT, "harness/local/cli.ts");

/** Runs the local job CLI with `argv`, sharing this terminal; resolves with its exit code. */
export function runLocalCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
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
