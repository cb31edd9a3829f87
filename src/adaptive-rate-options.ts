import type { RateControllerStats } from "./rate-controller.ts";
import type { Clock } from "./runtime.ts";

// The options of AdaptiveRateController and what it reports (see adaptive-rate-controller.ts).

export interface RateControllerOptions {
  /** The planned calls per second (the start rate). */
  plannedTps: number;
  clock: Clock;
  /** Tokens the bucket holds at most. Default: a tenth of a second's worth, at least 1. */
  burst?: number;
  /** Factor applied to the rate on a throttle. Default 0.8. */
  cutFactor?: number;
  /** At most one cut per this many ms. Default 1000. */
  cutWindowMs?: number;
  /** No probing until this long after the last throttle. Default 1000 ms. */
  quietMs?: number;
  /** One probe step per this many ms. Default 1000. */
  probeIntervalMs?: number;
  /** Each probe adds this fraction of the planned rate. Default 0.05. */
  probeStepFraction?: number;
  /** The rate never goes above plannedTps x this. Default 2. */
  ceilingFactor?: number;
  /**
   * The rate never goes above this (calls per second); overrides
   * `ceilingFactor`. Set when the model auto-scales: the worker's share of
   * MaxInferenceUnits x TPS per unit.
   */
  ceilingTps?: number;
  /**
   * Throttles up to this share of the calls of the last `throttleShareWindowMs`
   * cut nothing: they only hold the rate where it is. An auto-scaling model
   * adds units only while demand exceeds what is in service, so a little
   * standing excess is the signal it needs. Default 0 (every throttle cuts).
   */
  toleratedThrottleShare?: number;
  /** The span the throttle share is measured over. Default 3000 ms. */
  throttleShareWindowMs?: number;
  /** The rate never goes below plannedTps x this. Default 0.05. */
  floorFactor?: number;
  /**
   * After a cut, probes climb fast (halfway per step) back to this fraction of
   * the rate that was throttled. Default 0.9: workers sharing a model are
   * throttled when their sum is over the capacity, by then ~5-8 % over it
   * (the model's burst hides the excess for a while), so each one's throttled
   * rate overstates its share; climbing fast to 0.95 of it met the next
   * throttle within seconds.
   */
  recoverFraction?: number;
  /** From there up to the throttled rate, probe steps are this fraction of a full step. Default 0.05. */
  nearLimitFactor?: number;
  /**
   * A probe needs the tokens granted since the last one to reach this share
   * of the rate: a limit that is not being used (something else, such as the
   * CPU or the in-flight slots, holds the pace) is not raised, or it would
   * climb unchecked and overshoot once that bottleneck clears. Default 0.9.
   */
  probeUseShare?: number;
  /**
   * Each probe in a row without a throttle doubles the step, up to this share
   * of the current rate, so a rate far below the capacity (a plan that
   * underestimates the model, or peers that finished their work) is found in
   * a few seconds instead of at a fixed +5 % of the plan per second. A cut
   * starts over at one step. Default 0.25.
   */
  maxGrowthShare?: number;
  /**
   * The slow band just below the rate that was last throttled holds only this
   * long without a throttle: past it, that rate is old news (a peer finished
   * its work, the model scaled up) and probes grow again. Default 15000 ms.
   */
  staleAfterMs?: number;
  /**
   * A cut goes deeper than `cutFactor` when the calls granted since the last
   * cut were throttled in a larger share: the rate becomes what got through
   * (rate x (1 - throttled share)), never below rate x this. Default 0.5.
   */
  deepestCutFactor?: number;
  /**
   * Seconds of calls the model lets through above its capacity before it
   * throttles (its burst). A fresh controller throttled for the first time
   * while still at about the planned rate has been over the capacity since
   * its start, the burst hiding it: what the model admitted so far is about
   * the capacity x (time since the first call + this), which is what this
   * worker was granted, so its first cut goes straight to that share instead
   * of taking several rounds of 0.8. Default 1 (the emulator's, AWS does not
   * document it; a smaller real burst only makes that cut deeper, never
   * below `deepestCutFactor`). 0 turns it off.
   */
  modelBurstSeconds?: number;
  /**
   * Once the band below the last throttled rate has gone stale, probes above
   * that rate grow by one step at a time (no doubling) until the rate is this
   * factor above it: the capacity has usually not moved, and the model's
   * burst hides an overshoot for seconds, so doubling there overshoots by far
   * and takes several cuts to undo. Past it, the capacity has moved (a peer
   * finished, the model scaled up) and steps double again. Default 1.1.
   */
  staleClimbFactor?: number;
  /**
   * Each time a climb out of a stale band is throttled within `staleAfterMs`
   * (the capacity had not moved: the band was right), the band holds twice as
   * long next time, up to this; a throttle later than that (the climb found
   * new ground first) resets the hold to `staleAfterMs`. Default 60000 ms;
   * `staleAfterMs` or less turns the backoff off.
   */
  maxStaleAfterMs?: number;
}

export interface AdaptiveRateStats extends RateControllerStats {
  ceilingTps: number;
  floorTps: number;
  /** Times the rate was cut. */
  cuts: number;
  /** Times the rate was raised. */
  probes: number;
  /** The rate at the last cut, if any. */
  throttledAtTps?: number;
}
