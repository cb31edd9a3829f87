import type { LearnedTps } from "../learned-tps.ts";
import type { TimelinePoint } from "../shapes.ts";
import { percentile, SATURATION_SHARE } from "./throughput.ts";

/**
 * What one run tells about the TPS one inference unit can serve.
 *
 * - `measured`: the model refused calls (ProvisionedThroughputExceeded) in at
 *   least `minSampleSeconds` seconds. A throttle means the model's token
 *   bucket was empty at that instant; between two such instants it accepted
 *   exactly its capacity x the time between them, whatever the callers did,
 *   as long as it never sat idle long enough to fill its burst (see
 *   `contendedSpans`). So the capacity is the calls accepted over the spans
 *   from throttle to throttle, divided by their length. Planning may use it.
 *   (The seconds that hold a throttle are no sample of the capacity: the
 *   callers cut their rate within them, so they run below it.)
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
  /** Accepted calls per second per unit in service over the evidence seconds. */
  tpsPerUnit: number;
  /** How many seconds the figure rests on. */
  sampleSeconds: number;
  /** Mean units in service over those seconds. */
  units: number;
  /** One sentence a person can check against the throughput chart. */
  basis: string;
}

/** Fewer throttled seconds than this is noise (one burst), not a measurement. */
export const MIN_CAPACITY_SAMPLE_SECONDS = 5;

/**
 * Throttled seconds further apart than this do not bound one span: in the
 * gap the callers may have run below the capacity long enough for the model
 * to fill its burst (about a second of capacity) and lose the rest, so the
 * calls accepted would understate it.
 */
export const MAX_THROTTLE_GAP_SECONDS = 10;

/**
 * The spans from throttle to throttle: runs of throttled seconds (some calls
 * accepted) no more than `MAX_THROTTLE_GAP_SECONDS` apart, each from its
 * first throttled second to its last. A lone throttled second bounds no span.
 */
export function contendedSpans(
  merged: readonly TimelinePoint[],
): { from: number; to: number; seconds: TimelinePoint[] }[] {
  const throttled = merged.filter((p) => p.throttled > 0 && p.accepted > 0).map((p) => p.t);
  const spans: { from: number; to: number; seconds: TimelinePoint[] }[] = [];
  let from: number | undefined;
  let to: number | undefined;
  const close = () => {
    if (from !== undefined && to !== undefined && to > from) {
      const [a, b] = [from, to];
      spans.push({ from: a, to: b, seconds: merged.filter((p) => p.t >= a && p.t <= b) });
    }
  };
  for (const t of throttled) {
    if (to !== undefined && t - to <= MAX_THROTTLE_GAP_SECONDS) {
      to = t;
      continue;
    }
    close();
    from = t;
    to = t;
  }
  close();
  return spans;
}

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
  const spans = contendedSpans(merged);
  if (throttled.length >= minSampleSeconds && spans.length > 0) {
    // Each span's throttles fall anywhere within its first and last seconds:
    // half of each edge second belongs to it on average (the edges of
    // consecutive spans would add up to whole seconds).
    let accepted = 0;
    let unitSeconds = 0;
    let seconds = 0;
    for (const span of spans) {
      for (const p of span.seconds) {
        const weight = p.t === span.from || p.t === span.to ? 0.5 : 1;
        accepted += weight * p.accepted;
        unitSeconds += weight * Math.max(1, unitsAtSecond(p.t));
      }
      seconds += span.to - span.from + 1;
    }
    const evidence = spans.flatMap((span) => span.seconds);
    return {
      kind: "measured",
      tpsPerUnit: round3(accepted / unitSeconds),
      sampleSeconds: seconds,
      units: round3(meanUnits(evidence)),
      basis: `calls accepted per unit in service over the ${seconds} seconds from throttle to throttle (${throttled.length} seconds with throttled calls)`,
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
