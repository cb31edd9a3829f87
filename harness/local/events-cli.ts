// Must be first: silences the SDK's Node 20 notice before the SDK loads.
import "./quiet-sdk-notice.ts";
import { readFile, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import * as planFunction from "../../functions/plan.ts";
import { createAwsClients } from "../../src/clients.ts";
import { readJsonl } from "../../src/s3-json.ts";
import type { ImageRef, Plan } from "../../src/shapes.ts";
import { LOCAL_DATA_DIRECTORY } from "./local-stack.ts";
import { PROJECT_ROOT } from "./s3-server.ts";
import { followOnEvents, parseEnvFile, planEvent } from "./sample-events.ts";

const HELP = `Write the sample events in events/ against a running \`npm run local:stack\`:
runs the Plan Lambda on events/plan.json, then builds the events of the later steps
from its output (the plan, the manifest's first batch, the execution's ARN).

Usage: npm run local:events -- [--env-file <path>] [--out <dir>]

  --env-file <path>  the environment local:stack wrote (default .local-data/invoke.env)
  --out <dir>        where to write the events (default events/)`;

async function writeEvent(directory: string, name: string, event: unknown): Promise<void> {
  await writeFile(resolve(directory, `${name}.json`), `${JSON.stringify(event, null, 2)}\n`);
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      "env-file": { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const envFile = resolve(values["env-file"] ?? resolve(LOCAL_DATA_DIRECTORY, "invoke.env"));
  Object.assign(process.env, parseEnvFile(await readFile(envFile, "utf8")));
  const out = resolve(values.out ?? resolve(PROJECT_ROOT, "events"));

  const event = planEvent(new Date());
  const { plan } = (await planFunction.handler(event as never, {} as never)) as { plan: Plan };
  const manifest: ImageRef[] = [];
  const { s3 } = createAwsClients();
  for await (const item of readJsonl<ImageRef>({ s3, ...plan.manifest })) manifest.push(item);

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

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
