import type { RateControllerOptions } from "./adaptive-rate-controller.ts";

/**
 * How a worker paces its calls when the model auto-scales.
 *
 * Custom Labels adds inference units only while the calls it receives exceed
 * what the units in service can take. A controller that backs off at the
 * first throttle keeps demand at exactly the capacity in service, and the
 * model never grows. So with MaxInferenceUnits set a worker may climb to its
 * share of MaxInferenceUnits x TPS per unit, probes in steps sized to that
 * ceiling (without the slow crawl below the last throttled rate: the
 * capacity there may just have grown), and lets a modest share of throttles stand (they hold the rate
 * instead of cutting it): that standing excess is the demand the service
 * scales on. A larger share (units lost, a real overload) still cuts.
 * Throttles cost no retry budget (see retry.ts, paced errors), so the excess
 * slows no image into failure.
 */
export const AUTO_SCALING_PACE = {
  /** Each probe adds this share of the worker's ceiling. */
  probeStepOfCeiling: 0.05,
  /** Throttles up to this share of recent calls hold the rate; more cut it. */
  toleratedThrottleShare: 0.3,
} as const;

/**
 * Rate-controller options for a worker that starts at `plannedTps` (its
 * share of the starting units) and may climb to `ceilingTps` (its share of
 * MaxInferenceUnits). Returns nothing when the ceiling is not above the
 * start: the model does not auto-scale and the default pacing applies.
 */
export function autoScalingPace(
  plannedTps: number,
  ceilingTps: number | undefined,
): Partial<RateControllerOptions> {
  if (ceilingTps === undefined || !(ceilingTps > plannedTps)) return {};
  return {
    ceilingTps,
    probeStepFraction: (AUTO_SCALING_PACE.probeStepOfCeiling * ceilingTps) / plannedTps,
    toleratedThrottleShare: AUTO_SCALING_PACE.toleratedThrottleShare,
    nearLimitFactor: 1,
    // The capacity in service grows here: climb back to just below the last
    // throttled rate and out of a quiet band at once, and hold it no longer
    // (the fixed-units settings would slow the climb the service scales on).
    recoverFraction: 0.95,
    staleClimbFactor: 1,
    maxStaleAfterMs: 0,
  };
}
