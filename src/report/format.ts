/** Number, time and money formats for the report; fixed locale so output is stable. */

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

export function formatInt(value: number): string {
  return integer.format(value);
}

/** At most `digits` decimals, trailing zeros dropped. */
export function formatNumber(value: number, digits = 2): string {
  return new Intl.NumberFormat("en-US", { maximumFractionDigits: digits }).format(value);
}

/** A ratio 0..1 as a percentage. */
export function formatPercent(ratio: number, digits = 1): string {
  return `${(ratio * 100).toFixed(digits)} %`;
}

export function formatUsd(value: number): string {
  return `USD ${value.toFixed(2)}`;
}

/**
 * "850 ms", "42.5 s", "3 min 20 s", "2 h 05 min". `coarse`, for estimates:
 * whole seconds, then whole minutes ("30 s", "45 min", "2 h 05 min").
 */
export function formatDuration(
  seconds: number | null | undefined,
  options: { coarse?: boolean } = {},
): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  if (options.coarse) return formatCoarseDuration(seconds);
  if (seconds === 0) return "0 s";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${formatNumber(seconds, 1)} s`;
  const total = Math.round(seconds);
  if (total < 3600) return `${Math.floor(total / 60)} min ${String(total % 60).padStart(2, "0")} s`;
  const minutes = Math.floor((total % 3600) / 60);
  return `${Math.floor(total / 3600)} h ${String(minutes).padStart(2, "0")} min`;
}

function formatCoarseDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const minutes = Math.round(s / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

/** ISO time as "2025-11-24 03:00:12 UTC"; "–" when absent. */
export function formatTime(iso: string | undefined): string {
  if (!iso) return "–";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** "1 image", "3 images". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
