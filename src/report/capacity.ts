import type { LearnedTps } from "../learned-tps.ts";
import type { TimelinePoint } from "../shapes.ts";
import { percentile, SATURATION_SHARE } from "./throughput.ts";

/**
 * What one run tells about the TPS one inference unit can serve.
 *
 * - `measured`: the model refused calls (ProvisionedThroughputExceeded) in at
 *   least `minSampleSeconds` seconds, so the rate it accepted in those seconds
 *   is its capacity. Planning may use it.
 * - `lower-bound`: no (or too little) throttling, but the run held its own
 *   limit for at least `minSampleSeconds` seconds: the model served this rate
 *   and may serve more. Recorded for people, never used for planning, since
 *   planning on it would only repeat the run's own assumption.
 *
 * A run that never reached its limit (short backlog, slow images) says
 * nothing about capacity and yields no figure at all.
 */
export interface CapacityMeasurement {
  kind: "measured" | "lower-bound";
  /** Median over the evidence seconds of accepted calls / units in service. */
  tpsPerUnit: number;
  /** How many seconds the figure rests on. */
  sampleSeconds: number;
  /** Mean units in service over those seconds. */
  units: number;
  /** One sentence a person can check against the throughput chart. */
  basis: string;
}

/** Fewer evidence seconds than this is noise (one burst), not a measurement. */
export const MIN_CAPACITY_SAMPLE_SECONDS = 5;

/**
 * Applies the rule above to a merged per-second timeline. `limitAt` is the
 * run's own limit at a second (units in service x the planned TPS per unit).
 */
export function measureCapacity(
  merged: readonly TimelinePoint[],
  unitsAtSecond: (t: number) => number,
  limitAt: (t: number) => number,
  minSampleSeconds = MIN_CAPACITY_SAMPLE_SECONDS,
): CapacityMeasurement | undefined {
  const perUnit = (points: readonly TimelinePoint[]) =>
    points.map((p) => p.accepted / Math.max(1, unitsAtSecond(p.t)));
  const meanUnits = (points: readonly TimelinePoint[]) =>
    points.reduce((sum, p) => sum + unitsAtSecond(p.t), 0) / points.length;

  const throttled = merged.filter((p) => p.throttled > 0 && p.accepted > 0);
  if (throttled.length >= minSampleSeconds) {
    return {
      kind: "measured",
      tpsPerUnit: round3(percentile(perUnit(throttled), 0.5)),
      sampleSeconds: throttled.length,
      units: round3(meanUnits(throttled)),
      basis: `median accepted calls per unit in the ${throttled.length} seconds in which the model throttled calls`,
    };
  }
  const atLimit = merged.filter(
    (p) => limitAt(p.t) > 0 && p.accepted >= SATURATION_SHARE * limitAt(p.t),
  );
  if (atLimit.length >= minSampleSeconds) {
    return {
      kind: "lower-bound",
      tpsPerUnit: round3(percentile(perUnit(atLimit), 0.5)),
      sampleSeconds: atLimit.length,
      units: round3(meanUnits(atLimit)),
      basis: `median accepted calls per unit in the ${atLimit.length} seconds the run held its own limit without being throttled: the model may serve more`,
    };
  }
  return undefined;
}

/**
 * Decides what to store after a run: the new record, or `undefined` to leave
 * the stored one as it is. `previous` is the stored measurement for this
 * model version, if any (`readLearnedTps` returns only those). A measurement
 * always replaces what is stored. A lower bound never overwrites a
 * measurement it does not contradict (a lower bound at or below a measured
 * capacity is consistent with it); one above it shows the old measurement is
 * stale, and replaces it.
 */
export function nextLearnedTps(
  previous: LearnedTps | undefined,
  current: LearnedTps | undefined,
): LearnedTps | undefined {
  if (!current) return undefined;
  if (current.measured !== false) return current;
  const previousIsMeasurement =
    previous !== undefined &&
    previous.measured !== false &&
    (previous.projectVersionArn === undefined ||
      previous.projectVersionArn === current.projectVersionArn);
  if (previousIsMeasurement && current.tpsPerUnit <= previous.tpsPerUnit) return undefined;
  return current;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
