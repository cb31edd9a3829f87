/**
 * What a one-unit plan risks. AWS's Custom Labels guide ("Running a trained
 * Amazon Rekognition Custom Labels model", Availability Zones): units are
 * spread over the Availability Zones of a Region, a failed unit is replaced
 * automatically in the same zone with capacity reduced until it is back, and
 * production models should start with at least 2 units. With one unit a
 * failure leaves no capacity at all until the replacement serves.
 */
import { costBasisOf, costOption } from "./cost.ts";
import { formatDuration } from "./report/format.ts";
import type { CostOption, Sizing } from "./shapes.ts";

export interface SingleUnitRisk {
  /**
   * How long a replacement is assumed to take: about one model start-up
   * (AWS does not publish the replacement time).
   */
  assumedReplacementSeconds: number;
  /** What a failure adds to this run: the wait, billed at one unit. */
  extraSeconds: number;
  extraCost: number;
  /** This run with one unit, and with two (minUnits=2). */
  oneUnit: CostOption;
  twoUnits: CostOption;
  note: string;
}

export function singleUnitRisk(opts: {
  sizing: Pick<Sizing, "units" | "tpsPerUnit" | "startupSeconds" | "maxInferenceUnits"> &
    Partial<Pick<Sizing, "stopSeconds" | "perWorkerTps">>;
  pending: number;
  pricePerUnitHour: number;
}): SingleUnitRisk | undefined {
  const { sizing, pending, pricePerUnitHour } = opts;
  if (sizing.units !== 1 || pending === 0) return undefined;
  // The plan's cost table's own figures for one and two units.
  const basis = costBasisOf(sizing, pricePerUnitHour);
  const option = (units: number) => costOption(units, pending, basis);
  const oneUnit = option(1);
  const twoUnits = option(2);
  const replacement = sizing.startupSeconds;
  const extraCost = Math.round((replacement / 3600) * pricePerUnitHour * 100) / 100;
  const scaling =
    sizing.maxInferenceUnits !== undefined && sizing.maxInferenceUnits > 1
      ? " (auto-scaling may add units, but only once demand has been seen above the one unit)"
      : "";
  return {
    assumedReplacementSeconds: replacement,
    extraSeconds: replacement,
    extraCost,
    oneUnit,
    twoUnits,
    note:
      `One inference unit${scaling}: if it or its Availability Zone fails, the model serves nothing until AWS replaces the unit in the same zone. ` +
      "Calls are then throttled and paced, not failed, so the run waits rather than fails (within each batch's time limit). " +
      `AWS does not publish how long a replacement takes; at about a start-up (${formatDuration(replacement, { coarse: true })}) the run would take that much longer and cost about USD ${extraCost.toFixed(2)} more, the unit being billed while it waits. ` +
      `AWS advises at least 2 units for production models: with minUnits=2 (--min-units 2, or "minUnits": 2 in the run input) a failure halves the rate instead of stopping it; this run would take about ${formatDuration(twoUnits.durationSeconds, { coarse: true })} for USD ${twoUnits.cost.toFixed(2)} instead of ${formatDuration(oneUnit.durationSeconds, { coarse: true })} for USD ${oneUnit.cost.toFixed(2)}.`,
  };
}
