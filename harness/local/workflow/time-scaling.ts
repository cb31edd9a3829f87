import type { AslState } from "./asl.ts";

/**
 * Local runs compress time: Wait states and Retry backoff are multiplied by a
 * scale factor (0.05 turns a 30 s wait into 1.5 s), or waits are fixed.
 */

export interface TimeScale {
  /** Multiplies every Wait duration. */
  waitScale: number;
  /** Multiplies every retrier's IntervalSeconds and MaxDelaySeconds. */
  retryScale: number;
  /** When set, every Wait lasts exactly this long (ms), whatever it says. */
  waitMs?: number;
}

/** ASL's retrier defaults (IntervalSeconds 1), scaled; the engine applies BackoffRate and jitter. */
export function scaleRetriers(retriers: unknown, scale: number): unknown {
  if (!Array.isArray(retriers) || scale === 1) return retriers;
  return retriers.map((retrier: Record<string, unknown>) => {
    const scaled: Record<string, unknown> = {
      ...retrier,
      IntervalSeconds: ((retrier.IntervalSeconds as number | undefined) ?? 1) * scale,
    };
    if (typeof retrier.MaxDelaySeconds === "number")
      scaled.MaxDelaySeconds = retrier.MaxDelaySeconds * scale;
    return scaled;
  });
}

/** What a Wait state waits for, read from its fields and (for the *Path forms) its evaluated value. */
export type WaitSpec =
  | { kind: "seconds"; seconds: number }
  | { kind: "timestamp"; timestamp: string }
  | { kind: "secondsPath"; path: string }
  | { kind: "timestampPath"; path: string };

export function readWaitSpec(state: AslState): WaitSpec {
  if (typeof state.Seconds === "number") return { kind: "seconds", seconds: state.Seconds };
  if (typeof state.Timestamp === "string") return { kind: "timestamp", timestamp: state.Timestamp };
  if (typeof state.SecondsPath === "string")
    return { kind: "secondsPath", path: state.SecondsPath };
  if (typeof state.TimestampPath === "string")
    return { kind: "timestampPath", path: state.TimestampPath };
  return { kind: "seconds", seconds: 0 };
}

/**
 * Milliseconds to wait locally: seconds (or the time left until a timestamp)
 * times the wait scale, or the fixed override.
 */
export function scaledWaitMs(
  spec: { seconds: number } | { timestamp: string },
  now: number,
  scale: TimeScale,
): number {
  if (scale.waitMs !== undefined) return scale.waitMs;
  const realMs =
    "seconds" in spec ? spec.seconds * 1000 : Math.max(0, Date.parse(spec.timestamp) - now);
  return Math.max(0, realMs * scale.waitScale);
}
