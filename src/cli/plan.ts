/**
 * `plan`: what a run would do now, without starting anything: the backlog
 * (listed, or `--images N`), the units for the window, and the cost table.
 */

import { renderCostTable } from "../cost.ts";
import { resolveTpsPerUnit } from "../plan.ts";
import { type PlanPreview, previewPlan } from "../plan-preview.ts";
import { formatDuration } from "../report/format.ts";
import { DEFAULT_TPS_PER_UNIT, parseRunInput, type RunInput } from "../run-input.ts";
import { renderStrategies } from "../scaling-strategy.ts";
import type { Sizing } from "../shapes.ts";
import { numberFlag, positiveNumber } from "./args.ts";
import { type CliCommand, type CliContext, type CommandOutcome, settingOf } from "./context.ts";

export const plan: CliCommand = {
  name: "plan",
  summary: "list the images and print units, duration and cost for the window",
  details: `With --images <n> the plan is made offline, without listing S3: the TPS per unit comes
from --tps-per-unit, else the figure learned by the last run or \`calibrate\` (read only when the
images bucket and the model are known and readable), else the default; the plan says which.`,
  options(command) {
    command.option(
      "--images <n>",
      "size for <n> images instead of listing the images prefix",
      positiveNumber({ integer: true }),
    );
  },
  run: planCommand,
};

/** What `plan` reports: the Plan step's own planning (see `previewPlan`). */
export interface PlanReport extends PlanPreview {
  /** Why the TPS per unit is not a learned figure, when an offline plan could not read one. */
  tpsNote?: string;
}

export async function planCommand(ctx: CliContext): Promise<CommandOutcome> {
  const assumed = ctx.args.values.images !== undefined;
  const { input, tpsPerUnit, tpsSource, tpsNote } = assumed
    ? await offlineSettings(ctx)
    : await listedSettings(ctx);
  const preview = await previewPlan({
    s3: ctx.clients.s3,
    input,
    logger: ctx.logger,
    tps: { tpsPerUnit, tpsSource },
    ...(assumed ? { assumedImages: numberFlag(ctx.args.values, "images", 0) } : {}),
  });
  const report: PlanReport = { ...preview, ...(tpsNote ? { tpsNote } : {}) };
  return {
    exitCode: 0,
    data: report,
    text: renderPlan(report, input.imagesBucket, input.imagesPrefix),
  };
}

interface PlanSettings {
  input: RunInput;
  tpsPerUnit: number;
  tpsSource: Sizing["tpsSource"];
  tpsNote?: string;
}

/** Listing the backlog: the run input as the workflow would take it, and the TPS it would use. */
async function listedSettings(ctx: CliContext): Promise<PlanSettings> {
  const input = parseRunInput(ctx.args.overrides, ctx.env);
  return { input, ...(await resolveTpsPerUnit({ s3: ctx.clients.s3, input, logger: ctx.logger })) };
}

/**
 * Stand-ins for the two required fields when `--images` plans without them:
 * sizing and cost never read them.
 */
const OFFLINE_STAND_INS = {
  imagesBucket: "offline-plan",
  projectVersionArn:
    "arn:aws:rekognition:us-east-1:000000000000:project/offline-plan/version/offline-plan/1",
};

/**
 * `--images N`: no listing, and AWS only to read the learned TPS when the
 * bucket and model are known; without them, or when the read fails (no
 * credentials, no access), the default, with the reason.
 */
async function offlineSettings(ctx: CliContext): Promise<PlanSettings> {
  const bucket = settingOf(ctx, "imagesBucket", "IMAGES_BUCKET");
  const model = settingOf(ctx, "projectVersionArn", "PROJECT_VERSION_ARN");
  const input = parseRunInput(
    {
      ...ctx.args.overrides,
      imagesBucket: bucket ?? OFFLINE_STAND_INS.imagesBucket,
      projectVersionArn: model ?? OFFLINE_STAND_INS.projectVersionArn,
    },
    ctx.env,
  );
  if (input.tpsPerUnit !== undefined) {
    return { input, tpsPerUnit: input.tpsPerUnit, tpsSource: "input" };
  }
  const fallback = { input, tpsPerUnit: DEFAULT_TPS_PER_UNIT, tpsSource: "default" as const };
  if (!bucket || !model) {
    return {
      ...fallback,
      tpsNote:
        "no learned figure looked up: that needs IMAGES_BUCKET and PROJECT_VERSION_ARN (or their flags)",
    };
  }
  try {
    return {
      input,
      ...(await resolveTpsPerUnit({ s3: ctx.clients.s3, input, logger: ctx.logger })),
    };
  } catch (error) {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return { ...fallback, tpsNote: `the learned figure could not be read (${reason})` };
  }
}

const TPS_SOURCES: Record<Sizing["tpsSource"], string> = {
  input: "given",
  learned: "learned from the last run or calibration",
  default: "the default; run `calibrate` to measure it",
};

function renderPlan(report: PlanReport, bucket: string, prefix: string): string {
  const { counts, sizing, cost } = report;
  const lines = [
    report.assumedCount
      ? `Images      ${counts.pending} (assumed with --images, S3 not listed)`
      : `Images      s3://${bucket}/${prefix}: ${counts.listed} listed = ${counts.pending} pending + ${counts.skipped} skipped + ${counts.alreadyDone} already done`,
    `TPS/unit    ${sizing.tpsPerUnit} (${TPS_SOURCES[sizing.tpsSource]})`,
    ...(report.tpsNote ? [`            ${report.tpsNote}`] : []),
    `Window      ${sizing.targetWindowMinutes} minutes`,
    "",
    renderCostTable(cost),
    "",
    renderStrategies(report.strategy),
    "",
  ];
  if (counts.pending === 0) {
    lines.push("Nothing to do: a run now would not start the model.");
  } else {
    lines.push(
      `Recommended ${sizing.units} inference unit(s)${sizing.maxInferenceUnits ? ` (auto-scaling up to ${sizing.maxInferenceUnits})` : ""}: ` +
        `about ${formatDuration(report.strategy.chosen.durationSeconds, { coarse: true })} including start-up, USD ${report.strategy.chosen.cost.toFixed(2)}`,
    );
  }
  if (sizing.windowNote) lines.push(`Note        ${sizing.windowNote}`);
  if (report.singleUnitRisk) lines.push(`Resilience  ${report.singleUnitRisk.note}`);
  return lines.join("\n");
}
