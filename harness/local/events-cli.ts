// Must be first: silences the SDK's Node 20 notice before the SDK loads.
import "./quiet-sdk-notice.ts";
import { readFile, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseEnv } from "node:util";
import * as planFunction from "../../functions/plan.ts";
import { createAwsClients } from "../../src/clients.ts";
import { readJsonLines } from "../../src/json-lines.ts";
import type { ImageRef, Plan } from "../../src/shapes.ts";
import { harnessCommand, parseCommand, runCommandLine } from "../command.ts";
import { LOCAL_DATA_DIRECTORY } from "./local-stack.ts";
import { PROJECT_ROOT } from "./s3-server.ts";
import { followOnEvents, planEvent } from "./sample-events.ts";

function eventsCommand() {
  return harnessCommand(
    "local:events",
    "Write the sample events in events/ against a running `npm run local:stack`: runs the Plan Lambda on events/plan.json, then builds the events of the later steps from its output (the plan, the manifest's first batch, the execution's ARN).",
  )
    .option("--data <dir>", "the data folder local:stack runs on (default .local-data)")
    .option("--env-file <path>", "the environment local:stack wrote (default <data>/invoke.env)")
    .option("--out <dir>", "where to write the events (default events/)");
}

async function writeEvent(directory: string, name: string, event: unknown): Promise<void> {
  await writeFile(resolve(directory, `${name}.json`), `${JSON.stringify(event, null, 2)}\n`);
}

async function main(argv: string[]): Promise<number> {
  const values = parseCommand<{ data?: string; envFile?: string; out?: string }>(
    eventsCommand(),
    argv,
  );
  if (!values) return 0;
  const dataDirectory = resolve(values.data ?? LOCAL_DATA_DIRECTORY);
  const envFile = resolve(values.envFile ?? resolve(dataDirectory, "invoke.env"));
  const text = await readFile(envFile, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "ENOENT") throw error;
    throw new Error(
      `No environment at ${envFile}: start \`npm run local:stack\` on that data folder first (or pass --env-file).`,
    );
  });
  Object.assign(process.env, parseEnv(text));
  const out = resolve(values.out ?? resolve(PROJECT_ROOT, "events"));

  const event = planEvent(new Date());
  const { plan } = (await planFunction.handler(event as never, {} as never)) as { plan: Plan };
  const manifest: ImageRef[] = [];
  const { s3 } = createAwsClients();
  for await (const item of readJsonLines<ImageRef>({ s3, ...plan.manifest })) manifest.push(item);

  await writeEvent(out, "plan", event);
  for (const [name, followOn] of Object.entries(followOnEvents(plan, manifest))) {
    await writeEvent(out, name, followOn);
  }
  process.stdout.write(
    `Wrote the events of run ${plan.runId} (${plan.counts.pending} pending) to ${out}\n`,
  );
  s3.destroy();
  return 0;
}

runCommandLine(main, { name: "npm run local:events", exit: true, expects: () => true });
