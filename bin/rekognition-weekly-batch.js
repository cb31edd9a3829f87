#!/usr/bin/env node
/**
 * The composition root. A production install runs the built CLI
 * (`npm run build` makes dist/cli.js), in which `--local` and `local` say
 * that they need the development install. A development install (the harness
 * and its TypeScript loader present) runs the harness's entry instead: the
 * same CLI from source, with the local stack wired in.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const argv = process.argv.slice(2);
const harnessEntry = fileURLToPath(new URL("../harness/operator-cli.ts", import.meta.url));

if (existsSync(harnessEntry) && resolves("tsx")) {
  const child = spawn(process.execPath, ["--import", "tsx", harnessEntry, ...argv], {
    stdio: "inherit",
  });
  // The child has the terminal's Ctrl-C too, and cleans up before it exits: wait for it.
  process.on("SIGINT", () => {});
  process.on("SIGTERM", () => child.kill("SIGTERM"));
  child.once("exit", (code, signal) => {
    process.exitCode = code ?? (signal ? 1 : 0);
  });
} else {
  const built = new URL("../dist/cli.js", import.meta.url);
  if (!existsSync(built)) {
    process.stderr.write("rekognition-weekly-batch is not built: run `npm run build`.\n");
    process.exitCode = 1;
  } else {
    const { runCli } = await import(built.href);
    process.exitCode = await runCli(argv);
  }
}

function resolves(name) {
  try {
    import.meta.resolve(name);
    return true;
  } catch {
    return false;
  }
}
