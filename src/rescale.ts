/**
 * Manual re-scaling mid-run, as AWS's guide describes it for a model with a
 * fixed number of inference units: stop the model, start it again with more
 * units, carry on. A restart leaves the run without service for the model's
 * start-up time, so it is worth it only when the window would otherwise be
 * missed by more than that, the quota allows more units, and the run then
 * finishes sooner. This module is the arithmetic alone: pure, with every
 * figure it used in its answer, so the report can show the sums.
 */
import type { RescaleMode } from "./run-input.ts";

export interface RescaleFacts {
  /** The run input's `rescale`. */
  mode: RescaleMode;
  /** Units the model serves with now. */
  units: number;
  /** The account's inference-unit quota (the run input's maxUnits). */
  maxUnits: number;
  /** True when the model auto-scales (MaxInferenceUnits): the service adds units itself. */
  autoScaling: boolean;
  /** True when this run started the model: it may not stop one somebody else runs. */
  owned: boolean;
  /** Images still to analyse. */
  remainingImages: number;
  /** Images analysed per second so far, with `units` units. */
  measuredImagesPerSecond: number;
  /** Epoch ms: now, and the end of the target window. */
  nowMs: number;
  deadlineMs: number;
  /** How long a restart leaves the run without service: the model's start-up time. */
  restartSeconds: number;
  pricePerUnitHour: number;
}

/** The rest of the run one way: carry on as it is, or restart with `units`. */
export interface RescaleOption {
  units: number;
  /** From now to the last image: the restart (if any) plus processing. */
  seconds: number;
  finishesAt: string;
  /** How far past the window it ends (0 when within it). */
  overrunSeconds: number;
  /** Units x time for the rest of the run (a restart is counted at the new units). */
  inferenceHours: number;
  cost: number;
}

export interface RescaleDecision {
  restart: boolean;
  /** Why, in one sentence with the figures. */
  reason: string;
  /** The units for the rest of the run. */
  units: number;
  /** Carrying on (absent when no rate could be measured). */
  without?: RescaleOption;
  /** The restart considered (absent when none could be: no rate, no units to add, ...). */
  with?: RescaleOption;
  facts: RescaleFacts;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

function option(facts: RescaleFacts, units: number, restartSeconds: number): RescaleOption {
  const perUnit = facts.measuredImagesPerSecond / facts.units;
  const seconds = restartSeconds + facts.remainingImages / (perUnit * units);
  const finishMs = facts.nowMs + seconds * 1000;
  const inferenceHours = (units * seconds) / 3600;
  return {
    units,
    seconds,
    finishesAt: new Date(finishMs).toISOString(),
    overrunSeconds: Math.max(0, (finishMs - facts.deadlineMs) / 1000),
    inferenceHours,
    cost: inferenceHours * facts.pricePerUnitHour,
  };
}

/**
 * The fewest units, above the current ones and within the quota, with which
 * a restart still ends inside the window; the quota itself when none does
 * (then the restart can only shorten the overrun).
 */
function restartUnits(facts: RescaleFacts): number {
  for (let units = facts.units + 1; units <= facts.maxUnits; units++) {
    if (option(facts, units, facts.restartSeconds).overrunSeconds === 0) return units;
  }
  return facts.maxUnits;
}

/**
 * Restart or carry on. A restart is chosen only when every one of these holds:
 * the run asked for it (`rescale: "restart"`), the run owns the model and it
 * does not auto-scale, a rate was measured, the quota allows more units,
 * carrying on misses the window by more than the restart's dead time, and the
 * restart finishes sooner than carrying on.
 */
export function decideRescale(facts: RescaleFacts): RescaleDecision {
  const keep = (reason: string, considered?: RescaleOption): RescaleDecision => ({
    restart: false,
    reason,
    units: facts.units,
    ...(without ? { without } : {}),
    ...(considered ? { with: considered } : {}),
    facts,
  });
  const rate = facts.measuredImagesPerSecond;
  const measured = rate > 0 && Number.isFinite(rate) && facts.units > 0;
  const without = measured ? option(facts, facts.units, 0) : undefined;
  if (facts.mode !== "restart") return keep('rescale is "never": the model is never restarted');
  if (facts.remainingImages <= 0) return keep("nothing is left to analyse");
  if (!facts.owned) return keep("the model was started by someone else: this run may not stop it");
  if (facts.autoScaling) {
    return keep("the model auto-scales (maxInferenceUnits): the service adds units itself");
  }
  if (!without) return keep("no rate could be measured yet");
  if (facts.units >= facts.maxUnits) {
    return keep(`the model already runs the quota's ${facts.maxUnits} unit(s): none can be added`);
  }
  const units = restartUnits(facts);
  const withRestart = option(facts, units, facts.restartSeconds);
  const restart = round1(facts.restartSeconds);
  if (without.overrunSeconds <= facts.restartSeconds) {
    return keep(
      without.overrunSeconds === 0
        ? `at ${round1(rate)} images/s the rest ends inside the window: no restart needed`
        : `carrying on misses the window by ${round1(without.overrunSeconds)} s, no more than a restart's ${restart} s without service`,
      withRestart,
    );
  }
  if (withRestart.seconds >= without.seconds) {
    return keep(
      `restarting with ${units} unit(s) would end later (${round1(withRestart.seconds)} s) than carrying on (${round1(without.seconds)} s)`,
      withRestart,
    );
  }
  return {
    restart: true,
    reason:
      `at ${round1(rate)} images/s on ${facts.units} unit(s) the rest takes ${round1(without.seconds)} s and misses the window by ${round1(without.overrunSeconds)} s, ` +
      `more than a restart's ${restart} s without service; with ${units} unit(s) it takes ${round1(withRestart.seconds)} s` +
      (withRestart.overrunSeconds > 0
        ? ` (still ${round1(withRestart.overrunSeconds)} s late: the quota allows no more)`
        : " and ends inside the window"),
    units,
    without,
    with: withRestart,
    facts,
  };
}
