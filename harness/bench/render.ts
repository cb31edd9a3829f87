import { html, type SafeHtml } from "../../src/report/html-escape.ts";
import { CHART_STYLE, throughputChart } from "../../src/report/svg-charts.ts";
import type { TimelineSecond } from "../local/emulator/index.ts";
import type { RunFigures } from "./figures.ts";
import type { MisplanRun } from "./misplan.ts";
import type { PaperRun } from "./scale-on-paper.ts";
import type {
  CapacityResult,
  CeilingResult,
  RunnerFigures,
  SaturationResult,
} from "./scenarios.ts";
import { renderStrategies, type StrategiesResult } from "./strategies.ts";

/** Everything one `npm run bench` measured, as written to `latest.json`. */
export interface BenchResults {
  generatedAt: string;
  command: string;
  /** The settings in one line (quick or full). */
  banner?: string;
  machine: { cpus: number; loadAverageBefore: number[]; loadAverageAfter: number[]; node: string };
  settings: Record<string, unknown>;
  saturation?: SaturationResult;
  capacity?: CapacityResult[];
  ceiling?: CeilingResult;
  paper?: PaperRun[];
  strategies?: StrategiesResult;
  misplan?: MisplanRun[];
  /** One row per runner and scenario: the RESULT lines' fields. */
  results?: ResultRow[];
}

/** One RESULT line as data. */
export interface ResultRow extends RunFigures {
  scenario: string;
  images: number;
  runner: string;
}

const RUNNER_IDS: Record<string, string> = { "this project": "ours", "naive loop": "naive" };
const runnerId = (name: string) =>
  RUNNER_IDS[name] ?? name.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "");

/** The RESULT rows of everything that ran, in the order the tables show them. */
export function resultRows(results: BenchResults): ResultRow[] {
  const rows: ResultRow[] = [];
  const add = (scenario: string, f: RunnerFigures) =>
    rows.push({ scenario, images: f.images, runner: runnerId(f.runner), ...f.result });
  const s = results.saturation;
  if (s) for (const f of [s.ours, s.naive, s.fixedConcurrency]) add("saturation", f);
  for (const m of results.misplan ?? [])
    rows.push({ scenario: m.scenario, images: m.images, runner: "ours", ...m.figures });
  for (const c of results.capacity ?? []) add(runnerId(c.name), c.figures);
  return rows;
}

const fixed = (value: number | undefined, digits = 2) =>
  value === undefined || !Number.isFinite(value) ? "-" : value.toFixed(digits);
const percent = (value: number | undefined) =>
  value === undefined ? "-" : `${(value * 100).toFixed(1)} %`;

/** A monospaced table: first column left-aligned, the rest right-aligned. */
export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join("  ");
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

const RUNNER_HEADER = [
  "runner",
  "images",
  "done",
  "units",
  "time to done s",
  "utilization",
  "throttled",
  "wasted calls",
  "idle tail s",
  "unit-s",
  "cost ratio",
];

function runnerRow(f: RunnerFigures): string[] {
  const time =
    f.extrapolatedTimeToDoneSeconds === undefined
      ? fixed(f.timeToDoneSeconds, 1)
      : `${fixed(f.timeToDoneSeconds, 1)} (all: ~${fixed(f.extrapolatedTimeToDoneSeconds, 0)})`;
  return [
    f.runner,
    String(f.images),
    String(f.succeeded),
    String(f.units),
    time,
    percent(f.utilization),
    `${f.throttled} (${percent(f.throttleRatio)})`,
    String(f.wastedCalls),
    `<= ${fixed(f.idleTailSeconds, 1)}`,
    fixed(f.unitSeconds, 0),
    fixed(f.costRatio),
  ];
}

/** The figures as text tables, for the terminal and the README. */
export function renderText(results: BenchResults): string {
  const parts: string[] = [];
  const { machine } = results;
  parts.push(
    `${results.generatedAt}  ${results.command}\n${results.banner ? `${results.banner}\n` : ""}${machine.cpus} CPUs, load average ${machine.loadAverageBefore.map((l) => l.toFixed(2)).join(" ")} before, ${machine.loadAverageAfter.map((l) => l.toFixed(2)).join(" ")} after, Node ${machine.node}`,
  );
  const s = results.saturation;
  if (s) {
    parts.push(
      "Saturation and baselines (same emulator settings and images)",
      textTable(RUNNER_HEADER, [s.ours, s.naive, s.fixedConcurrency].map(runnerRow)),
      `The naive loop takes ${fixed(s.speedupVsNaive, 1)}x our time to done and ${fixed(s.costVsNaive, 2)}x our unit-seconds (scaled to all images).`,
      s.speedupVsFixed === undefined
        ? `Fixed concurrency finished ${s.fixedConcurrency.succeeded} of ${s.fixedConcurrency.images} images: the rest failed once the SDK's retries ran out; ${s.fixedConcurrency.wastedCalls} calls were wasted.`
        : `Fixed concurrency takes ${fixed(s.speedupVsFixed, 2)}x our time to done and ${fixed(s.costVsFixed, 2)}x our unit-seconds.`,
    );
  }
  if (results.misplan?.length) {
    parts.push(
      "Wrong plans (the plan assumes the bench's TPS per unit; the emulator serves the true figure)",
      textTable(
        [
          "run",
          "images",
          "TPS/unit plan/true",
          "workers x batch",
          "done",
          "utilization",
          "throttled",
          "tail",
          "cost ratio",
          "learned TPS/unit",
        ],
        results.misplan.map((m) => [
          m.scenario,
          String(m.images),
          `${fixed(m.plannedTpsPerUnit, 1)} / ${fixed(m.trueTpsPerUnit, 1)}`,
          `${m.workers} x ${m.batchSize}`,
          String(m.succeeded),
          percent(m.figures.utilization),
          percent(m.figures.throttled),
          percent(m.figures.tail),
          fixed(m.figures.costRatio),
          m.figures.learnedTpsError === undefined
            ? "-"
            : `error ${percent(m.figures.learnedTpsError)}${m.figures.learnedMeasured ? "" : " (lower bound)"}`,
        ]),
      ),
    );
  }
  for (const c of results.capacity ?? []) {
    parts.push(
      `Capacity change: ${c.name}`,
      textTable(RUNNER_HEADER, [runnerRow(c.figures)]),
      textTable(
        ["segment", "seconds", "utilization of available capacity", "settled after s"],
        c.segments.map((seg) => [
          seg.name,
          fixed((seg.to - seg.from) / 1000, 1),
          percent(seg.capacityUtilization),
          fixed(seg.settleSeconds, 0),
        ]),
      ),
    );
  }
  if (results.strategies) parts.push(...renderStrategies(results.strategies));
  const ceiling = results.ceiling;
  if (ceiling) {
    parts.push(
      "Orchestration ceiling (latency 0, provisioned TPS far above reach)",
      textTable(
        [
          "images",
          "map s",
          "images/s",
          "CPU s",
          "CPU/wall",
          "CPU ms/image",
          "main thread ms/image",
          "peak RSS MB",
        ],
        [
          [
            String(ceiling.images),
            fixed(ceiling.mapSeconds, 1),
            fixed(ceiling.imagesPerSecond, 1),
            fixed(ceiling.cpuSeconds, 1),
            fixed(ceiling.cpuPerWallSecond),
            fixed(ceiling.cpuMsPerImage, 1),
            ceiling.mainThreadMsPerImage === undefined
              ? "-"
              : fixed(ceiling.mainThreadMsPerImage, 1),
            fixed(ceiling.peakRssMb, 0),
          ],
        ],
      ),
    );
  }
  if (results.paper) {
    parts.push(
      "Scale on paper (AWS settings: start-up 15 min, 5 TPS/unit, 100 ms, quota 5 units; prices UNCONFIRMED)",
      textTable(
        [
          "images",
          "units",
          "duration h",
          "workers",
          "batch",
          "children",
          "Lambda calls",
          "plan shards",
          "plan s (wall)",
          "GB-s",
          "S3 GET/HEAD",
          "S3 PUT+LIST",
          "SFN transitions",
          "Rekognition $",
          "Lambda $",
          "S3 $",
          "SFN $",
          "total $",
          "limits",
        ],
        results.paper.map((p) => [
          p.images.toLocaleString("en-US"),
          String(p.units),
          fixed(p.durationSeconds / 3600, 1),
          String(p.workers),
          String(p.batchSize),
          String(p.batches),
          String(p.lambda.invocations),
          String(p.plan.shards),
          fixed(p.plan.wallSeconds, 0),
          fixed(p.lambda.gbSeconds, 0),
          String(p.s3.reads),
          String(p.s3.writes + p.s3.lists),
          String(p.stepFunctions.transitions),
          fixed(p.cost.rekognition),
          fixed(p.cost.lambda),
          fixed(p.cost.s3),
          fixed(p.cost.stepFunctions),
          fixed(p.cost.total),
          p.limits.every((l) => l.ok)
            ? "all within"
            : p.limits
                .filter((l) => !l.ok)
                .map((l) => l.name)
                .join(", "),
        ]),
      ),
    );
  }
  return `${parts.join("\n\n")}\n`;
}

/**
 * Accepted and throttled calls per second, with the capacity (units in
 * service x TPS per unit) as the limit line: the run report's own chart.
 */
export function timelineChart(
  timeline: readonly TimelineSecond[],
  tpsPerUnit: number,
  title: string,
): SafeHtml {
  const points = timeline.map((s) => ({
    t: s.t,
    accepted: s.accepted,
    throttled: s.throttled,
    limit: s.inServiceUnits * tpsPerUnit,
  }));
  return html`<figure><figcaption>${title}</figcaption>${throughputChart(points)}</figure>`;
}

/** A small self-contained page: the text tables and a chart per run. */
export function renderHtml(results: BenchResults, tpsPerUnit: number): string {
  const charts: SafeHtml[] = [];
  if (results.saturation)
    charts.push(timelineChart(results.saturation.timeline, tpsPerUnit, "Saturation: this project"));
  for (const m of results.misplan ?? [])
    charts.push(timelineChart(m.timeline, m.trueTpsPerUnit, `${m.scenario}, ${m.images} images`));
  for (const c of results.capacity ?? [])
    charts.push(timelineChart(c.timeline, tpsPerUnit, `Capacity change: ${c.name}`));
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Benchmark ${results.generatedAt}</title><style>body{font-family:system-ui,sans-serif;margin:2em}pre{font-size:12px;background:#f4f4f4;padding:1em;overflow:auto}${CHART_STYLE}</style></head><body><h1>Benchmark</h1>${charts}<pre>${renderText(results)}</pre></body></html>`.toString();
}
