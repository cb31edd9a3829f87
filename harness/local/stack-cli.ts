// Must be first: silences the SDK's Node 20 notice before the SDK loads.
import "./quiet-sdk-notice.ts";
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { localDeploymentEnvironment } from "./local-job.ts";
import { LOCAL_DATA_DIRECTORY, LOCAL_DEFAULTS, startLocalStack } from "./local-stack.ts";
import { envFileText } from "./sample-events.ts";
import { writeSampleImages } from "./sample-images.ts";

const HELP = `Start the local AWS stand-ins (S3, the Custom Labels emulator and its CloudWatch metrics) in the foreground,
for \`npx osls invoke local --stage local\` from another terminal. Ctrl-C stops them.

Usage: npm run local:stack -- [options]

  --data <dir>              data folder (default .local-data)
  --fresh                   delete the data folder first
  --images <n>              sample images to seed when the images prefix is empty (default 20)
  --s3-port <port>          embedded S3 port on 127.0.0.1 (default 4569; 0: any free port)
  --rekognition-port <port> emulator port on 127.0.0.1 (default 4570; 0: any free port)
  --cloudwatch-port <port>  CloudWatch GetMetricData port on 127.0.0.1 (default 4571; 0: any free port)
  --start-delay <ms>        model start-up time (default 3000)
  --tps-per-unit <n>        what one inference unit serves (default 20)
  --env-file <path>         where to write the environment (default <data>/invoke.env)
  -h, --help                this text

Then, in a second terminal:
  set -a; . .local-data/invoke.env; set +a
  npx osls invoke local --stage local -f plan -p events/plan.json`;

const options = {
  data: { type: "string" },
  fresh: { type: "boolean" },
  images: { type: "string" },
  "s3-port": { type: "string" },
  "rekognition-port": { type: "string" },
  "cloudwatch-port": { type: "string" },
  "start-delay": { type: "string" },
  "tps-per-unit": { type: "string" },
  "env-file": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

function whole(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) {
    throw new Error(`--${name} must be a whole number >= 0, got ${JSON.stringify(value)}`);
  }
  return parsed;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const dataDirectory = resolve(values.data ?? LOCAL_DATA_DIRECTORY);
  const stack = await startLocalStack({
    dataDirectory,
    fresh: Boolean(values.fresh),
    s3Port: whole(values["s3-port"], "s3-port", 4569),
    emulatorPort: whole(values["rekognition-port"], "rekognition-port", 4570),
    cloudwatchPort: whole(values["cloudwatch-port"], "cloudwatch-port", 4571),
    emulator: {
      startDelayMs: whole(values["start-delay"], "start-delay", 3000),
      tpsPerUnit: whole(values["tps-per-unit"], "tps-per-unit", 20),
    },
  });
  const stop = async () => {
    await stack.close();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);

  const prefix = LOCAL_DEFAULTS.imagesPrefix;
  const images = whole(values.images, "images", 20);
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
  const envFile = resolve(values["env-file"] ?? resolve(dataDirectory, "invoke.env"));
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

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
