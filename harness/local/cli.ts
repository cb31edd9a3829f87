// Must be first: silences the SDK's Node 20 notice before the SDK loads.
import "./quiet-sdk-notice.ts";
import { mkdir, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { endOfRunLines } from "../../src/report/end-of-run.ts";
import { type LocalOptions, parseLocalOptions, UsageError } from "./cli-options.ts";
import { DataFolderBusyError } from "./data-lock.ts";
import { type LocalJobResult, runLocalJob } from "./local-job.ts";
import {
  LOCAL_DATA_DIRECTORY,
  LOCAL_DEFAULTS,
  type LocalStack,
  startLocalStack,
} from "./local-stack.ts";
import { LocalProgress } from "./progress.ts";
import { formatRunProgress, type RunProgress, runProgressFromLedger } from "./run-progress.ts";
import { runVerdict } from "./run-verdict.ts";
import { writeSampleImages } from "./sample-images.ts";
import type { JsonValue } from "./workflow/index.ts";

const HELP = `Run the weekly Rekognition Custom Labels job locally: the real state machine
and Lambdas against an embedded S3 server and the Custom Labels emulator.
No AWS account, no Docker, no network.

Usage: npm run local -- [options]

Images
  --images <n>             sample images to seed when the images prefix is empty (default 200)
  --add-images <n>         seed <n> more new images before this run (shows incremental runs)
  --images-prefix <p>      where the images are (default incoming/)
  --results-prefix <p>     where results and reports go (default rekognition-results/)
  --data <dir>             data folder (default .local-data)
  --fresh                  delete the data folder first
  --no-iam                 do not enforce the packaged IAM policies (experiments only)

Model and sizing
  --tps-per-unit <n>       what one inference unit serves in the emulator, and the deployment's
                           TPS_PER_UNIT parameter (default 20)
  --plan-tps <n>           TPS per unit the plan assumes, if not the above
  --window <minutes>       target processing window (default 60)
  --min-units <n>          fewest inference units (default 1)
  --max-units <n>          the unit quota (default 5)
  --max-inference-units <n> turn on auto-scaling up to <n> units
  --start-delay <ms>       model start-up time (default 3000)
  --latency <ms>           mean DetectCustomLabels latency (default 100)
  --feature <f>            CLASSIFICATION (default) or OBJECT_DETECTION

Fault injection (seconds after processing starts)
  --fail-start             the model fails to start (ends FAILED)
  --lose-unit <s>          one inference unit fails (replaced after a few seconds)
  --lose-zone <s>          a whole Availability Zone fails (restored 5 s later)
  --throttle-storm <s>     capacity drops to 30 % for 5 s
  --abort <s>              abort the execution (the safety stop must stop the model)

Output
  --verbose                the Lambdas' JSON logs on stderr
  -h, --help               this text

Exit code: 0 when the execution succeeded, 1 otherwise, 2 for bad options.`;

const options = {
  images: { type: "string" },
  "add-images": { type: "string" },
  "images-prefix": { type: "string" },
  "results-prefix": { type: "string" },
  data: { type: "string" },
  fresh: { type: "boolean" },
  "no-iam": { type: "boolean" },
  "tps-per-unit": { type: "string" },
  "plan-tps": { type: "string" },
  window: { type: "string" },
  "min-units": { type: "string" },
  "max-units": { type: "string" },
  "max-inference-units": { type: "string" },
  "start-delay": { type: "string" },
  latency: { type: "string" },
  feature: { type: "string" },
  "fail-start": { type: "boolean" },
  "lose-unit": { type: "string" },
  "lose-zone": { type: "string" },
  "throttle-storm": { type: "string" },
  abort: { type: "string" },
  verbose: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

async function countObjects(stack: LocalStack, prefix: string): Promise<number> {
  const page = await stack.s3.send(
    new ListObjectsV2Command({ Bucket: stack.imagesBucket, Prefix: prefix, MaxKeys: 1 }),
  );
  return page.KeyCount ?? 0;
}

function scheduleFaults(
  stack: LocalStack,
  numbers: LocalOptions["numbers"],
  abort: AbortController,
): (event: { type: string }) => void {
  const arn = stack.projectVersionArn;
  const admin = stack.emulator.admin;
  const timers: NodeJS.Timeout[] = [];
  const at = (name: "lose-unit" | "lose-zone" | "throttle-storm" | "abort", action: () => void) => {
    const seconds = numbers[name];
    if (seconds !== undefined) timers.push(setTimeout(action, seconds * 1000).unref());
  };
  let started = false;
  return (event) => {
    if (event.type !== "MapRunStarted" || started) return;
    started = true;
    at("lose-unit", () => admin.failUnit(arn));
    at("lose-zone", () => {
      const zone = admin.state().availabilityZones[0]?.name;
      if (!zone) return;
      admin.failZone(zone);
      setTimeout(() => admin.restoreZone(zone), 5000).unref();
    });
    at("throttle-storm", () => {
      admin.setCapacityFactor(arn, 0.3);
      setTimeout(() => admin.setCapacityFactor(arn, 1), 5000).unref();
    });
    at("abort", () => abort.abort(new Error("aborted by --abort")));
  };
}

async function saveReport(stack: LocalStack, dataDirectory: string, result: LocalJobResult) {
  if (!result.report) return undefined;
  const object = await stack.s3.send(
    new GetObjectCommand({ Bucket: result.report.bucket, Key: result.report.reportKey }),
  );
  const path = resolve(dataDirectory, "reports", `${result.plan?.runId ?? "run"}.html`);
  await mkdir(resolve(dataDirectory, "reports"), { recursive: true });
  await writeFile(path, (await object.Body?.transformToString()) ?? "");
  return path;
}

/** Waits briefly for the model to finish STOPPING, so the summary shows where it ended. */
async function settledModelStatus(stack: LocalStack): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const model = stack.emulator.admin
      .state()
      .models.find((candidate) => candidate.arn === stack.projectVersionArn);
    const status = model?.status ?? "unknown";
    if (status !== "STOPPING" && status !== "STARTING") return status;
    if (Date.now() > deadline) return status;
    await new Promise((done) => setTimeout(done, 200));
  }
}

function printSummary(
  stack: LocalStack,
  result: LocalJobResult,
  modelStatus: string,
  reportPath: string | undefined,
  elapsedMs: number,
  progress: RunProgress | undefined,
) {
  const { execution, summary } = result;
  const billing = stack.emulator.admin.billing(stack.projectVersionArn);
  const afterCause: string[] = [];
  if (result.orphans.ranOn > 0) {
    afterCause.push(
      `Orphans     ${result.orphans.ranOn} invocation(s) ran on after the execution ended, as on AWS; all ended before the stack closed${result.orphans.stillRunning ? ` except ${result.orphans.stillRunning}` : ""}`,
    );
  }
  // No report (an aborted execution writes none): the ledger says how far it got.
  if (!summary && progress) afterCause.push(formatRunProgress(progress));
  const lines = ["", ...endOfRunLines(execution, summary, afterCause)];
  lines.push(
    `Billed      ${billing.inferenceHours.toFixed(4)} inference hours = USD ${billing.cost.toFixed(4)} (emulator meter)`,
    ...(summary?.billing.measured.inferenceHours !== undefined
      ? [
          `Measured    ${summary.billing.measured.inferenceHours.toFixed(4)} inference hours from InServiceInferenceUnits (GetMetricData, as on AWS)`,
        ]
      : []),
    `Model       ${modelStatus}`,
    `Duration    ${(elapsedMs / 1000).toFixed(1)} s`,
  );
  const iam = stack.iam.stats;
  lines.push(
    iam.checked === 0
      ? "IAM         not enforced (--no-iam)"
      : `IAM         ${iam.checked.toLocaleString("en-US")} requests checked against the packaged policies, ${iam.denied.toLocaleString("en-US")} denied`,
  );
  for (const denial of iam.denials.slice(0, 5)) {
    lines.push(`Denied      ${denial.action} on ${denial.resource} (role ${denial.role})`);
  }
  if (result.replacedLease) {
    const dead = result.replacedLease;
    lines.push(
      `Lease       replaced the unreleased lease of execution ${dead.executionId} (run ${dead.runId}, started ${dead.startedAt}), which no longer ran the model`,
    );
  }
  if (result.safetyStop)
    lines.push(
      `Safety stop ${result.safetyStop.stopped ? "stopped the model" : result.safetyStop.reason}`,
    );
  if (reportPath) lines.push(`Report      ${reportPath}`);
  process.stdout.write(`${lines.join("\n")}\n`);
}

async function main(argv: string[]): Promise<number> {
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\nRun with --help for the options.\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  // Every flag is checked before anything starts: a bad value is exit 2, not a run.
  const { numbers, feature } = parseLocalOptions(values);
  if (!values.verbose) process.env.LOG_LEVEL ??= "silent";
  const dataDirectory = resolve((values.data as string | undefined) ?? LOCAL_DATA_DIRECTORY);
  const imagesPrefix =
    (values["images-prefix"] as string | undefined) ?? LOCAL_DEFAULTS.imagesPrefix;
  const resultsPrefix =
    (values["results-prefix"] as string | undefined) ?? LOCAL_DEFAULTS.resultsPrefix;

  const stack = await startLocalStack({
    dataDirectory,
    command: "npm run local",
    fresh: Boolean(values.fresh),
    feature,
    emulator: {
      tpsPerUnit: numbers["tps-per-unit"] ?? 20,
      startDelayMs: numbers["start-delay"] ?? 3000,
      latencyMs: numbers.latency ?? 100,
    },
  });
  try {
    const previous = stack.lock.tookOverFrom;
    if (previous) {
      process.stdout.write(
        `The data folder was locked by process ${previous.pid} (${previous.command}, since ${previous.startedAt}), which is no longer running: taking it over.\n`,
      );
    }
    if (values["fail-start"]) stack.emulator.admin.failNextStart(stack.projectVersionArn);
    const existing = await countObjects(stack, imagesPrefix);
    const first = existing === 0 ? (numbers.images ?? 200) : 0;
    const more = numbers["add-images"] ?? 0;
    if (first > 0) {
      process.stdout.write(
        `Seeding ${first} sample images into s3://${stack.imagesBucket}/${imagesPrefix} ...\n`,
      );
      await writeSampleImages({
        s3: stack.s3,
        bucket: stack.imagesBucket,
        prefix: imagesPrefix,
        count: first,
        badObjects: true,
        oddKeys: true,
      });
    }
    if (more > 0) {
      // A folder of their own, so added images are new keys rather than rewrites.
      const folder = `${imagesPrefix}added-${new Date().toISOString().replaceAll(":", "-")}/`;
      process.stdout.write(
        `Adding ${more} sample images under s3://${stack.imagesBucket}/${folder} ...\n`,
      );
      await writeSampleImages({
        s3: stack.s3,
        bucket: stack.imagesBucket,
        prefix: folder,
        count: more,
        seed: Date.now() % 1_000_000,
      });
    }

    const input: Record<string, JsonValue> = {};
    const map: [keyof LocalOptions["numbers"], string][] = [
      ["plan-tps", "tpsPerUnit"],
      ["window", "targetWindowMinutes"],
      ["min-units", "minUnits"],
      ["max-units", "maxUnits"],
      ["max-inference-units", "maxInferenceUnits"],
    ];
    for (const [flag, field] of map) {
      const value = numbers[flag];
      if (value !== undefined) input[field] = value;
    }
    const abort = new AbortController();
    const onFault = scheduleFaults(stack, numbers, abort);
    const progress = new LocalProgress(stack.emulator, stack.projectVersionArn);
    process.stdout.write(
      `Embedded S3 ${stack.s3Server.endpoint}, Rekognition emulator ${stack.emulator.endpoint}\nModel ${stack.projectVersionArn}\n`,
    );
    const startedAt = Date.now();
    progress.start();
    let result: LocalJobResult;
    try {
      result = await runLocalJob({
        stack,
        input,
        environment: { IMAGES_PREFIX: imagesPrefix, RESULTS_PREFIX: resultsPrefix },
        signal: abort.signal,
        iam: !values["no-iam"],
        onEvent: (event) => {
          progress.onEvent(event);
          onFault(event);
        },
      });
    } finally {
      progress.stop();
    }
    const modelStatus = await settledModelStatus(stack);
    const reportPath = await saveReport(stack, dataDirectory, result);
    const ledgerProgress =
      !result.summary && result.plan
        ? await runProgressFromLedger(stack, result.plan, { imagesPrefix, resultsPrefix })
        : undefined;
    printSummary(stack, result, modelStatus, reportPath, Date.now() - startedAt, ledgerProgress);
    const verdict = runVerdict(result.execution.status, modelStatus);
    if (verdict.warning) process.stdout.write(`${verdict.warning}\n`);
    return verdict.exitCode;
  } finally {
    await stack.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof DataFolderBusyError) {
      process.stderr.write(`${error.message}\n`);
      process.exitCode = 1;
      return;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\nRun with --help for the options.\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(
      `npm run local failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
