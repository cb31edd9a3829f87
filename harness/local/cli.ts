// Must be first: silences the SDK's Node 20 notice before the SDK loads.
import "./quiet-sdk-notice.ts";
import { mkdir, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { endOfRunLines } from "../../src/report/end-of-run.ts";
import { parseCommand, runCommandLine } from "../command.ts";
import {
  FAULT_FLAGS,
  type LocalOptions,
  localCommand,
  parseLocalOptions,
  valuesByFlag,
} from "./cli-options.ts";
import { DataFolderBusyError } from "./data-lock.ts";
import { anythingPending, FaultSchedule, faultsCannotTakeEffect } from "./fault-switches.ts";
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

async function countObjects(stack: LocalStack, prefix: string): Promise<number> {
  const page = await stack.s3.send(
    new ListObjectsV2Command({ Bucket: stack.imagesBucket, Prefix: prefix, MaxKeys: 1 }),
  );
  return page.KeyCount ?? 0;
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

/** The options as commander returns them (the numeric ones still strings). */
interface LocalFlags {
  data?: string;
  imagesPrefix?: string;
  resultsPrefix?: string;
  fresh?: boolean;
  iam: boolean;
  failStart?: boolean;
  verbose?: boolean;
}

async function main(argv: string[]): Promise<number> {
  const program = localCommand();
  const values = parseCommand<LocalFlags>(program, argv);
  if (!values) return 0;
  // Every flag is checked before anything starts: a bad value is exit 2, not a run.
  const { numbers, feature, rescale } = parseLocalOptions(valuesByFlag(program));
  if (!values.verbose) process.env.LOG_LEVEL ??= "silent";
  const dataDirectory = resolve(values.data ?? LOCAL_DATA_DIRECTORY);
  const imagesPrefix = values.imagesPrefix ?? LOCAL_DEFAULTS.imagesPrefix;
  const resultsPrefix = values.resultsPrefix ?? LOCAL_DEFAULTS.resultsPrefix;
  const faults = FAULT_FLAGS.filter((flag) =>
    flag === "fail-start" ? values.failStart : numbers[flag] !== undefined,
  );

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

    if (faults.length > 0 && !(await anythingPending(stack, { imagesPrefix, resultsPrefix }))) {
      throw faultsCannotTakeEffect(faults, `s3://${stack.imagesBucket}/${imagesPrefix}`);
    }
    if (values.failStart) stack.emulator.admin.failNextStart(stack.projectVersionArn);

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
    if (rescale !== undefined) input.rescale = rescale;
    const abort = new AbortController();
    const faultSchedule = new FaultSchedule(stack, numbers, abort);
    const progress = new LocalProgress(stack.emulator, stack.projectVersionArn);
    process.stdout.write(
      `Embedded S3 ${stack.s3Server.endpoint}, Rekognition emulator ${stack.emulator.endpoint}\nModel ${stack.projectVersionArn}\n`,
    );
    const startedAt = Date.now();
    progress.start();
    let result: LocalJobResult;
    let unfired: string[] = [];
    try {
      result = await runLocalJob({
        stack,
        input,
        environment: { IMAGES_PREFIX: imagesPrefix, RESULTS_PREFIX: resultsPrefix },
        signal: abort.signal,
        iam: values.iam,
        onEvent: (event) => {
          progress.onEvent(event);
          faultSchedule.onEvent(event);
        },
      });
    } finally {
      progress.stop();
      // A fault that has not fired must not hit the model once the run is over.
      unfired = faultSchedule.stop();
    }
    const modelStatus = await settledModelStatus(stack);
    const reportPath = await saveReport(stack, dataDirectory, result);
    const ledgerProgress =
      !result.summary && result.plan
        ? await runProgressFromLedger(stack, result.plan, { imagesPrefix, resultsPrefix })
        : undefined;
    printSummary(stack, result, modelStatus, reportPath, Date.now() - startedAt, ledgerProgress);
    if (unfired.length > 0) {
      process.stdout.write(
        `Faults      ${unfired.join(", ")} did not fire: processing ended first (give it a smaller number, or more images)\n`,
      );
    }
    const verdict = runVerdict(result.execution.status, modelStatus);
    if (verdict.warning) process.stdout.write(`${verdict.warning}\n`);
    return verdict.exitCode;
  } finally {
    await stack.close();
  }
}

runCommandLine(main, {
  name: "npm run local",
  expects: (error) => error instanceof DataFolderBusyError,
});
