import type { TimelinePoint } from "../shapes.ts";

/** Inference units in service from second `t` (epoch seconds) until the next point. */
export interface UnitsPoint {
  t: number;
  units: number;
  /** DesiredInferenceUnits, when known (auto-scaling). */
  desired?: number;
}

/**
 * Sums the batches' per-second call counts into one timeline, one point per
 * second from the first to the last second any batch was active, with
 * zero-filled gaps so a chart shows idle seconds as idle.
 */
export function mergeTimelines(timelines: readonly (readonly TimelinePoint[])[]): TimelinePoint[] {
  const bySecond = new Map<number, TimelinePoint>();
  for (const timeline of timelines) {
    for (const point of timeline) {
      const t = Math.floor(point.t);
      const merged = bySecond.get(t) ?? { t, accepted: 0, throttled: 0 };
      merged.accepted += point.accepted;
      merged.throttled += point.throttled;
      bySecond.set(t, merged);
    }
  }
  if (bySecond.size === 0) return [];
  const seconds = [...bySecond.keys()];
  const first = Math.min(...seconds);
  const last = Math.max(...seconds);
  const merged: TimelinePoint[] = [];
  for (let t = first; t <= last; t++) {
    merged.push(bySecond.get(t) ?? { t, accepted: 0, throttled: 0 });
  }
  return merged;
}

/** Units in service at second `t`: the last point at or before it, else the first point, else `fallback`. */
export function unitsAt(timeline: readonly UnitsPoint[], t: number, fallback: number): number {
  let current: number | undefined;
  for (const point of timeline) {
    if (point.t <= t) current = point.units;
    else break;
  }
  return current ?? timeline[0]?.units ?? fallback;
}

/** Sorted copy, so callers can pass points in any order. */
export function sortUnitsTimeline(timeline: readonly UnitsPoint[]): UnitsPoint[] {
  return [...timeline].sort((a, b) => a.t - b.t);
}

/**
 * Unit-seconds between `fromSec` and `toSec` (epoch seconds) of a step
 * timeline: the integral that billing multiplies by the price.
 */
export function unitSeconds(
  timeline: readonly UnitsPoint[],
  fromSec: number,
  toSec: number,
  fallbackUnits: number,
): number {
  if (toSec <= fromSec) return 0;
  if (timeline.length === 0) return fallbackUnits * (toSec - fromSec);
  const cuts = [
    fromSec,
    ...timeline.map((p) => p.t).filter((t) => t > fromSec && t < toSec),
    toSec,
  ];
  let total = 0;
  for (let i = 0; i + 1 < cuts.length; i++) {
    const from = cuts[i] as number;
    const to = cuts[i + 1] as number;
    total += unitsAt(timeline, from, fallbackUnits) * (to - from);
  }
  return total;
}

/** The value below which `p` (0..1) of the sorted values fall (nearest rank). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1] as number;
}

export interface ThroughputObservation {
  /** Seconds from the first to the last accepted call, both included. */
  activeSeconds: number;
  firstAcceptedAt?: string;
  lastAcceptedAt?: string;
  acceptedCalls: number;
  throttledCalls: number;
  /** Accepted calls per second over the active seconds (ramp-up and gaps included). */
  meanTps: number;
  /** 90th percentile of the per-second accepted counts over the active seconds. */
  p90Tps: number;
  /** Mean units in service over the active seconds. */
  meanUnits: number;
  /** `meanTps / meanUnits`: the sustained rate each unit delivered. */
  tpsPerUnit: number;
  /** `meanTps` as a share of the provisioned limit over the same seconds (0..1). */
  shareOfLimit: number;
  /** Seconds with at least one throttled call: the model refused more. */
  throttledSeconds: number;
  /** Seconds whose accepted count reached `saturationShare` of the limit at that second. */
  limitSeconds: number;
}

/** A second counts as "at the limit" when it accepted at least this share of the limit. */
export const SATURATION_SHARE = 0.95;

/**
 * What the run achieved against its limit. The observed TPS is the mean over
 * the seconds between the first and the last accepted call: conservative (it
 * includes ramp-up and the gaps between batches) and the rate that decides
 * how long a run takes, which is what planning needs.
 */
export function observeThroughput(
  merged: readonly TimelinePoint[],
  limitAt: (t: number) => number,
  unitsAtSecond: (t: number) => number,
): ThroughputObservation {
  const acceptedSeconds = merged.filter((p) => p.accepted > 0);
  const first = acceptedSeconds[0];
  const last = acceptedSeconds[acceptedSeconds.length - 1];
  const throttledCalls = merged.reduce((sum, p) => sum + p.throttled, 0);
  const throttledSeconds = merged.filter((p) => p.throttled > 0).length;
  if (!first || !last) {
    return {
      activeSeconds: 0,
      acceptedCalls: 0,
      throttledCalls,
      meanTps: 0,
      p90Tps: 0,
      meanUnits: 0,
      tpsPerUnit: 0,
      shareOfLimit: 0,
      throttledSeconds,
      limitSeconds: 0,
    };
  }
  const active = merged.filter((p) => p.t >= first.t && p.t <= last.t);
  const acceptedCalls = active.reduce((sum, p) => sum + p.accepted, 0);
  const activeSeconds = last.t - first.t + 1;
  const meanTps = acceptedCalls / activeSeconds;
  const meanUnits = active.reduce((sum, p) => sum + unitsAtSecond(p.t), 0) / activeSeconds;
  const limitSum = active.reduce((sum, p) => sum + limitAt(p.t), 0);
  return {
    activeSeconds,
    firstAcceptedAt: new Date(first.t * 1000).toISOString(),
    lastAcceptedAt: new Date((last.t + 1) * 1000).toISOString(),
    acceptedCalls,
    throttledCalls,
    meanTps,
    p90Tps: percentile(
      active.map((p) => p.accepted),
      0.9,
    ),
    meanUnits,
    tpsPerUnit: meanUnits > 0 ? meanTps / meanUnits : 0,
    shareOfLimit: limitSum > 0 ? acceptedCalls / limitSum : 0,
    throttledSeconds,
    limitSeconds: active.filter(
      (p) => limitAt(p.t) > 0 && p.accepted >= SATURATION_SHARE * limitAt(p.t),
    ).length,
  };
}
