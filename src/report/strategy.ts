import type { StrategyComparison, StrategyOption } from "../scaling-strategy.ts";
import { formatDuration, formatNumber, formatUsd } from "./format.ts";
import { html, type SafeHtml } from "./html-escape.ts";
import type { CompareRow, Phase } from "./run-summary.ts";

/**
 * The chosen strategy against what happened: the most units in service
 * (auto-scaling plans on reaching MaxInferenceUnits) and the time from the
 * start request to the last image.
 */
export function strategyRows(
  strategy: StrategyComparison,
  actual: { peakUnits: number | null; startToDoneSeconds: number | null },
): CompareRow[] {
  const { chosen } = strategy;
  return [
    {
      name: "Units in service (most)",
      planned: chosen.maxInferenceUnits ?? chosen.units,
      actual: actual.peakUnits,
      unit: "",
    },
    {
      name: `Start-up and processing (${chosen.strategy})`,
      planned: chosen.durationSeconds,
      actual: actual.startToDoneSeconds,
      unit: "s",
    },
  ];
}

/** Seconds from the start request to the end of processing, when both phases are known. */
export function startToDone(phases: readonly Phase[]): number | null {
  const seconds = (name: Phase["name"]) => phases.find((p) => p.name === name)?.seconds;
  const start = seconds("start");
  const processing = seconds("processing");
  return start == null || processing == null ? null : start + processing;
}

const optionName = (o: StrategyOption) =>
  o.strategy === "fixed"
    ? `fixed ${o.units} unit(s)`
    : `auto-scaling ${o.units}..${o.maxInferenceUnits}`;

/** The strategy table of the report's sizing section, the chosen row highlighted. */
export function strategyTable(strategy: StrategyComparison): SafeHtml {
  const chosen = (o: StrategyOption) =>
    o.strategy === strategy.chosen.strategy && o.units === strategy.chosen.units;
  return html`<table><thead><tr><th>Strategy</th><th class="num">Duration</th><th class="num">Inference hours</th><th class="num">Cost</th><th>Window</th></tr></thead><tbody>
${strategy.options.map(
  (o) =>
    html`<tr class="${chosen(o) ? "chosen" : ""}"><td>${optionName(o)}</td><td class="num">${formatDuration(o.durationSeconds)}</td><td class="num">${formatNumber(o.inferenceHours, 3)}</td><td class="num">${formatUsd(o.cost)}</td><td>${o.meetsWindow ? "meets" : "misses"}</td></tr>`,
)}
</tbody></table>
<p class="muted">Chosen: ${strategy.reason}. The ${strategy.assumptions}.</p>`;
}
