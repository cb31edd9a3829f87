import { readableCause } from "../failure-cause.ts";
import {
  formatDuration,
  formatInt,
  formatNumber,
  formatPercent,
  formatTime,
  formatUsd,
} from "./format.ts";
import { html, raw, type SafeHtml } from "./html-escape.ts";
import { rescaleSection } from "./rescale.ts";
import type { RunOutcome, RunSummary } from "./run-summary.ts";
import { strategyTable } from "./strategy.ts";
import { CHART_STYLE, throughputChart, unitsChart } from "./svg-charts.ts";

/** Rows shown per long table; the rest is in summary.json / skipped.jsonl. */
const MAX_ROWS = 200;
const MAX_LABELS = 40;
const MAX_KEYS_PER_BATCH = 10;

const OUTCOME_TITLES: Record<RunOutcome, string> = {
  succeeded: "Succeeded",
  "succeeded-with-failures": "Succeeded with failures",
  incomplete: "Incomplete",
  failed: "Failed",
  "nothing-to-do": "Nothing to do",
};

const STYLE = `
:root{--ink:#1f2933;--muted:#616e7c;--line:#d9e2ec;--bg:#f5f7fa;--card:#fff;--accent:#2f6fb3;
--ok:#1e7a4c;--warn:#b7791f;--bad:#c53030;--idle:#52606d}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:1080px;margin:0 auto;padding:24px}
header.run{background:var(--card);border:1px solid var(--line);border-left:6px solid var(--idle);border-radius:8px;padding:20px 24px;margin-bottom:20px}
header.run.succeeded{border-left-color:var(--ok)}header.run.succeeded-with-failures{border-left-color:var(--warn)}
header.run.incomplete,header.run.failed{border-left-color:var(--bad)}
h1{font-size:22px;margin:0 0 6px}h2{font-size:17px;margin:0 0 12px}h3{font-size:14px;margin:16px 0 8px}
.badge{display:inline-block;padding:2px 10px;border-radius:999px;font-weight:600;font-size:13px;color:#fff;background:var(--idle);vertical-align:middle;margin-left:8px}
.badge.succeeded{background:var(--ok)}.badge.succeeded-with-failures{background:var(--warn)}.badge.incomplete,.badge.failed{background:var(--bad)}
.note{margin:6px 0 14px;font-size:15px}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0;font-size:13px}
dl.meta dt{color:var(--muted)}dl.meta dd{margin:0;overflow-wrap:anywhere}dl.mono dd{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:18px 24px;margin-bottom:20px}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:10px;margin-bottom:14px}
.tile{border:1px solid var(--line);border-radius:6px;padding:10px 12px}
.tile .v{font-size:20px;font-weight:600}.tile .k{color:var(--muted);font-size:12px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600;background:#fafbfc}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.time{white-space:nowrap}
td.key{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;overflow-wrap:anywhere}
tr.chosen td{background:#eef5fc;font-weight:600}
.ok{color:var(--ok);font-weight:600}.bad{color:var(--bad);font-weight:600}
ul.issues{margin:8px 0 0;padding-left:20px}ul.issues li{margin:4px 0}
.callout{border-radius:6px;padding:10px 14px;margin:12px 0}
.callout.bad{background:#fff5f5;border:1px solid #feb2b2;color:var(--ink);font-weight:400}
.callout.warn{background:#fffaf0;border:1px solid #fbd38d}
.muted,.empty{color:var(--muted)}
.legend{display:flex;gap:18px;font-size:12px;color:var(--muted);margin:4px 0 6px}
.legend span::before{content:"";display:inline-block;width:14px;height:10px;margin-right:6px;vertical-align:middle;border-radius:2px}
.legend .l-accepted::before{background:#4a90d9}.legend .l-throttled::before{background:#e05252}
.legend .l-limit::before{height:0;border-top:2px dashed #1f2933}.legend .l-units::before{height:0;border-top:3px solid #2f6fb3}
.legend .l-desired::before{height:0;border-top:2px dashed #b7791f}.legend .l-max::before{height:0;border-top:2px dotted #9aa5b1}
${CHART_STYLE}
.bars td.bar{width:60%}.bar div{background:#4a90d9;height:12px;border-radius:2px;min-width:1px}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:20px}
@media (max-width:760px){.grid2{grid-template-columns:1fr}}
footer{color:var(--muted);font-size:12px;text-align:center;margin:8px 0 24px}
`;

const tile = (value: string, label: string, title?: string) =>
  html`<div class="tile"${title ? html` title="${title}"` : ""}><div class="v">${value}</div><div class="k">${label}</div></div>`;

const s3Url = (bucket: string, key: string) => `s3://${bucket}/${key}`;

function header(summary: RunSummary): SafeHtml {
  const o = summary.outcome;
  return html`<header class="run ${o}">
<h1>Batch run report <span class="badge ${o}">${OUTCOME_TITLES[o]}</span></h1>
<p class="note">${summary.outcomeNote}</p>
<dl class="meta mono">
<dt>Run</dt><dd>${summary.runId}</dd>
<dt>Execution</dt><dd>${summary.executionId}</dd>
<dt>Model version</dt><dd>${summary.projectVersionArn}</dd>
<dt>Images</dt><dd>${s3Url(summary.images.bucket, summary.images.prefix)}</dd>
<dt>Results</dt><dd>${s3Url(summary.results.bucket, summary.results.prefix)}</dd>
${summary.mapRunArn ? html`<dt>Map run</dt><dd>${summary.mapRunArn}</dd>` : ""}
<dt>Generated</dt><dd>${formatTime(summary.generatedAt)}</dd>
</dl>
${summary.failure ? html`<div class="callout bad"><strong>${summary.failure.Error}</strong>${summary.failure.Cause ? html`: ${readableCause(summary.failure.Cause)}` : ""}</div>` : ""}
</header>`;
}

function countsSection(summary: RunSummary): SafeHtml {
  const c = summary.counts;
  const row = (label: string, value: number, note = "") =>
    html`<tr><td>${label}</td><td class="num">${formatInt(value)}</td><td class="muted">${note}</td></tr>`;
  return html`<section id="counts"><h2>Counts and reconciliation</h2>
<div class="tiles">
${tile(formatInt(c.listed), "objects listed")}
${tile(formatInt(c.pending), "pending this run")}
${tile(formatInt(c.succeeded), "analysed")}
${tile(formatInt(c.failed), "failed with a reason")}
${tile(formatInt(c.skipped), "skipped with a reason")}
${tile(formatInt(c.alreadyDone), "already done")}
</div>
<div class="grid2"><div>
<table><thead><tr><th>Count</th><th class="num">Objects</th><th></th></tr></thead><tbody>
${row("Listed", c.listed, "every object under the images prefix")}
${row("Already done", c.alreadyDone, "a current result exists")}
${row("Skipped", c.skipped, "not an image Rekognition accepts")}
${row("Pending", c.pending, "analysed by this run")}
${c.replaced > 0 ? row("of which replaced", c.replaced, "the result was for an older version of the image") : ""}
${c.unreadableResults > 0 ? row("of which unreadable results", c.unreadableResults, "the result object was not a readable record; overwritten") : ""}
${row("Succeeded", c.succeeded, c.resumed > 0 ? `${formatInt(c.resumed)} finished by an earlier attempt of their batch` : "")}
${row("Failed", c.failed, "the image is bad; recorded with a reason")}
${row("Unreadable", c.unreadable, "the image could not be read; the next run tries again")}
${row("Not analysed", c.unaccounted, `no result for this version${c.countsSource === "ledger" ? " in the ledger" : ""}; the next run takes them`)}
${summary.resultParts ? row("Result lines", summary.resultParts.lines, `in ${formatInt(summary.resultParts.parts)} result parts under ${summary.resultParts.prefix}`) : ""}
${row("Batches", c.batches, c.failedBatches > 0 ? `${formatInt(c.failedBatches)} more did not succeed` : "")}
</tbody></table></div><div>
<table><thead><tr><th>Check</th><th></th></tr></thead><tbody>
${summary.checks.map(
  (check) =>
    html`<tr><td>${check.equation}</td><td class="num">${check.ok ? html`<span class="ok">✓</span>` : html`<span class="bad">✗</span>`}</td></tr>`,
)}
</tbody></table>
<p>${summary.reconciled ? html`<span class="ok">Every listed object is accounted for.</span>` : html`<span class="bad">The counts do not reconcile.</span>`}</p>
</div></div>
${
  summary.discrepancies.length > 0
    ? html`<div class="callout bad"><strong>What does not add up</strong><ul class="issues">${summary.discrepancies.map((d) => html`<li>${d}</li>`)}</ul></div>`
    : ""
}
${
  summary.warnings.length > 0
    ? html`<div class="callout warn"><strong>Warnings</strong><ul class="issues">${summary.warnings.map((w) => html`<li>${w}</li>`)}</ul></div>`
    : ""
}
</section>`;
}

function billingSection(summary: RunSummary): SafeHtml {
  const b = summary.billing;
  return html`<section id="billing"><h2>Billing (estimate)</h2>
<div class="tiles">
${tile(formatNumber(b.inferenceHours, 3), "inference hours")}
${tile(formatUsd(b.cost), "estimated cost")}
${tile(formatInt(b.units), "inference units")}
${tile(formatDuration(b.billedSeconds), "model running (billed)")}
${tile(`${formatUsd(b.pricePerUnitHour)}`, "per unit-hour")}
</div>
<p class="muted">${b.note}${b.from ? ` Billed from ${formatTime(b.from)} to ${formatTime(b.to)}.` : ""}</p>
<h3 id="measured-hours">Inference hours: planned, estimated, measured</h3>
<table><thead><tr><th></th><th class="num">Planned</th><th class="num">Estimate (request times)</th><th class="num">Measured (CloudWatch)</th></tr></thead><tbody>
<tr><td>Inference hours</td><td class="num">${formatNumber(summary.plan.cost.chosen.inferenceHours, 3)}</td><td class="num">${formatNumber(b.inferenceHours, 3)}</td><td class="num">${b.measured.inferenceHours !== undefined ? formatNumber(b.measured.inferenceHours, 3) : "–"}</td></tr>
<tr><td>Cost</td><td class="num">${formatUsd(summary.plan.cost.chosen.cost)}</td><td class="num">${formatUsd(b.cost)}</td><td class="num">${b.measured.cost !== undefined ? formatUsd(b.measured.cost) : "–"}</td></tr>
</tbody></table>
<p class="muted">${b.measured.note}</p>
<h3>Plan against actual</h3>
<table><thead><tr><th>Figure</th><th class="num">Planned</th><th class="num">Actual</th></tr></thead><tbody>
${summary.planVsActual.map((row) => {
  const show = (v: number | null) =>
    v === null
      ? "–"
      : row.unit === "s"
        ? formatDuration(v)
        : row.unit === "USD"
          ? formatUsd(v)
          : `${formatNumber(v, 3)}${row.unit && row.unit !== "h" ? ` ${row.unit}` : ""}`;
  return html`<tr><td>${row.name}</td><td class="num">${show(row.planned)}</td><td class="num">${show(row.actual)}</td></tr>`;
})}
</tbody></table>
</section>`;
}

function phasesSection(summary: RunSummary): SafeHtml {
  const longest = Math.max(1, ...summary.phases.map((p) => p.seconds ?? 0));
  return html`<section id="durations"><h2>Durations</h2>
<table class="bars"><thead><tr><th>Phase</th><th class="num">Duration</th><th>From</th><th>To</th><th></th></tr></thead><tbody>
${summary.phases.map(
  (p) =>
    html`<tr><td>${p.label}${p.note ? html`<div class="muted">${p.note}</div>` : ""}</td><td class="num">${formatDuration(p.seconds)}</td><td class="time">${formatTime(p.startedAt)}</td><td class="time">${formatTime(p.endedAt)}</td><td class="bar" style="width:30%">${
      p.seconds !== null
        ? html`<div style="width:${formatNumber((p.seconds / longest) * 100, 1)}%"></div>`
        : ""
    }</td></tr>`,
)}
</tbody></table></section>`;
}

function throughputSection(summary: RunSummary): SafeHtml {
  const t = summary.throughput;
  const o = t.observed;
  return html`<section id="throughput"><h2>Throughput</h2>
<div class="tiles">
${tile(`${formatNumber(o.meanTps, 2)} /s`, "achieved (mean, first to last call)")}
${tile(`${formatNumber(t.provisionedTps, 2)} /s`, "provisioned limit (planned)")}
${tile(formatPercent(o.shareOfLimit), "of the limit achieved")}
${tile(formatNumber(o.tpsPerUnit, 3), "TPS per unit observed", "achieved mean rate / mean units in service")}
${tile(formatInt(t.throttled), `throttled calls (${formatPercent(t.throttledRatio, 2)})`)}
${tile(formatInt(t.retried), "retried calls")}
${t.tail ? tile(formatPercent(t.tail.share), "tail", `${formatNumber(t.tail.seconds, 1)} s from the first worker without work to the last batch's end`) : html``}
</div>
<div class="legend"><span class="l-accepted">accepted / s</span><span class="l-throttled">throttled / s</span><span class="l-limit">provisioned limit</span></div>
${throughputChart(t.timeline)}
<p class="muted">${formatInt(t.calls)} calls in ${formatDuration(o.activeSeconds)} from the first to the last accepted call${o.firstAcceptedAt ? ` (from ${formatTime(o.firstAcceptedAt)})` : ""}; 90th percentile of per-second accepted calls: ${formatNumber(o.p90Tps, 1)}. The limit line is the units in service times the planned ${formatNumber(t.plannedTpsPerUnit, 3)} TPS per unit.</p>
${capacityNote(summary)}
</section>`;
}

function capacityNote(summary: RunSummary): SafeHtml {
  const c = summary.capacity;
  if (!c) {
    return html`<p class="muted">Capacity: the run never reached its limit, so it tells nothing about the TPS a unit can serve; no learned figure is recorded.</p>`;
  }
  return c.kind === "measured"
    ? html`<p><strong>Measured capacity: ${formatNumber(c.tpsPerUnit, 3)} TPS per unit</strong> (${c.basis}). Recorded for the next plan.</p>`
    : html`<p><strong>At least ${formatNumber(c.tpsPerUnit, 3)} TPS per unit</strong> (${c.basis}). A lower bound: recorded, but not used for planning.</p>`;
}

function unitsSection(summary: RunSummary): SafeHtml {
  const u = summary.units;
  const b = summary.billing;
  const sec = (iso: string | undefined) => (iso ? Date.parse(iso) / 1000 : undefined);
  const fromSec = sec(b.from);
  const toSec = sec(b.to);
  return html`<section id="units"><h2>Inference units</h2>
<p class="muted">${
    u.source === "cloudwatch"
      ? `Units in service and desired units as the model reported them to CloudWatch (${u.metrics.note})`
      : u.autoScaling
        ? `Auto-scaling between ${u.minInferenceUnits} and ${u.maxInferenceUnits} units; the units actually in service are not known (${u.metrics.note}), so the minimum is drawn.`
        : `Constant: the units the model was started with. ${u.metrics.note}`
  }</p>
<div class="legend"><span class="l-units">in service</span>${u.timeline.some((p) => p.desired !== undefined) ? html`<span class="l-desired">desired</span>` : ""}${u.maxInferenceUnits !== undefined ? html`<span class="l-max">maximum</span>` : ""}</div>
${unitsChart({
  timeline: u.timeline,
  ...(fromSec !== undefined ? { fromSec } : {}),
  ...(toSec !== undefined ? { toSec } : {}),
  constantUnits: u.minInferenceUnits,
  ...(u.maxInferenceUnits !== undefined ? { maxUnits: u.maxInferenceUnits } : {}),
})}
${summary.singleUnitRisk ? html`<p id="single-unit-risk" class="muted">${summary.singleUnitRisk.note}</p>` : ""}
</section>`;
}

function sizingSection(summary: RunSummary): SafeHtml {
  const s = summary.plan.sizing;
  const cost = summary.plan.cost;
  const item = (label: string, value: string) => html`<dt>${label}</dt><dd>${value}</dd>`;
  return html`<section id="sizing"><h2>Sizing</h2>
<div class="grid2"><dl class="meta">
${item("Planned at", formatTime(summary.plan.plannedAt))}
${item("Inference units", `${s.units}${s.maxInferenceUnits !== undefined ? ` (auto-scaling up to ${s.maxInferenceUnits})` : ""}`)}
${item("TPS per unit", `${formatNumber(s.tpsPerUnit, 3)} (${s.tpsSource})`)}
${item("Provisioned TPS", formatNumber(s.provisionedTps, 2))}
${item("Target window", `${formatInt(s.targetWindowMinutes)} min${s.windowReachable ? "" : " (not reachable)"}`)}
${item("Expected processing", formatDuration(s.expectedProcessingSeconds))}
${item("Expected start-up", formatDuration(s.startupSeconds))}
${item("Workers x batch size", `${s.workers} x ${s.batchSize}`)}
${item("Per-worker TPS, in flight", `${formatNumber(s.perWorkerTps, 3)}, ${s.concurrency}`)}
${item("Expected latency", `${formatInt(s.expectedLatencyMs)} ms`)}
</dl><div>
<table><thead><tr><th class="num">Units</th><th class="num">Duration</th><th class="num">Inference hours</th><th class="num">Cost</th></tr></thead><tbody>
${cost.options.map(
  (o) =>
    html`<tr class="${o.units === cost.chosen.units && cost.chosen.maxInferenceUnits === undefined ? "chosen" : ""}"><td class="num">${o.units}</td><td class="num">${formatDuration(o.durationSeconds)}</td><td class="num">${formatNumber(o.inferenceHours, 3)}</td><td class="num">${formatUsd(o.cost)}</td></tr>`,
)}
</tbody></table>
<p class="muted">At ${formatUsd(cost.pricePerUnitHour)} per unit-hour; ${cost.chosen.maxInferenceUnits === undefined ? "the highlighted row is the plan" : `the plan is auto-scaling ${cost.chosen.units}..${cost.chosen.maxInferenceUnits} units, estimated ${formatUsd(cost.chosen.cost)} (see the strategies)`}.</p>
${summary.plan.strategy ? strategyTable(summary.plan.strategy) : ""}
</div></div>
${s.windowNote ? html`<div class="callout warn">${s.windowNote}</div>` : ""}
</section>`;
}

function labelsSection(summary: RunSummary): SafeHtml {
  const labels = summary.labels;
  if (labels.length === 0) {
    return html`<section id="labels"><h2>Labels</h2><p class="empty">No labels were detected.</p></section>`;
  }
  const top = labels.slice(0, MAX_LABELS);
  const most = Math.max(1, ...top.map((l) => l.images));
  return html`<section id="labels"><h2>Labels</h2>
<table class="bars"><thead><tr><th>Label</th><th class="num">Images</th><th></th></tr></thead><tbody>
${top.map(
  (l) =>
    html`<tr><td>${l.label}</td><td class="num">${formatInt(l.images)}</td><td class="bar"><div style="width:${formatNumber((l.images / most) * 100, 1)}%"></div></td></tr>`,
)}
</tbody></table>
${labels.length > top.length ? html`<p class="muted">${labels.length - top.length} more labels in summary.json.</p>` : ""}
</section>`;
}

function failuresSection(summary: RunSummary): SafeHtml {
  const { images, batches } = summary.failures;
  const total = summary.failures.imagesTotal;
  if (total === 0 && batches.length === 0) {
    return html`<section id="failures"><h2>Failures</h2><p class="empty">No image failed.</p></section>`;
  }
  const shown = images.slice(0, MAX_ROWS);
  return html`<section id="failures"><h2>Failures</h2>
${
  total > 0
    ? html`<p>${formatInt(total)} ${total === 1 ? "image" : "images"} failed with a recorded reason${shown.length < total ? html`; ${formatInt(shown.length)} named below` : ""}. Every failure is recorded with its full message in the ledger, <span class="key">s3://${summary.failures.ledger.bucket}/${summary.failures.ledger.prefix}</span> (records with <code>"status": "failed"</code>).</p>
${
  shown.length > 0
    ? html`<table><thead><tr><th>Image key</th><th>Error</th><th>Message</th></tr></thead><tbody>
${shown.map((f) => html`<tr><td class="key">${f.key}</td><td>${f.error}</td><td>${f.message}</td></tr>`)}
</tbody></table>${images.length > shown.length ? html`<p class="muted">${images.length - shown.length} more named in summary.json.</p>` : ""}`
    : ""
}`
    : ""
}
${
  batches.length > 0
    ? html`<h3>Batches that did not succeed</h3><p class="muted">Their images have no outcome from this run; the next run picks them up.</p>
<table><thead><tr><th>Batch</th><th>Status</th><th>Error</th><th class="num">Items</th><th>First keys</th></tr></thead><tbody>
${batches.map(
  (b) =>
    html`<tr><td class="key">${b.name}</td><td>${b.status}</td><td><strong>${b.error}</strong>${b.cause ? html`<div>${b.cause}</div>` : ""}</td><td class="num">${b.items === undefined ? "unknown" : formatInt(b.items)}</td><td class="key">${b.keys
      .slice(0, MAX_KEYS_PER_BATCH)
      .map(
        (k, i) => html`${i > 0 ? raw("<br>") : ""}${k}`,
      )}${b.keys.length > MAX_KEYS_PER_BATCH ? html`<br>… ${b.keys.length - MAX_KEYS_PER_BATCH} more` : ""}</td></tr>`,
)}
</tbody></table>`
    : ""
}
</section>`;
}

function skippedSection(summary: RunSummary): SafeHtml {
  const s = summary.skipped;
  if (s.total === 0) {
    return html`<section id="skipped"><h2>Skipped objects</h2><p class="empty">Nothing was skipped.</p></section>`;
  }
  const shown = s.list.slice(0, MAX_ROWS);
  return html`<section id="skipped"><h2>Skipped objects</h2>
<table><thead><tr><th>Reason</th><th class="num">Objects</th></tr></thead><tbody>
${s.byReason.map((g) => html`<tr><td>${g.reason}</td><td class="num">${formatInt(g.count)}</td></tr>`)}
</tbody></table>
<h3>Objects</h3>
<table><thead><tr><th>Key</th><th>Reason</th><th class="num">Size (bytes)</th><th>Detail</th></tr></thead><tbody>
${shown.map(
  (o) =>
    html`<tr><td class="key">${o.key}</td><td>${o.reason}</td><td class="num">${formatInt(o.size)}</td><td>${o.detail}</td></tr>`,
)}
</tbody></table>
${s.total > shown.length ? html`<p class="muted">${formatInt(s.total - shown.length)} more in ${s.listKey}.</p>` : ""}
</section>`;
}

/**
 * The run's report as one self-contained HTML page: inline CSS and SVG, no
 * scripts, fonts or other resources to fetch, so it opens offline and from
 * S3 alike. Every string from the summary is escaped.
 */
export function renderReportHtml(summary: RunSummary): string {
  const title = `${OUTCOME_TITLES[summary.outcome]}: run ${summary.runId}`;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title}</title><style>${raw(STYLE)}</style></head>
<body><main>
${header(summary)}
${countsSection(summary)}
${billingSection(summary)}
${phasesSection(summary)}
${throughputSection(summary)}
${unitsSection(summary)}
${rescaleSection(summary.rescale)}
${sizingSection(summary)}
${labelsSection(summary)}
${failuresSection(summary)}
${skippedSection(summary)}
<footer>Machine-readable summary: summary.json next to this page. Costs are estimates from request times; AWS's meter decides the bill.</footer>
</main></body></html>
`.value;
}
