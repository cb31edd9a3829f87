/**
 * Auto-scaling of one model version: demand is the rate of calls arriving
 * (accepted and throttled) over a trailing window; the desired unit count
 * follows it once the difference has lasted long enough.
 */

export interface ScalingPolicy {
  minUnits: number;
  maxUnits: number;
  tpsPerUnit: number;
  demandWindowMs: number;
  scaleUpDelayMs: number;
  scaleDownDelayMs: number;
  /**
   * The share of a unit's TPS each unit is sized for: desired units =
   * ceil(demand / (tpsPerUnit x threshold)). 1 (the default) scales up as soon
   * as demand exceeds what is in service; 0.8 keeps a fifth in reserve.
   */
  threshold?: number;
}

export class DemandScaler {
  private arrivals: number[] = [];
  private pending: { direction: "up" | "down"; since: number } | undefined;

  constructor(private readonly policy: ScalingPolicy) {}

  /** One call arrived (whether it was accepted or throttled). */
  recordArrival(now: number): void {
    this.arrivals.push(now);
  }

  /** Calls per second over the trailing window ending at `now`. */
  demand(now: number): number {
    const from = now - this.policy.demandWindowMs;
    let first = 0;
    while (first < this.arrivals.length && (this.arrivals[first] as number) <= from) first++;
    if (first > 0) this.arrivals = this.arrivals.slice(first);
    return this.arrivals.length / (this.policy.demandWindowMs / 1000);
  }

  /** Units the current demand calls for: clamp(ceil(demand / (tpsPerUnit x threshold)), min, max). */
  target(now: number): number {
    const { minUnits, maxUnits, tpsPerUnit, threshold = 1 } = this.policy;
    // Rounded so that floating-point dust (6 / (5 x 0.6)) does not add a unit.
    const needed = Math.ceil(Math.round((this.demand(now) / (tpsPerUnit * threshold)) * 1e9) / 1e9);
    return Math.min(maxUnits, Math.max(minUnits, needed));
  }

  /**
   * The desired unit count at `now`, given the current one: it moves to the
   * target only after the target has stayed on the same side of it for the
   * scale-up (or scale-down) delay.
   */
  decide(now: number, desired: number): number {
    const target = this.target(now);
    if (target === desired) {
      this.pending = undefined;
      return desired;
    }
    const direction = target > desired ? "up" : "down";
    if (this.pending?.direction !== direction) this.pending = { direction, since: now };
    const delay = direction === "up" ? this.policy.scaleUpDelayMs : this.policy.scaleDownDelayMs;
    if (now - this.pending.since < delay) return desired;
    this.pending = undefined;
    return target;
  }
}
