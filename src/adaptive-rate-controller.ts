import { onAbort } from "./abort-subscriptions.ts";
import type { AdaptiveRateStats, RateControllerOptions } from "./adaptive-rate-options.ts";
import type { RateController } from "./rate-controller.ts";
import type { Clock } from "./runtime.ts";

/**
 * An adaptive token bucket, the default `RateController`.
 *
 * The rate starts at the planned per-worker TPS. A throttle
 * (ProvisionedThroughputExceededException) cuts it multiplicatively, at most
 * once per cut window, so a burst of throttles from one congestion event cuts
 * once. After a quiet period without throttles, and only while callers are
 * actually waiting for tokens, it probes upward: quickly back to just below the
 * rate that was throttled (the capacity is about there), then additively, up
 * to a ceiling, so it follows auto-scaling up and recovers when lost units
 * come back.
 *
 * Everything is computed from the injected clock, so with a fake clock the
 * number of tokens granted in a span of time is exact.
 */

export type { AdaptiveRateStats, RateControllerOptions } from "./adaptive-rate-options.ts";

/** Fewer calls since the last cut than this say too little about the share throttled. */
const MIN_CALLS_FOR_SHARE = 5;

interface Waiter {
  resolve: (grantedAt: number) => void;
  reject: (reason: unknown) => void;
  detach: () => void;
}

export class AdaptiveRateController implements RateController {
  readonly plannedTps: number;
  private readonly clock: Clock;
  private readonly burst: number;
  private readonly cutFactor: number;
  private readonly cutWindowMs: number;
  private readonly quietMs: number;
  private readonly probeIntervalMs: number;
  private readonly probeStep: number;
  private readonly ceilingTps: number;
  private readonly floorTps: number;
  private readonly recoverFraction: number;
  private readonly nearLimitFactor: number;
  private readonly probeUseShare: number;
  private readonly toleratedThrottleShare: number;
  private readonly throttleShareWindowMs: number;
  private readonly maxGrowthShare: number;
  private readonly staleAfterMs: number;
  private readonly deepestCutFactor: number;
  private readonly staleClimbFactor: number;
  private readonly maxStaleAfterMs: number;
  private readonly modelBurstSeconds: number;
  /** When the first token was granted: the start of the span the first cut is measured over. */
  private firstGrantAt: number | undefined;
  /** How long the band holds now (`staleAfterMs`, doubled by climbs that found the old limit). */
  private bandHoldMs: number;
  /** The throttled rate the band went stale below: probes above it climb one step at a time. */
  private staleFromTps: number | undefined;
  /** When the band last went stale (until the next cut). */
  private staleAt: number | undefined;
  /** Calls granted since the last cut, and how many of those were throttled. */
  private sinceCut = { granted: 0, throttled: 0 };
  /** Probes in a row on new ground (no throttled rate known above): each doubles the step. */
  private probesInARow = 0;
  /** When the rate entered the slow band below `throttledAtTps`, if it is there. */
  private inBandSince: number | undefined;

  private rate: number;
  /** Grant and throttle times within the throttle-share window (kept only when throttles are tolerated). */
  private recentGrants: number[] = [];
  private recentThrottles: number[] = [];
  /** Tokens granted since `countingSince` (the last probe, skipped probe or cut). */
  private grantedSinceProbe = 0;
  private countingSince: number;
  /** When the last batch handed the controller back (epoch ms), until the next takes it. */
  private idleSince: number | undefined;
  private tokens: number;
  private refilledAt: number;
  private lastThrottleAt: number;
  private lastCutAt = Number.NEGATIVE_INFINITY;
  private lastProbeAt: number;
  /** The rate of the last cut: the model's capacity is just below it. */
  private throttledAtTps: number | undefined;
  private counters = { granted: 0, throttles: 0, cuts: 0, probes: 0 };

  private readonly queue: Waiter[] = [];
  private pumping = false;
  /** Interrupts the pump's sleep when the head of the queue leaves or the rate rises. */
  private wake: AbortController | undefined;

  constructor(options: RateControllerOptions) {
    const { plannedTps, clock } = options;
    if (!(Number.isFinite(plannedTps) && plannedTps > 0)) {
      throw new RangeError(`plannedTps must be a positive number, got ${plannedTps}`);
    }
    this.plannedTps = plannedTps;
    this.clock = clock;
    this.burst = options.burst ?? Math.max(1, Math.floor(plannedTps / 10));
    if (!(this.burst >= 1)) throw new RangeError(`burst must be >= 1, got ${this.burst}`);
    this.cutFactor = options.cutFactor ?? 0.8;
    this.cutWindowMs = options.cutWindowMs ?? 1000;
    this.quietMs = options.quietMs ?? 1000;
    this.probeIntervalMs = options.probeIntervalMs ?? 1000;
    this.probeStep = plannedTps * (options.probeStepFraction ?? 0.05);
    this.ceilingTps = Math.max(
      plannedTps,
      options.ceilingTps ?? plannedTps * (options.ceilingFactor ?? 2),
    );
    this.floorTps = plannedTps * (options.floorFactor ?? 0.05);
    this.recoverFraction = options.recoverFraction ?? 0.9;
    this.nearLimitFactor = options.nearLimitFactor ?? 0.05;
    this.probeUseShare = options.probeUseShare ?? 0.9;
    this.toleratedThrottleShare = options.toleratedThrottleShare ?? 0;
    this.throttleShareWindowMs = options.throttleShareWindowMs ?? 3000;
    this.maxGrowthShare = options.maxGrowthShare ?? 0.25;
    this.staleAfterMs = options.staleAfterMs ?? 15000;
    this.deepestCutFactor = options.deepestCutFactor ?? 0.5;
    this.staleClimbFactor = options.staleClimbFactor ?? 1.1;
    this.maxStaleAfterMs = Math.max(this.staleAfterMs, options.maxStaleAfterMs ?? 60000);
    this.modelBurstSeconds = options.modelBurstSeconds ?? 1;
    this.bandHoldMs = this.staleAfterMs;
    this.rate = plannedTps;
    this.tokens = this.burst;
    this.refilledAt = clock.now();
    // The start counts as the last congestion: probing begins one quiet period in.
    this.lastThrottleAt = this.refilledAt;
    this.lastProbeAt = this.refilledAt;
    this.countingSince = this.refilledAt;
  }

  /**
   * Waits for a token. Resolves with the clock time it was granted (pass it to
   * `onThrottle` so that throttles of calls sent before the last cut do not cut
   * again). Waiters are served first come, first served. Rejects with the
   * signal's reason when aborted, without taking a token.
   */
  acquire(signal?: AbortSignal): Promise<number> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<number>((resolve, reject) => {
      const abandon = () => {
        const index = this.queue.indexOf(waiter);
        if (index >= 0) this.queue.splice(index, 1);
        reject(signal?.reason);
        if (index === 0) this.wake?.abort();
      };
      // Every in-flight item waits on the batch's one signal: see abort-subscriptions.ts.
      const waiter: Waiter = {
        resolve,
        reject,
        detach: signal ? onAbort(signal, abandon) : () => {},
      };
      this.queue.push(waiter);
      void this.pump();
    });
  }

  /**
   * Reports a throttled call. Cuts the rate unless it was cut less than a cut
   * window ago, or the call was granted before the last cut (it belongs to the
   * congestion that cut already answered).
   */
  onThrottle(grantedAt?: number): void {
    const now = this.clock.now();
    this.counters.throttles += 1;
    if (this.toleratedThrottleShare > 0) this.recentThrottles.push(now);
    if (grantedAt !== undefined && grantedAt < this.lastCutAt) return;
    this.sinceCut.throttled += 1;
    this.lastThrottleAt = now;
    if (now - this.lastCutAt < this.cutWindowMs) return;
    if (this.throttleShare(now) <= this.toleratedThrottleShare) return;
    this.refill(now);
    if (this.staleAt !== undefined) {
      // Soon after a climb out of a stale band: the band was right, hold it longer next time.
      this.bandHoldMs =
        now - this.staleAt < this.staleAfterMs
          ? Math.min(this.maxStaleAfterMs, this.bandHoldMs * 2)
          : this.staleAfterMs;
      this.staleAt = undefined;
    }
    const firstShare = this.firstCutShare(now);
    const factor = firstShare ?? this.cutFactorNow();
    // That share is about the capacity itself: climbing fast back to 90 % of the
    // throttled rate met throttle after throttle. It counts as an ordinary cut.
    this.throttledAtTps =
      firstShare !== undefined ? (this.rate * factor) / this.cutFactor : this.rate;
    this.rate = Math.max(this.floorTps, this.rate * factor);
    this.sinceCut = { granted: 0, throttled: 0 };
    // Whatever burst was saved up belongs to the rate that was just too high.
    this.tokens = 0;
    this.lastCutAt = now;
    this.lastProbeAt = now;
    this.grantedSinceProbe = 0;
    this.countingSince = now;
    this.probesInARow = 0;
    this.inBandSince = undefined;
    this.staleFromTps = undefined;
    this.counters.cuts += 1;
  }

  /**
   * `cutFactor`, or deeper when most of what was sent since the last cut was
   * refused: with a plan far above the model, cutting by a fixed factor
   * would take several rounds of throttles to get down to the capacity.
   * Only calls granted after the last cut count, so the share is of the
   * current rate.
   */
  private cutFactorNow(): number {
    const { granted, throttled } = this.sinceCut;
    if (granted < MIN_CALLS_FOR_SHARE) return this.cutFactor;
    const through = 1 - Math.min(1, throttled / granted);
    return Math.max(this.deepestCutFactor, Math.min(this.cutFactor, through));
  }

  /**
   * The first throttle of a fresh controller still within a probe step of the
   * plan: the plan was over the capacity from the start, the model's burst
   * hiding it. The model admitted ~capacity x (elapsed + burst), this worker's
   * part being what it was granted: that share of the rate, when deeper than
   * `cutFactor` (not below `deepestCutFactor`). Cuts of 0.8 took ~8 rounds.
   * Not with tolerated throttles (auto-scaling): they are the demand it grows on.
   */
  private firstCutShare(now: number): number | undefined {
    const fresh = this.counters.cuts === 0 && this.firstGrantAt !== undefined;
    if (!fresh || this.modelBurstSeconds <= 0 || this.toleratedThrottleShare > 0) return undefined;
    if (this.rate > this.plannedTps + this.probeStep) return undefined;
    const span = (now - (this.firstGrantAt as number)) / 1000 + this.modelBurstSeconds;
    const share = this.counters.granted / (span * this.rate);
    if (!(share < this.cutFactor)) return undefined;
    return Math.max(this.deepestCutFactor, share);
  }

  /** The current rate and what the controller has done so far. */
  stats(): AdaptiveRateStats {
    return {
      plannedTps: this.plannedTps,
      rateTps: this.rate,
      ceilingTps: this.ceilingTps,
      floorTps: this.floorTps,
      throttledAtTps: this.throttledAtTps,
      ...this.counters,
    };
  }

  /** Throttles per granted call over the share window; 1 when nothing is tolerated. */
  private throttleShare(now: number): number {
    if (this.toleratedThrottleShare <= 0) return 1;
    const from = now - this.throttleShareWindowMs;
    const recent = (times: number[]) => {
      let first = 0;
      while (first < times.length && (times[first] as number) < from) first++;
      return times.slice(first);
    };
    this.recentGrants = recent(this.recentGrants);
    this.recentThrottles = recent(this.recentThrottles);
    return this.recentThrottles.length / Math.max(1, this.recentGrants.length);
  }

  private refill(now: number): void {
    const elapsed = now - this.refilledAt;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (this.rate * elapsed) / 1000);
      this.refilledAt = now;
    }
  }

  /** The batch has ended: from now until the next batch, nobody calls. */
  batchEnded(): void {
    this.idleSince = this.clock.now();
  }

  /**
   * A new batch takes the controller over. The time since the last batch
   * ended (the next child starting: no callers at all) is left out of the use
   * share, which otherwise reads as a rate that does not hold the callers
   * back; the measure itself carries on across batches, so batches shorter
   * than a probe interval still add up to one.
   */
  newBatch(): void {
    const now = this.clock.now();
    if (this.idleSince !== undefined) {
      this.countingSince = Math.min(now, this.countingSince + (now - this.idleSince));
      this.idleSince = undefined;
    } else {
      this.grantedSinceProbe = 0;
      this.countingSince = now;
    }
  }

  /** Raises the rate by one step when it has been quiet long enough; called only when a caller must wait. */
  private maybeProbe(now: number): void {
    if (this.rate >= this.ceilingTps) return;
    const due = Math.max(
      this.lastThrottleAt + this.quietMs,
      this.lastProbeAt + this.probeIntervalMs,
    );
    if (now < due) return;
    if (now - this.countingSince < this.probeIntervalMs / 2) return; // too short to measure
    const offered = (this.rate * (now - this.countingSince)) / 1000;
    const used = offered > 0 ? this.grantedSinceProbe / offered : 1;
    this.grantedSinceProbe = 0;
    this.countingSince = now;
    if (used < this.probeUseShare) {
      // Not limited by this rate: measure again over the next interval.
      this.lastProbeAt = now;
      return;
    }
    this.refill(now);
    this.rate = Math.min(this.ceilingTps, this.rate + this.probeIncrement(now));
    this.probesInARow += 1;
    // Keep to the schedule (no drift from waiting for a check), but never
    // bank probes for a spell without demand.
    this.lastProbeAt = now - due < this.probeIntervalMs ? due : now;
    this.counters.probes += 1;
  }

  /**
   * How far one probe goes, CUBIC-like: fast back to just below the rate that
   * was throttled (the capacity is known to be about there), slowly through
   * the band where the last congestion happened, and beyond it (new ground:
   * the plan was low, the model scaled up, or peers finished) in steps that
   * double with every probe in a row, up to `maxGrowthShare` of the rate. The
   * band is left behind once it has been quiet for `staleAfterMs`.
   */
  private probeIncrement(now: number): number {
    const grown = Math.min(
      this.probeStep * 2 ** this.probesInARow,
      Math.max(this.probeStep, this.rate * this.maxGrowthShare),
    );
    if (this.throttledAtTps === undefined) {
      if (this.staleFromTps !== undefined) {
        if (this.rate < this.staleFromTps * this.staleClimbFactor) {
          this.probesInARow = -1;
          return this.probeStep;
        }
        // Past the old limit without a throttle: the capacity has moved.
        this.staleFromTps = undefined;
      }
      return grown;
    }
    const recovered = this.throttledAtTps * this.recoverFraction;
    if (this.rate < recovered) {
      this.probesInARow = -1;
      return Math.min(recovered - this.rate, Math.max(this.probeStep, (recovered - this.rate) / 2));
    }
    if (this.rate < this.throttledAtTps) {
      this.probesInARow = -1;
      this.inBandSince ??= now;
      if (now - this.inBandSince < this.bandHoldMs) {
        return Math.min(this.throttledAtTps - this.rate, this.probeStep * this.nearLimitFactor);
      }
      // Quiet for long in the band: the capacity may have moved up.
      this.staleFromTps = this.throttledAtTps;
      this.staleAt = now;
      this.throttledAtTps = undefined;
      this.inBandSince = undefined;
      return this.probeStep;
    }
    return grown;
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0) {
        const now = this.clock.now();
        this.refill(now);
        // Probe only when the rate is what holds callers back.
        if (this.tokens < 1) this.maybeProbe(now);
        if (this.tokens >= 1) {
          this.tokens -= 1;
          this.counters.granted += 1;
          this.firstGrantAt ??= now;
          this.grantedSinceProbe += 1;
          if (this.toleratedThrottleShare > 0) {
            this.recentGrants.push(now);
            // Bounded: older entries are dropped as the window moves.
            if (this.recentGrants.length > 1000) this.throttleShare(now);
          }
          this.sinceCut.granted += 1;
          const waiter = this.queue.shift() as Waiter;
          waiter.detach();
          waiter.resolve(now);
          continue;
        }
        const waitMs = Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.rate));
        this.wake = new AbortController();
        await this.clock.sleep(waitMs, this.wake.signal).catch(() => {});
        this.wake = undefined;
      }
    } finally {
      this.pumping = false;
    }
  }
}
