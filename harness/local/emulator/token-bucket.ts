/**
 * A token bucket that refills continuously at `ratePerSecond` and holds at
 * most one second of it (the burst). Time is passed in, never read, so the
 * same bucket is exact under a real or a manual clock.
 */
export class TokenBucket {
  private rate: number;
  private tokens: number;
  private updatedAt: number;

  /** Starts full: a freshly provisioned model accepts a full second of calls at once. */
  constructor(ratePerSecond: number, now: number) {
    this.rate = Math.max(0, ratePerSecond);
    this.tokens = this.rate;
    this.updatedAt = now;
  }

  get ratePerSecond(): number {
    return this.rate;
  }

  /** Tokens available at `now` (fractional). */
  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }

  /** Takes one token if a whole one is there; false means the call is throttled. */
  tryTake(now: number): boolean {
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /**
   * Changes the rate from `now` on. Tokens earned so far are kept, but never
   * more than the new burst: losing capacity takes effect at once, gaining it
   * shows as a faster refill.
   */
  setRate(ratePerSecond: number, now: number): void {
    this.refill(now);
    this.rate = Math.max(0, ratePerSecond);
    this.tokens = Math.min(this.tokens, this.rate);
  }

  /** Fills the bucket to the brim (used when a model becomes RUNNING). */
  fill(now: number): void {
    this.updatedAt = Math.max(this.updatedAt, now);
    this.tokens = this.rate;
  }

  private refill(now: number): void {
    const elapsed = now - this.updatedAt;
    if (elapsed <= 0) return;
    this.tokens = Math.min(this.rate, this.tokens + (elapsed / 1000) * this.rate);
    this.updatedAt = now;
  }
}
