/**
 * What the run's model time cost, estimated from the start and stop request
 * times and the units the model ran with (the measured figure, from
 * CloudWatch, is `measuredUsage` in unit-metrics.ts).
 */

import { epochMs } from "./numbers.ts";
import type { Billing, RunSummaryInput } from "./run-summary.ts";
import { type UnitsPoint, unitSeconds } from "./throughput.ts";

type EstimatedBilling = Omit<Billing, "measured">;

export function billingOf(
  input: RunSummaryInput,
  units: number,
  timeline: readonly UnitsPoint[],
  warnings: string[],
  now: number,
): EstimatedBilling {
  const { model } = input;
  const base = {
    estimate: true as const,
    units,
    pricePerUnitHour: input.plan.cost.pricePerUnitHour,
  };
  const nothingBilled = { billedSeconds: 0, inferenceHours: 0, cost: 0 };
  if (!model) {
    return {
      ...base,
      units: 0,
      owned: false,
      ...nothingBilled,
      note: "The model was not started by this run: no inference hours are billed to it.",
    };
  }
  if (!model.owned) {
    return {
      ...base,
      owned: false,
      ...nothingBilled,
      note: "The model was already running when the run began. This run did not start or stop it, so its hours are not this run's.",
    };
  }
  const from = epochMs(model.startRequestedAt);
  if (from === undefined) {
    warnings.push(
      "The run started the model but its start time was not recorded: billing unknown.",
    );
    return { ...base, owned: true, ...nothingBilled, note: "Start time unknown." };
  }
  let to = epochMs(input.stop?.stopRequestedAt);
  if (to === undefined) {
    warnings.push(
      "The run started the model but no stop request is recorded: the model may still be running. Billing is counted up to the report.",
    );
    to = now;
  }
  return ownedBilling(input, base, timeline, from, to);
}

/** Units x time from the start request (`from`) to the stop request (`to`), epoch ms. */
function ownedBilling(
  input: RunSummaryInput,
  base: Pick<EstimatedBilling, "estimate" | "units" | "pricePerUnitHour">,
  timeline: readonly UnitsPoint[],
  from: number,
  to: number,
): EstimatedBilling {
  const { units, pricePerUnitHour: price } = base;
  const billedSeconds = Math.max(0, (to - from) / 1000);
  const max = input.plan.sizing.maxInferenceUnits;
  // The units billed are the ones asked for, not only those in service: a
  // unit being started or replaced still counts. So never fewer than the
  // units the model was started with, and more only when the timeline shows
  // auto-scaling asked for (desired) or ran (in service) more.
  const billedUnits = timeline.map((p) => ({
    t: p.t,
    units: Math.max(p.units, p.desired ?? 0, units),
  }));
  const hours = unitSeconds(billedUnits, from / 1000, to / 1000, units) / 3600;
  const upper =
    max !== undefined && timeline.length === 0 ? (billedSeconds * max) / 3600 : undefined;
  return {
    ...base,
    owned: true,
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    billedSeconds,
    inferenceHours: hours,
    ...(upper !== undefined ? { upperBoundInferenceHours: upper } : {}),
    cost: hours * price,
    note:
      "Estimate: units x time from the StartProjectVersion request to the StopProjectVersion request" +
      (timeline.length > 0
        ? " (units above the starting count taken from the model's CloudWatch metrics). "
        : ". ") +
      "AWS's meter decides the bill (its granularity and whether start-up time is billed are not confirmed)." +
      (upper !== undefined
        ? ` Auto-scaling could use up to ${max} units: at most ${upper.toFixed(3)} inference hours.`
        : ""),
  };
}
