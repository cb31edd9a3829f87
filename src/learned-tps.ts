import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { InternalError } from "./errors.ts";
import { stateFiles } from "./result-keys.ts";
import { RUN_INPUT_RANGES } from "./run-input.ts";
import type { Logger } from "./runtime.ts";
import { getObjectTextIfExists } from "./s3-json.ts";

/** The TPS per inference unit a run observed, kept for the next run's sizing. */
export interface LearnedTps {
  tpsPerUnit: number;
  /** ISO 8601. */
  measuredAt: string;
  runId: string;
  /** The model it was measured on: a figure from another model version is not reused. */
  projectVersionArn?: string;
  units?: number;
  provisionedTps?: number;
  /** Calls the model accepted during the measurement. */
  accepted?: number;
  throttled?: number;
  /**
   * False when the figure is only a lower bound: the run held its own limit
   * without being throttled, so the model may serve more. Kept for people,
   * never used for sizing. Absent means a measurement.
   */
  measured?: boolean;
  /** How the figure was obtained, in words. */
  basis?: string;
  /** Seconds of evidence the figure rests on. */
  sampleSeconds?: number;
}

const learnedTpsSchema = z.object({
  tpsPerUnit: z.number().positive().finite(),
  measuredAt: z.string().min(1),
  runId: z.string().min(1),
  projectVersionArn: z.string().optional(),
  units: z.number().int().positive().optional(),
  provisionedTps: z.number().nonnegative().optional(),
  accepted: z.number().int().nonnegative().optional(),
  throttled: z.number().int().nonnegative().optional(),
  measured: z.boolean().optional(),
  basis: z.string().optional(),
  sampleSeconds: z.number().int().nonnegative().optional(),
});

interface StateLocation {
  s3: S3Client;
  bucket: string;
  resultsPrefix: string;
}

/**
 * The learned TPS per unit, or `undefined` when there is none, when it is
 * corrupt or outside the range `tpsPerUnit` accepts (logged as a warning),
 * when it was measured on another model version than `projectVersionArn`,
 * or when it is only a lower bound (`measured: false`).
 */
export async function readLearnedTps(
  opts: StateLocation & { logger: Logger; projectVersionArn?: string },
): Promise<LearnedTps | undefined> {
  const key = stateFiles.learnedTps(opts.resultsPrefix);
  const text = await getObjectTextIfExists({ s3: opts.s3, bucket: opts.bucket, key });
  if (text === undefined) return undefined;
  let parsed: LearnedTps;
  try {
    const result = learnedTpsSchema.safeParse(JSON.parse(text));
    if (!result.success) throw new Error(result.error.issues.map((i) => i.message).join("; "));
    parsed = result.data;
  } catch (error) {
    opts.logger.warn("ignoring a corrupt learned TPS file", {
      bucket: opts.bucket,
      key,
      error: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
  if (
    opts.projectVersionArn !== undefined &&
    parsed.projectVersionArn !== undefined &&
    parsed.projectVersionArn !== opts.projectVersionArn
  ) {
    opts.logger.info("ignoring the learned TPS of another model version", {
      learnedFor: parsed.projectVersionArn,
      projectVersionArn: opts.projectVersionArn,
    });
    return undefined;
  }
  // A figure the run input would refuse is not trusted either: it would size
  // absurd batches and in-flight calls (one measured on a faulty run, or edited).
  const { min, max } = RUN_INPUT_RANGES.tpsPerUnit;
  if (parsed.tpsPerUnit < min || parsed.tpsPerUnit > max) {
    opts.logger.warn(
      `ignoring a learned TPS outside ${min}-${max} calls per second per unit; sizing with the default`,
      { bucket: opts.bucket, key, tpsPerUnit: parsed.tpsPerUnit, runId: parsed.runId },
    );
    return undefined;
  }
  if (parsed.measured === false) {
    opts.logger.info("the learned TPS is only a lower bound; not used for sizing", {
      tpsPerUnit: parsed.tpsPerUnit,
      runId: parsed.runId,
    });
    return undefined;
  }
  return parsed;
}

/** Records the TPS per unit a run observed (the report calls this). */
export async function writeLearnedTps(
  opts: StateLocation & { learned: LearnedTps },
): Promise<void> {
  const result = learnedTpsSchema.safeParse(opts.learned);
  if (!result.success) {
    throw new InternalError(
      `refusing to record an invalid learned TPS: ${result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  }
  const learned = result.data;
  await opts.s3.send(
    new PutObjectCommand({
      Bucket: opts.bucket,
      Key: stateFiles.learnedTps(opts.resultsPrefix),
      Body: `${JSON.stringify(learned, null, 2)}\n`,
      ContentType: "application/json",
    }),
  );
}
