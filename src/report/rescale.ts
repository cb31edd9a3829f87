/**
 * The report's account of a run that may restart its model with more units
 * (`rescale: "restart"`): its rounds, the decision taken after the first one
 * with its arithmetic, and the model time of the session the restart ended,
 * which the run pays for too.
 */
import type { RescaleDecision } from "../rescale.ts";
import type { RoundsState } from "../rounds.ts";
import { html, type SafeHtml } from "./html-escape.ts";
import { epochMs } from "./numbers.ts";
import type { StopInfo } from "./run-summary.ts";

/** The model session a restart ended: its units from the start request to the stop request. */
export interface EndedSession {
  units: number;
  from: string;
  to: string;
  inferenceHours: number;
  cost: number;
}

export interface RescaleSummary {
  restarts: number;
  decision?: RescaleDecision;
  rounds: { index: number; images: number; units: number; processed: number; endedAt: string }[];
  /** Present after a restart: billed on top of the session that finished the run. */
  endedSession?: EndedSession;
}

/** The rescale section, when the run was split into rounds; undefined for a one-round run. */
export function rescaleSummary(
  rounds: RoundsState | undefined,
  restartStop: StopInfo | undefined,
  pricePerUnitHour: number,
): RescaleSummary | undefined {
  if (!rounds || (rounds.current.of <= 1 && rounds.restarts === 0)) return undefined;
  const before = rounds.beforeRestart;
  const from = epochMs(before?.startRequestedAt);
  const to = epochMs(restartStop?.stopRequestedAt);
  const endedSession =
    before && from !== undefined && to !== undefined && to >= from
      ? {
          units: before.units,
          from: new Date(from).toISOString(),
          to: new Date(to).toISOString(),
          inferenceHours: (before.units * (to - from)) / 3600_000,
          cost: ((before.units * (to - from)) / 3600_000) * pricePerUnitHour,
        }
      : undefined;
  return {
    restarts: rounds.restarts,
    ...(rounds.decision ? { decision: rounds.decision } : {}),
    rounds: rounds.finished.map(({ index, images, units, processed, endedAt }) => ({
      index,
      images,
      units,
      processed,
      endedAt,
    })),
    ...(endedSession ? { endedSession } : {}),
  };
}

const seconds = (x: number | undefined) => (x === undefined ? "?" : `${x.toFixed(1)} s`);
const usd = (x: number | undefined) => (x === undefined ? "?" : `$${x.toFixed(4)}`);

/** The decision's sums in words, for the report and the local summary. */
export function describeRescale(section: RescaleSummary): string[] {
  const { decision } = section;
  if (!decision) return [`Rounds: ${section.rounds.length}; no restart was considered.`];
  const lines = [`${decision.restart ? "Restarted" : "Not restarted"}: ${decision.reason}.`];
  const { without, with: restart } = decision;
  if (without) {
    lines.push(
      `Without a restart: ${decision.facts.units} unit(s), ${seconds(without.seconds)} to the end, ` +
        `${seconds(without.overrunSeconds)} past the window, ${without.inferenceHours.toFixed(4)} inference hours (${usd(without.cost)}).`,
    );
  }
  if (restart) {
    lines.push(
      `With a restart: ${restart.units} unit(s), ${seconds(decision.facts.restartSeconds)} without service + ` +
        `${seconds(restart.seconds - decision.facts.restartSeconds)} processing = ${seconds(restart.seconds)}, ` +
        `${seconds(restart.overrunSeconds)} past the window, ${restart.inferenceHours.toFixed(4)} inference hours (${usd(restart.cost)}).`,
    );
  }
  return lines;
}

/** The report's "Re-scaling" section: rounds, and the decision with its sums. */
export function rescaleSection(section: RescaleSummary | undefined): SafeHtml {
  if (!section) return html``;
  return html`<section id="rescale"><h2>Re-scaling (restart with more units)</h2>
<ul>${describeRescale(section).map((line) => html`<li>${line}</li>`)}</ul>
<table><thead><tr><th>Round</th><th class="num">Images</th><th class="num">Done</th><th class="num">Units</th><th>Ended</th></tr></thead><tbody>
${section.rounds.map(
  (r) =>
    html`<tr><td>${r.index}</td><td class="num">${r.images}</td><td class="num">${r.processed}</td><td class="num">${r.units}</td><td>${r.endedAt}</td></tr>`,
)}
</tbody></table>
${section.endedSession ? html`<p class="muted">Billed besides the session that finished the run: ${section.endedSession.units} unit(s) from ${section.endedSession.from} to ${section.endedSession.to} (${section.endedSession.inferenceHours.toFixed(4)} inference hours, $${section.endedSession.cost.toFixed(4)}).</p>` : ""}
</section>`;
}
