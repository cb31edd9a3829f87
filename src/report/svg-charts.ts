import { formatDuration, formatNumber } from "./format.ts";
import { html, type SafeHtml } from "./html-escape.ts";
import type { ChartPoint } from "./run-summary.ts";
import type { UnitsPoint } from "./throughput.ts";

/** Inline SVG charts (no scripts, no external resources), sized by viewBox so they scale. */

const WIDTH = 960;
const HEIGHT = 260;
const MARGIN = { left: 56, right: 16, top: 14, bottom: 34 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;
/** More bars than this would be thinner than a pixel: seconds are averaged into buckets. */
const MAX_BARS = 480;

/** The charts' CSS, for any page that shows them (the run report, the bench page). */
export const CHART_STYLE = `svg.chart{width:100%;height:auto;display:block}
svg.chart text{font-size:11px;fill:#616e7c}
svg.chart .grid{stroke:#edf1f5}svg.chart .axis line{stroke:#9aa5b1}
svg.chart .accepted{fill:#4a90d9}svg.chart .throttled{fill:#e05252}
svg.chart .limit{fill:none;stroke:#1f2933;stroke-width:1.5;stroke-dasharray:6 4}
svg.chart .units{fill:none;stroke:#2f6fb3;stroke-width:2.5}
svg.chart .desired{fill:none;stroke:#b7791f;stroke-width:1.5;stroke-dasharray:5 4}
svg.chart .max-units{stroke:#9aa5b1;stroke-dasharray:2 3}`;

/** A round step (1, 2 or 5 x 10^n) giving about `count` ticks up to at least `max`. */
export function niceScale(max: number, count = 5): { max: number; step: number } {
  if (!(max > 0)) return { max: 1, step: 1 };
  const rough = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) ??
    10 * magnitude) as number;
  return { max: Math.ceil(max / step) * step, step };
}

const fmt = (value: number) => formatNumber(value, 1);
/** Coordinates rounded to 0.1 px: smaller files, same picture. */
const r = (value: number) => Math.round(value * 10) / 10;

function yAxis(scale: { max: number; step: number }, y: (v: number) => number, unit: string) {
  const ticks: number[] = [];
  for (let v = 0; v <= scale.max + scale.step / 1000; v += scale.step) ticks.push(v);
  return html`<g class="axis">${ticks.map(
    (v) =>
      html`<line class="grid" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${r(y(v))}" y2="${r(y(v))}"/><text x="${MARGIN.left - 6}" y="${r(y(v)) + 4}" text-anchor="end">${fmt(v)}</text>`,
  )}<text x="14" y="${MARGIN.top + PLOT_H / 2}" transform="rotate(-90 14 ${MARGIN.top + PLOT_H / 2})" text-anchor="middle">${unit}</text></g>`;
}

/** Tick spacings that read as round clock times. */
const TIME_STEPS = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
];

/** Epoch seconds as a UTC clock time: "06:05" on minute ticks, else "06:05:30". */
function clockLabel(epochSeconds: number, withSeconds: boolean): string {
  const text = new Date(epochSeconds * 1000).toISOString().slice(11, 19);
  return withSeconds ? text : text.slice(0, 5);
}

/** A time axis with ticks on round UTC clock times, so both charts read alike. */
function xAxis(fromSec: number, toSec: number) {
  const span = Math.max(1, toSec - fromSec);
  const step = TIME_STEPS.find((s) => s >= span / 7) ?? 86400;
  const ticks: number[] = [];
  for (let t = Math.ceil(fromSec / step) * step; t <= toSec; t += step) ticks.push(t);
  const x = (t: number) => MARGIN.left + ((t - fromSec) / span) * PLOT_W;
  return html`<g class="axis"><line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${MARGIN.top + PLOT_H}" y2="${MARGIN.top + PLOT_H}"/>${ticks.map(
    (t) =>
      html`<line x1="${r(x(t))}" x2="${r(x(t))}" y1="${MARGIN.top + PLOT_H}" y2="${MARGIN.top + PLOT_H + 4}"/><text x="${r(x(t))}" y="${HEIGHT - MARGIN.bottom + 16}" text-anchor="middle">${clockLabel(t, step < 60)}</text>`,
  )}<text x="${WIDTH - MARGIN.right}" y="${HEIGHT - 2}" text-anchor="end">time (UTC)</text></g>`;
}

interface Bucket {
  t: number;
  seconds: number;
  accepted: number;
  throttled: number;
  limit: number;
}

/** Averages consecutive seconds into at most `MAX_BARS` buckets (per-second rates kept). */
function bucketize(points: readonly ChartPoint[]): Bucket[] {
  const size = Math.max(1, Math.ceil(points.length / MAX_BARS));
  const buckets: Bucket[] = [];
  for (let i = 0; i < points.length; i += size) {
    const slice = points.slice(i, i + size);
    const mean = (f: (p: ChartPoint) => number) =>
      slice.reduce((s, p) => s + f(p), 0) / slice.length;
    buckets.push({
      t: (slice[0] as ChartPoint).t,
      seconds: slice.length,
      accepted: mean((p) => p.accepted),
      throttled: mean((p) => p.throttled),
      limit: mean((p) => p.limit),
    });
  }
  return buckets;
}

/**
 * Accepted calls per second (bars), throttled calls stacked on top, and the
 * provisioned limit as a step line.
 */
export function throughputChart(points: readonly ChartPoint[]): SafeHtml {
  if (points.length === 0) return html`<p class="empty">No calls were made.</p>`;
  const buckets = bucketize(points);
  const first = (points[0] as ChartPoint).t;
  const last = (points[points.length - 1] as ChartPoint).t + 1;
  const peak = Math.max(...buckets.map((b) => Math.max(b.accepted + b.throttled, b.limit)));
  const scale = niceScale(peak * 1.08);
  const y = (v: number) => MARGIN.top + PLOT_H - (v / scale.max) * PLOT_H;
  const x = (t: number) => MARGIN.left + ((t - first) / (last - first)) * PLOT_W;
  const gap = buckets.length > 120 ? 0 : 1;

  const bars = buckets.map((b) => {
    const x0 = x(b.t);
    const w = Math.max(0.5, x(b.t + b.seconds) - x0 - gap);
    return html`<rect class="accepted" x="${r(x0)}" y="${r(y(b.accepted))}" width="${r(w)}" height="${r(y(0) - y(b.accepted))}"/>${
      b.throttled > 0
        ? html`<rect class="throttled" x="${r(x0)}" y="${r(y(b.accepted + b.throttled))}" width="${r(w)}" height="${r(y(b.accepted) - y(b.accepted + b.throttled))}"/>`
        : ""
    }`;
  });
  let limitPath = "";
  for (const b of buckets) {
    limitPath += `${limitPath === "" ? "M" : "L"}${r(x(b.t))} ${r(y(b.limit))}H${r(x(b.t + b.seconds))}`;
  }
  const label = `Calls per second over ${formatDuration(last - first)}: accepted, throttled and the provisioned limit`;
  return html`<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${label}"><title>${label}</title>${yAxis(scale, y, "calls / s")}${bars}<path class="limit" d="${limitPath}"/>${xAxis(first, last)}</svg>`;
}

/**
 * Inference units in service over time (step line) and, when known, the
 * desired units (dashed). Without a timeline the units are drawn constant
 * over the billed interval.
 */
export function unitsChart(opts: {
  timeline: readonly UnitsPoint[];
  fromSec?: number;
  toSec?: number;
  constantUnits: number;
  maxUnits?: number;
}): SafeHtml {
  const points: UnitsPoint[] =
    opts.timeline.length > 0
      ? [...opts.timeline]
      : opts.fromSec !== undefined
        ? [{ t: opts.fromSec, units: opts.constantUnits }]
        : [];
  if (points.length === 0) return html`<p class="empty">The model was not started by this run.</p>`;
  const from = Math.min(opts.fromSec ?? Number.POSITIVE_INFINITY, (points[0] as UnitsPoint).t);
  const lastPoint = (points[points.length - 1] as UnitsPoint).t;
  const to = Math.max(opts.toSec ?? lastPoint + 1, lastPoint + 1, from + 1);
  const peak = Math.max(
    opts.maxUnits ?? 0,
    ...points.map((p) => Math.max(p.units, p.desired ?? 0)),
  );
  const scale = niceScale(Math.max(1, peak), Math.min(5, Math.max(1, peak)));
  const y = (v: number) => MARGIN.top + PLOT_H - (v / scale.max) * PLOT_H;
  const x = (t: number) => MARGIN.left + ((t - from) / (to - from)) * PLOT_W;
  const step = (value: (p: UnitsPoint) => number) => {
    let d = "";
    points.forEach((p, i) => {
      const next = points[i + 1]?.t ?? to;
      d += `${i === 0 ? "M" : "L"}${r(x(p.t))} ${r(y(value(p)))}H${r(x(next))}`;
    });
    return d;
  };
  const hasDesired = points.some((p) => p.desired !== undefined);
  const label = "Inference units over time";
  return html`<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${label}"><title>${label}</title>${yAxis(scale, y, "units")}${
    opts.maxUnits !== undefined
      ? html`<line class="max-units" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${r(y(opts.maxUnits))}" y2="${r(y(opts.maxUnits))}"/>`
      : ""
  }${hasDesired ? html`<path class="desired" d="${step((p) => p.desired ?? p.units)}"/>` : ""}<path class="units" d="${step((p) => p.units)}"/>${xAxis(from, to)}</svg>`;
}
