import type { TimelineSecond } from "../local/emulator/index.ts";

/**
 * The benchmark's figures, computed from what the emulator recorded (calls
 * per second, billed unit-seconds) and from workflow event times. Pure, so
 * the arithmetic is unit-tested apart from any timing.
 */

/** A span of wall-clock time, epoch ms. */
export interface Span {
  from: number;
  to: number;
}

export interface CallCounts {
  accepted: number;
  throttled: number;
  /** accepted + throttled. */
  calls: number;
  /** throttled / calls (0 when there were no calls). */
  throttleRatio: number;
}

/** Accepted and throttled calls over the whole timeline (one model, one run). */
export function callCounts(timeline: readonly TimelineSecond[]): CallCounts {
  let accepted = 0;
  let throttled = 0;
  for (const second of timeline) {
    accepted += second.accepted;
    throttled += second.throttled;
  }
  const calls = accepted + throttled;
  return { accepted, throttled, calls, throttleRatio: calls === 0 ? 0 : throttled / calls };
}

/** The first and last second in which the model accepted a call (epoch seconds). */
export function acceptedSeconds(
  timeline: readonly TimelineSecond[],
): { first: number; last: number } | undefined {
  const busy = timeline.filter((second) => second.accepted > 0);
  const first = busy[0];
  const last = busy[busy.length - 1];
  return first && last ? { first: first.t, last: last.t } : undefined;
}

export interface Utilization {
  /** Accepted calls per second over the span / provisioned TPS. */
  ratio: number;
  acceptedPerSecond: number;
  seconds: number;
}

/**
 * Accepted calls per second within `span` / `capacityTps`. Only the timeline
 * seconds wholly inside the span count, so partial edge seconds (when the
 * rate is still ramping or the last calls trickle out) do not bias the
 * figure either way.
 */
export function utilization(
  timeline: readonly TimelineSecond[],
  span: Span,
  capacityTps: number,
): Utilization {
  const firstWhole = Math.ceil(span.from / 1000);
  const lastWhole = Math.floor(span.to / 1000) - 1;
  const inside = timeline.filter((s) => s.t >= firstWhole && s.t <= lastWhole);
  const seconds = Math.max(0, lastWhole - firstWhole + 1);
  const accepted = inside.reduce((sum, s) => sum + s.accepted, 0);
  const acceptedPerSecond = seconds === 0 ? 0 : accepted / seconds;
  return {
    ratio: capacityTps > 0 ? acceptedPerSecond / capacityTps : 0,
    acceptedPerSecond,
    seconds,
  };
}

/**
 * Utilization of the capacity actually available each second (in-service
 * units x TPS per unit x capacity factor), for runs where capacity changes:
 * the sum of accepted calls / the sum of capacity over the whole seconds of
 * `span`.
 */
export function availableUtilization(
  timeline: readonly TimelineSecond[],
  span: Span,
  capacityAt: (second: TimelineSecond) => number,
): Utilization {
  const firstWhole = Math.ceil(span.from / 1000);
  const lastWhole = Math.floor(span.to / 1000) - 1;
  const inside = timeline.filter((s) => s.t >= firstWhole && s.t <= lastWhole);
  const accepted = inside.reduce((sum, s) => sum + s.accepted, 0);
  const capacity = inside.reduce((sum, s) => sum + capacityAt(s), 0);
  const seconds = inside.length;
  return {
    ratio: capacity > 0 ? accepted / capacity : 0,
    acceptedPerSecond: seconds === 0 ? 0 : accepted / seconds,
    seconds,
  };
}

/**
 * Seconds from a capacity change until the accepted rate settles: the first
 * whole second at or after `changedAt` from which `holdSeconds` consecutive
 * seconds each reach `share` of that second's capacity. `undefined` if it
 * never settles within the timeline.
 */
export function settleSeconds(
  timeline: readonly TimelineSecond[],
  changedAt: number,
  capacityAt: (second: TimelineSecond) => number,
  options: { share?: number; holdSeconds?: number; until?: number } = {},
): number | undefined {
  const share = options.share ?? 0.9;
  const hold = options.holdSeconds ?? 3;
  const start = Math.ceil(changedAt / 1000);
  const end = options.until === undefined ? Number.POSITIVE_INFINITY : options.until / 1000;
  const seconds = timeline.filter((s) => s.t >= start && s.t + 1 <= end);
  let run = 0;
  for (let i = 0; i < seconds.length; i++) {
    const second = seconds[i] as TimelineSecond;
    const previous = seconds[i - 1];
    const contiguous = previous === undefined || previous.t === second.t - 1;
    const good = second.accepted >= share * capacityAt(second);
    run = good ? (contiguous ? run + 1 : 1) : 0;
    if (run >= hold) {
      const settledAt = (seconds[i - hold + 1] as TimelineSecond).t * 1000;
      return Math.max(0, (settledAt - changedAt) / 1000);
    }
  }
  return undefined;
}

/**
 * Upper bound of the idle tail: from the start of the last second with an
 * accepted call to the stop request. (The timeline has one-second
 * resolution, so the true tail is at most one second shorter.)
 */
export function idleTailSeconds(
  timeline: readonly TimelineSecond[],
  stopRequestedAt: number,
): number | undefined {
  const busy = acceptedSeconds(timeline);
  return busy ? Math.max(0, (stopRequestedAt - busy.last * 1000) / 1000) : undefined;
}

/**
 * The fewest unit-seconds any runner could be billed for `images` at
 * `units x tpsPerUnit`: every unit billed through start-up, processing at
 * exactly the provisioned rate, and the stop.
 */
export function minimumUnitSeconds(opts: {
  images: number;
  units: number;
  tpsPerUnit: number;
  startupSeconds: number;
  stopSeconds: number;
}): number {
  const processing = opts.images / (opts.units * opts.tpsPerUnit);
  return opts.units * (opts.startupSeconds + processing + opts.stopSeconds);
}

/** a / b, or undefined when b is 0 or either is missing. */
export function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b === 0 ? undefined : a / b;
}

/** The headline figures of one run, as the RESULT line and `latest.json` carry them. */
export interface RunFigures {
  /** Accepted calls per second over the whole seconds of the map run / the model's real capacity. */
  utilization?: number;
  /** Throttled calls / all calls. */
  throttled: number;
  /** From the first worker without work to the last image, as a share of the processing time. */
  tail?: number;
  /** Unit-seconds the emulator's meter billed / the plan's estimate. */
  costRatio?: number;
  /** |TPS per unit recorded for the next plan - the emulator's true figure| / the true figure. */
  learnedTpsError?: number;
  /** Whether the recorded figure is a measurement (false: a lower bound, not used for planning). */
  learnedMeasured?: boolean;
}

export function runFigures(opts: {
  timeline: readonly TimelineSecond[];
  map: Span;
  capacityTps: number;
  tailShare: number | undefined;
  billedUnitSeconds: number;
  estimatedUnitSeconds: number | undefined;
  learnedTpsPerUnit: number | undefined;
  learnedMeasured: boolean | undefined;
  trueTpsPerUnit: number;
}): RunFigures {
  const used =
    opts.map.to > opts.map.from
      ? utilization(opts.timeline, opts.map, opts.capacityTps)
      : undefined;
  const learned = opts.learnedTpsPerUnit;
  return {
    ...(used ? { utilization: used.ratio } : {}),
    throttled: callCounts(opts.timeline).throttleRatio,
    ...(opts.tailShare === undefined ? {} : { tail: opts.tailShare }),
    ...(ratio(opts.billedUnitSeconds, opts.estimatedUnitSeconds) === undefined
      ? {}
      : { costRatio: ratio(opts.billedUnitSeconds, opts.estimatedUnitSeconds) }),
    ...(learned === undefined
      ? {}
      : {
          learnedTpsError: Math.abs(learned - opts.trueTpsPerUnit) / opts.trueTpsPerUnit,
          learnedMeasured: opts.learnedMeasured ?? true,
        }),
  };
}

/** The RESULT line fields, in order, and the decimals each is printed with. */
const RESULT_FIELDS: [keyof RunFigures, number][] = [
  ["utilization", 3],
  ["throttled", 3],
  ["tail", 3],
  ["costRatio", 2],
  ["learnedTpsError", 2],
];

/**
 * One line a script can read:
 * `RESULT scenario=misplan-slow images=1200 runner=ours utilization=0.962 throttled=0.018 tail=0.031 costRatio=1.02 learnedTpsError=0.02`.
 * A figure the run could not yield is `-`.
 */
export function resultLine(
  scenario: string,
  images: number,
  runner: string,
  figures: RunFigures,
): string {
  const value = (v: unknown, digits: number) =>
    typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : "-";
  const fields = RESULT_FIELDS.map(([name, digits]) => `${name}=${value(figures[name], digits)}`);
  return ["RESULT", `scenario=${scenario}`, `images=${images}`, `runner=${runner}`, ...fields].join(
    " ",
  );
}
