import type { RunSummary } from "../../src/report/summary.ts";

/**
 * The `Units` line of `npm run local`'s summary, from the model's metrics as
 * the report read them (GetMetricData): "1 -> 4 in service (auto-scaling,
 * max 4), desired peak 4", or "2 in service" for a fixed-units run.
 */
export function unitsLine(summary: RunSummary): string {
  const { units } = summary;
  if (units.source !== "cloudwatch" || units.timeline.length === 0) {
    return `${units.minInferenceUnits} (started with; ${units.metrics.note})`;
  }
  const inService = units.timeline.map((p) => p.units);
  const first = inService[0] as number;
  const peak = Math.max(...inService);
  const desired = units.timeline.flatMap((p) => (p.desired === undefined ? [] : [p.desired]));
  const range = peak === first ? `${peak}` : `${first} -> ${peak}`;
  if (!units.autoScaling) return `${range} in service`;
  const desiredPeak = desired.length > 0 ? `, desired peak ${Math.max(...desired)}` : "";
  return `${range} in service (auto-scaling, max ${units.maxInferenceUnits})${desiredPeak}`;
}
