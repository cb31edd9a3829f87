import { usageFailure } from "../../command.ts";
import { parseCommandLine } from "./command-line.ts";
import { startEmulator } from "./index.ts";

async function main(): Promise<void> {
  const { help, ...options } = parseCommandLine(process.argv.slice(2));
  // Commander printed the help.
  if (help) return;
  const emulator = await startEmulator(options);
  const { models } = emulator.admin.state();
  console.log(`Rekognition Custom Labels emulator listening on ${emulator.endpoint}`);
  for (const model of models) {
    console.log(`  model ${model.project}/${model.version} (${model.feature}, ${model.status})`);
    console.log(`    project: ${model.projectArn}`);
    console.log(`    version: ${model.arn}`);
  }
  const example = models[0];
  console.log("\nTry it with the AWS CLI (any credentials work):");
  console.log(
    `  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local aws rekognition describe-project-versions --region ${emulator.settings.region} --endpoint-url ${emulator.endpoint} --project-arn ${example?.projectArn ?? "<project arn>"}`,
  );
  console.log(`Admin API: ${emulator.endpoint}/_emulator/state`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the emulator`);
    emulator.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
}

main().catch((error: unknown) => {
  const usage = usageFailure(error);
  if (usage !== undefined) process.exit(usage);
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
