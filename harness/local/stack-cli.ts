// Must be first: silences the SDK's Node 20 notice before the SDK loads.
import "./quiet-sdk-notice.ts";
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import {
  harnessCommand,
  numberArgument,
  parseCommand,
  positiveNumber,
  runCommandLine,
  wholeNumber,
} from "../command.ts";
import { localDeploymentEnvironment } from "./local-job.ts";
import { LOCAL_DATA_DIRECTORY, LOCAL_DEFAULTS, startLocalStack } from "./local-stack.ts";
import { envFileText } from "./sample-events.ts";
import { writeSampleImages } from "./sample-images.ts";

const port = { ...wholeNumber(65535), describe: "a port from 0 to 65535 (0: any free port)" };

function stackCommand() {
  return harnessCommand(
    "local:stack",
    "Start the local AWS stand-ins (S3, the Custom Labels emulator and its CloudWatch metrics) in the foreground, for `npx osls invoke local --stage local` from another terminal. Ctrl-C stops them.",
  )
    .option("--data <dir>", "data folder (default .local-data)")
    .option("--fresh", "delete the data folder first")
    .option(
      "--images <n>",
      "sample images to seed when the images prefix is empty",
      numberArgument("images", wholeNumber(1_000_000)),
      20,
    )
    .option(
      "--s3-port <port>",
      "embedded S3 port on 127.0.0.1",
      numberArgument("s3-port", port),
      4569,
    )
    .option(
      "--rekognition-port <port>",
      "emulator port on 127.0.0.1",
      numberArgument("rekognition-port", port),
      4570,
    )
    .option(
      "--cloudwatch-port <port>",
      "CloudWatch GetMetricData port on 127.0.0.1",
      numberArgument("cloudwatch-port", port),
      4571,
    )
    .option(
      "--start-delay <ms>",
      "model start-up time",
      numberArgument("start-delay", wholeNumber(2 ** 31 - 1)),
      3000,
    )
    .option(
      "--tps-per-unit <n>",
      "what one inference unit serves",
      numberArgument("tps-per-unit", positiveNumber),
      20,
    )
    .option("--env-file <path>", "where to write the environment (default <data>/invoke.env)")
    .addHelpText(
      "after",
      `
Then, in a second terminal:
  set -a; . .local-data/invoke.env; set +a
  npm run local:events            (optional: events/ for this stack)
  npx osls invoke local --stage local -f plan -p events/plan.json`,
    );
}

interface StackFlags {
  data?: string;
  fresh?: boolean;
  images: number;
  s3Port: number;
  rekognitionPort: number;
  cloudwatchPort: number;
  startDelay: number;
  tpsPerUnit: number;
  envFile?: string;
}

async function main(argv: string[]): Promise<number> {
  const values = parseCommand<StackFlags>(stackCommand(), argv);
  if (!values) return 0;
  const dataDirectory = resolve(values.data ?? LOCAL_DATA_DIRECTORY);
  const stack = await startLocalStack({
    dataDirectory,
    fresh: Boolean(values.fresh),
    s3Port: values.s3Port,
    emulatorPort: values.rekognitionPort,
    cloudwatchPort: values.cloudwatchPort,
    emulator: { startDelayMs: values.startDelay, tpsPerUnit: values.tpsPerUnit },
  });
  const stop = async () => {
    await stack.close();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);

  const prefix = LOCAL_DEFAULTS.imagesPrefix;
  const images = values.images;
  const existing = await stack.s3.send(
    new ListObjectsV2Command({ Bucket: stack.imagesBucket, Prefix: prefix, MaxKeys: 1 }),
  );
  if (images > 0 && !existing.KeyCount) {
    await writeSampleImages({
      s3: stack.s3,
      bucket: stack.imagesBucket,
      prefix,
      count: images,
      largeImages: 0,
      badObjects: true,
    });
  }
  const environment = {
    ...stack.environment,
    ...localDeploymentEnvironment(stack),
    // The Lambdas' JSON logs stay readable next to osls's output.
    LOG_LEVEL: "warn",
  };
  const envFile = resolve(values.envFile ?? resolve(dataDirectory, "invoke.env"));
  await writeFile(envFile, envFileText(environment));
  process.stdout.write(
    [
      `S3:          ${stack.s3Server.endpoint} (buckets ${stack.imagesBucket}, ${stack.resultsBucket})`,
      `Rekognition: ${stack.emulator.endpoint} (model ${stack.projectVersionArn})`,
      `CloudWatch:  ${stack.cloudwatch.endpoint} (GetMetricData: the model's AWS/Rekognition unit metrics)`,
      `Environment: ${envFile}`,
      "",
      "In another terminal:",
      `  set -a; . ${envFile}; set +a`,
      "  npx osls invoke local --stage local -f plan -p events/plan.json",
      "",
      "Local stack ready. Ctrl-C stops it.",
      "",
    ].join("\n"),
  );
  return new Promise<number>(() => {});
}

runCommandLine(main, { name: "npm run local:stack", exit: true, expects: () => true });
