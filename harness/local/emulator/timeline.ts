/** One wall-clock second of one model version. `t` is epoch seconds. */
export interface TimelineSecond {
  t: number;
  accepted: number;
  throttled: number;
  desiredUnits: number;
  inServiceUnits: number;
  /**
   * What the model publishes to CloudWatch for this second (the local
   * CloudWatch endpoint answers from these): the units the billing meter
   * counts, and the session's MinInferenceUnits / MaxInferenceUnits.
   */
  billedUnits?: number;
  minUnits?: number;
  maxUnits?: number;
}

/** The unit figures of one moment. */
export interface UnitFigures {
  desired: number;
  inService: number;
  billed: number;
  min?: number;
  max?: number;
}

/** How many seconds each model keeps (an hour). */
const MAX_SECONDS = 3600;

/**
 * Calls and units per second. Counts add up within a second; unit figures
 * hold the last value seen in that second.
 */
export class Timeline {
  private readonly seconds = new Map<number, TimelineSecond>();

  recordCall(now: number, outcome: "accepted" | "throttled", figures: UnitFigures) {
    const second = this.sample(now, figures);
    second[outcome] += 1;
  }

  /** Notes the unit figures at `now` (called on every tick and every change). */
  sample(now: number, figures: UnitFigures): TimelineSecond {
    const { desired, inService } = figures;
    const t = Math.floor(now / 1000);
    let second = this.seconds.get(t);
    if (!second) {
      second = { t, accepted: 0, throttled: 0, desiredUnits: desired, inServiceUnits: inService };
      this.seconds.set(t, second);
      if (this.seconds.size > MAX_SECONDS) {
        const oldest = this.seconds.keys().next().value;
        if (oldest !== undefined) this.seconds.delete(oldest);
      }
    }
    second.desiredUnits = desired;
    second.inServiceUnits = inService;
    second.billedUnits = figures.billed;
    if (figures.min !== undefined) second.minUnits = figures.min;
    if (figures.max !== undefined) second.maxUnits = figures.max;
    return second;
  }

  list(): TimelineSecond[] {
    return [...this.seconds.values()].sort((a, b) => a.t - b.t);
  }
}
