/**
 * `calibrate`: the step-load probe of a RUNNING model; the sustainable TPS
 * per unit it finds is stored where `plan` and the workflow's Plan step read
 * the learned figure.
 */
import { StartProjectVersionCommand, StopProjectVersionCommand } from "@aws-sdk/client-rekognition";
import { skipReasonFor } from "../backlog.ts";
import { type CalibrationResult, stepLoadProbe } from "../calibration.ts";
import { writeLearnedTps } from "../learned-tps.ts";
import { describeModel, type ModelDescription } from "../model/describe.ts";
import { newRunId } from "../plan.ts";
import { parseRunInput } from "../run-input.ts";
import { listObjects } from "../s3-listing.ts";
import { numberFlag, positiveNumber } from "./args.ts";
import type { CliCommand, CliContext, CommandOutcome } from "./context.ts";

const number = positiveNumber();
const integer = positiveNumber({ integer: true });

export const calibrate: CliCommand = {
  name: "calibrate",
  summary: "step-load a RUNNING model to measure the TPS one unit sustains; store it for planning",
  details: `Calls DetectCustomLabels (S3 references to images under the images prefix) at a fixed rate
per step, raising it by --step-tps per unit, until more than --throttle-percent of a step's
calls are throttled. Every call is billed like any inference; the model must be RUNNING.
With --local, the local model is started for the probe and stopped afterwards.`,
  options(command) {
    command
      .option("--start-tps <n>", "TPS per unit of the first step", number, 1)
      .option("--step-tps <n>", "TPS per unit added at each step", number, 1)
      .option("--step-seconds <s>", "length of a step", number, 10)
      .option("--max-tps <n>", "the highest TPS per unit tried", number, 50)
      .option("--max-calls <n>", "the most calls in all", integer, 5000)
      .option("--max-images <n>", "images probed with (from the images prefix)", integer, 50)
      .option(
        "--throttle-percent <p>",
        "the throttled share of a step that ends the probe",
        number,
        2,
      )
      .option("--units <n>", "the model's units (default: as described by Rekognition)", integer)
      .option("--no-store", "do not store the figure for plan and the next run");
  },
  run: calibrateCommand,
};

export async function calibrateCommand(ctx: CliContext): Promise<CommandOutcome> {
  const { values } = ctx.args;
  const input = parseRunInput(ctx.args.overrides, ctx.env);
  const settings = {
    startTpsPerUnit: numberFlag(values, "start-tps", 1),
    stepTpsPerUnit: numberFlag(values, "step-tps", 1),
    stepSeconds: numberFlag(values, "step-seconds", 10),
    maxTpsPerUnit: numberFlag(values, "max-tps", 50),
    maxCalls: numberFlag(values, "max-calls", 5000),
    throttleThreshold: numberFlag(values, "throttle-percent", 2) / 100,
  };
  const maxImages = numberFlag(values, "max-images", 50);
  const keys: string[] = [];
  for await (const object of listObjects(ctx.clients.s3, {
    bucket: input.imagesBucket,
    prefix: input.imagesPrefix,
  })) {
    if (!skipReasonFor(object, "S3Object")) keys.push(object.key);
    if (keys.length >= maxImages) break;
  }
  if (keys.length === 0) {
    return failure(
      `no JPEG or PNG images under s3://${input.imagesBucket}/${input.imagesPrefix} to probe with`,
    );
  }

  const ref = { rekognition: ctx.clients.rekognition, projectVersionArn: input.projectVersionArn };
  const startedLocally = ctx.local ? await startLocalModel(ctx, values) : false;
  let result: CalibrationResult;
  let model: ModelDescription;
  try {
    model = await describeModel({ ...ref, rekognition: ctx.clients.modelControl });
    if (model.status !== "RUNNING") {
      return failure(
        `model ${input.projectVersionArn} is ${model.status}: calibrate probes a RUNNING model (start it, or run while a job runs)`,
      );
    }
    const units = numberFlag(values, "units", model.minInferenceUnits ?? 1);
    if (!ctx.json) {
      ctx.io.stderr.write(
        `Probing ${input.projectVersionArn} (${units} unit(s)) with ${keys.length} image(s), ${settings.stepSeconds} s per step\n`,
      );
    }
    result = await stepLoadProbe({
      ...ref,
      images: { bucket: input.imagesBucket, keys },
      units,
      clock: ctx.clock,
      ...settings,
      onStep: (step) => {
        if (ctx.json) return;
        ctx.io.stderr.write(
          `  ${step.tpsPerUnit} TPS/unit: ${step.accepted}/${step.calls} accepted, ${step.throttled} throttled (${(step.throttledShare * 100).toFixed(1)} %)${step.rejectedImages ? `, ${step.rejectedImages} refused for their image` : ""}\n`,
        );
      },
    });
  } finally {
    if (startedLocally) {
      await ctx.clients.modelControl.send(
        new StopProjectVersionCommand({ ProjectVersionArn: input.projectVersionArn }),
      );
    }
  }

  if (result.tpsPerUnit === undefined) {
    return {
      exitCode: 1,
      data: { calibration: result, stored: false },
      text: `Throttled already at ${settings.startTpsPerUnit} TPS per unit (${result.stoppedBecause}); try a lower --start-tps.`,
    };
  }
  const store = result.measured && values["no-store"] !== true;
  if (store) {
    await writeLearnedTps({
      s3: ctx.clients.s3,
      bucket: input.resultsBucket,
      resultsPrefix: input.resultsPrefix,
      learned: {
        tpsPerUnit: result.tpsPerUnit,
        measuredAt: new Date(ctx.clock.now()).toISOString(),
        runId: `calibrate-${newRunId(ctx.clock.now())}`,
        projectVersionArn: input.projectVersionArn,
        units: result.units,
        provisionedTps: result.tpsPerUnit * result.units,
        accepted: result.accepted,
        throttled: result.throttled,
        measured: true,
        basis: `step-load probe: ${result.steps.length} steps of ${settings.stepSeconds} s; ${result.stoppedBecause}`,
        sampleSeconds: result.durationSeconds,
      },
    });
  }
  const lines = [
    `Sustainable ${result.tpsPerUnit} TPS per unit${result.measured ? "" : " at least (no step throttled: a lower bound)"}`,
    `Ended       ${result.stoppedBecause}`,
    store
      ? `Stored      s3://${input.resultsBucket}/${input.resultsPrefix}state/learned-tps.json (used by plan and the next run)`
      : `Stored      nothing${result.measured ? " (--no-store)" : ": a lower bound is not used for sizing; raise --max-tps or --max-calls"}`,
  ];
  return { exitCode: 0, data: { calibration: result, stored: store }, text: lines.join("\n") };
}

function failure(message: string): CommandOutcome {
  return { exitCode: 1, data: { error: "CalibrationNotPossible", message }, text: message };
}

/**
 * With `--local` the embedded model is started for the probe (a fresh
 * process has it STOPPED) and stopped afterwards.
 */
async function startLocalModel(ctx: CliContext, values: CliContext["args"]["values"]) {
  const projectVersionArn = ctx.local?.projectVersionArn as string;
  const units = numberFlag(values, "units", 1);
  const ref = { rekognition: ctx.clients.modelControl, projectVersionArn };
  if ((await describeModel(ref)).status === "RUNNING") return false;
  await ctx.clients.modelControl.send(
    new StartProjectVersionCommand({
      ProjectVersionArn: projectVersionArn,
      MinInferenceUnits: units,
    }),
  );
  const deadline = ctx.clock.now() + 60_000;
  while ((await describeModel(ref)).status === "STARTING" && ctx.clock.now() < deadline) {
    await ctx.clock.sleep(100);
  }
  return true;
}
