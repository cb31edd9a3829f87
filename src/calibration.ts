/**
 * The step-load probe AWS recommends for finding what one inference unit
 * serves: call a RUNNING model at a fixed rate, raise the rate step by step,
 * and stop at the first step with sustained throttling. Bounded in calls and
 * time; every call is one DetectCustomLabels on an S3 object.
 */
import { DetectCustomLabelsCommand, type RekognitionClient } from "@aws-sdk/client-rekognition";
import { classifyDetectionError } from "./aws-errors.ts";
import type { Clock } from "./runtime.ts";

export interface StepLoadOptions {
  rekognition: RekognitionClient;
  projectVersionArn: string;
  /** Images to call with (S3 references), used round-robin. */
  images: { bucket: string; keys: string[] };
  /** Inference units the model runs with: rates are per unit times this. */
  units: number;
  clock: Clock;
  /** First step's rate per unit (default 1). */
  startTpsPerUnit?: number;
  /** Rate added per unit at each step (default 1). */
  stepTpsPerUnit?: number;
  /** Length of each step (default 10 s). */
  stepSeconds?: number;
  /** Highest rate per unit tried (default 50). */
  maxTpsPerUnit?: number;
  /** Share of throttled calls that ends the probe (default 0.02). */
  throttleThreshold?: number;
  /** Most calls in all (default 5,000): the probe stops before a step would exceed it. */
  maxCalls?: number;
  signal?: AbortSignal;
  onStep?: (step: LoadStep) => void;
}

/** What one step of the probe saw. */
export interface LoadStep {
  tpsPerUnit: number;
  /** tpsPerUnit x units. */
  offeredTps: number;
  calls: number;
  accepted: number;
  throttled: number;
  /** Calls refused for their image (bad format, too small...): the image is not used again. */
  rejectedImages: number;
  /** Calls that failed for another reason (a network error, the model stopping). */
  otherErrors: number;
  throttledShare: number;
  /**
   * Calls per second the model accepted from the first throttled answer to
   * the end of the step: under sustained throttling, the limit itself.
   */
  acceptedTpsWhileThrottled?: number;
}

export interface CalibrationResult {
  /** The sustainable TPS per unit, or undefined when even the first step was throttled. */
  tpsPerUnit?: number;
  /** False when no step throttled: the figure is a lower bound (the probe stopped at a bound). */
  measured: boolean;
  units: number;
  steps: LoadStep[];
  /** Why the probe ended, in words. */
  stoppedBecause: string;
  accepted: number;
  throttled: number;
  durationSeconds: number;
}

/** Calls whose other errors pass this share mean the probe cannot measure anything. */
const MAX_OTHER_ERROR_SHARE = 0.2;

/**
 * Runs the step load. The sustainable figure is the last step without
 * sustained throttling, lowered to the rate accepted under throttling when
 * that is clearly less: a token bucket's burst can let a step above the limit
 * pass clean for a few seconds, but while throttled the model accepts exactly
 * what it can serve.
 */
export async function stepLoadProbe(options: StepLoadOptions): Promise<CalibrationResult> {
  const {
    clock,
    units,
    startTpsPerUnit = 1,
    stepTpsPerUnit = 1,
    stepSeconds = 10,
    maxTpsPerUnit = 50,
    throttleThreshold = 0.02,
    maxCalls = 5000,
  } = options;
  if (options.images.keys.length === 0) throw new Error("the probe needs at least one image");
  // Images the model refuses as such are dropped, so they neither skew a step nor fail the probe.
  const pool = { keys: [...options.images.keys], rejected: new Set<string>() };
  const startedAt = clock.now();
  const steps: LoadStep[] = [];
  let lastClean: number | undefined;
  let callsSoFar = 0;
  let stoppedBecause = `reached ${maxTpsPerUnit} TPS per unit without throttling`;
  let throttledStep: LoadStep | undefined;

  for (let tps = startTpsPerUnit; tps <= maxTpsPerUnit + 1e-9; tps += stepTpsPerUnit) {
    const offeredTps = tps * units;
    const calls = Math.max(1, Math.round(offeredTps * stepSeconds));
    if (callsSoFar + calls > maxCalls) {
      stoppedBecause = `the next step (${tps} TPS per unit) would pass the ${maxCalls}-call bound`;
      break;
    }
    const step = await runStep(options, pool, tps, offeredTps, calls, callsSoFar);
    callsSoFar += calls;
    pool.keys = pool.keys.filter((key) => !pool.rejected.has(key));
    if (pool.keys.length === 0) {
      throw new Error(
        "the model refused every image given as an image (format, size): nothing to probe with",
      );
    }
    steps.push(step);
    options.onStep?.(step);
    if (step.otherErrors > step.calls * MAX_OTHER_ERROR_SHARE) {
      throw new Error(
        `${step.otherErrors} of ${step.calls} calls at ${tps} TPS per unit failed for reasons other than throttling; check the images and the model`,
      );
    }
    if (step.throttledShare > throttleThreshold) {
      throttledStep = step;
      stoppedBecause = `${(step.throttledShare * 100).toFixed(1)} % of calls throttled at ${tps} TPS per unit`;
      break;
    }
    lastClean = tps;
  }

  let tpsPerUnit = lastClean;
  const whileThrottled = throttledStep?.acceptedTpsWhileThrottled;
  if (whileThrottled !== undefined) {
    const perUnit = Math.round((whileThrottled / units) * 10) / 10;
    // Counting whole calls reads a little low; only a figure clearly below the
    // last clean step (by more than half a step) says the burst hid the limit.
    const hidden = tpsPerUnit === undefined || perUnit < tpsPerUnit - stepTpsPerUnit / 2;
    if (perUnit > 0 && hidden) tpsPerUnit = perUnit;
  }
  return {
    ...(tpsPerUnit !== undefined ? { tpsPerUnit } : {}),
    measured: throttledStep !== undefined,
    units,
    steps,
    stoppedBecause,
    accepted: steps.reduce((sum, s) => sum + s.accepted, 0),
    throttled: steps.reduce((sum, s) => sum + s.throttled, 0),
    durationSeconds: Math.round((clock.now() - startedAt) / 1000),
  };
}

/** One step: `calls` calls at evenly spaced times (open loop: a slow answer never delays the next call). */
async function runStep(
  options: StepLoadOptions,
  pool: { keys: string[]; rejected: Set<string> },
  tpsPerUnit: number,
  offeredTps: number,
  calls: number,
  firstImage: number,
): Promise<LoadStep> {
  const { clock } = options;
  const bucket = options.images.bucket;
  const stepStart = clock.now();
  type Outcome = "accepted" | "throttled" | "rejectedImage" | "other";
  const answers: Promise<Outcome>[] = [];
  for (let i = 0; i < calls; i++) {
    const due = stepStart + (i * 1000) / offeredTps;
    const wait = due - clock.now();
    if (wait > 0) await clock.sleep(wait, options.signal);
    const key = pool.keys[(firstImage + i) % pool.keys.length] as string;
    answers.push(
      options.rekognition
        .send(
          new DetectCustomLabelsCommand({
            ProjectVersionArn: options.projectVersionArn,
            Image: { S3Object: { Bucket: bucket, Name: key } },
          }),
          options.signal ? { abortSignal: options.signal } : {},
        )
        .then(
          (): Outcome => "accepted",
          (error: unknown): Outcome => {
            const classified = classifyDetectionError(error);
            if (classified.throttle) return "throttled";
            if (classified.kind === "permanent" || classified.kind === "unreadable") {
              pool.rejected.add(key);
              return "rejectedImage";
            }
            return "other";
          },
        ),
    );
  }
  const results = await Promise.all(answers);
  const stepEnd = stepStart + (calls * 1000) / offeredTps;
  const count = (outcome: Outcome) => results.filter((r) => r === outcome).length;
  const throttled = count("throttled");
  const step: LoadStep = {
    tpsPerUnit,
    offeredTps,
    calls,
    accepted: count("accepted"),
    throttled,
    rejectedImages: count("rejectedImage"),
    otherErrors: count("other"),
    throttledShare: throttled / Math.max(1, calls - count("rejectedImage")),
  };
  // Calls are issued in order, so the answers' array order is the order of issue.
  const firstThrottled = results.indexOf("throttled");
  if (firstThrottled >= 0) {
    const issuedAt = stepStart + (firstThrottled * 1000) / offeredTps;
    const seconds = (stepEnd - issuedAt) / 1000;
    const acceptedAfter = results.slice(firstThrottled).filter((r) => r === "accepted").length;
    // Too short a window says nothing reliable.
    if (seconds >= 1) step.acceptedTpsWhileThrottled = acceptedAfter / seconds;
  }
  return step;
}
