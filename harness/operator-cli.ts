/**
 * The operator CLI of a development install: the product's CLI from source,
 * with the local stack wired in for `--local` and `local`. The package's bin
 * runs this when the harness and its TypeScript loader are installed.
 */
import { runCli } from "../src/cli/main.ts";
import { operatorHarness } from "./local/operator-harness.ts";

process.exitCode = await runCli(process.argv.slice(2), undefined, {
  localHarness: operatorHarness,
});
