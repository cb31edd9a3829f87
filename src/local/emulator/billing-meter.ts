/**
 * Inference-unit seconds of one model version: billed units integrated over
 * time, one session per start. Units can change at any moment (auto-scaling,
 * failures), so every change closes the running integral first.
 */

export interface BillingSession {
  startedAt: number;
  endedAt?: number;
  unitSeconds: number;
}

export class BillingMeter {
  private units = 0;
  private since = 0;
  private closedUnitSeconds = 0;
  private readonly sessions: BillingSession[] = [];

  /** Opens a session (the model was asked to start, or became RUNNING). */
  open(now: number, units: number): void {
    this.close(now);
    this.sessions.push({ startedAt: now, unitSeconds: 0 });
    this.units = units;
    this.since = now;
  }

  /** The number of billed units changes at `now`. */
  setUnits(now: number, units: number): void {
    if (!this.current()) return;
    this.accrue(now);
    this.units = units;
  }

  /** Ends the open session (the model is STOPPED or FAILED). */
  close(now: number): void {
    const session = this.current();
    if (!session) return;
    this.accrue(now);
    session.endedAt = now;
    this.units = 0;
  }

  get billingUnits(): number {
    return this.current() ? this.units : 0;
  }

  /** Total unit-seconds up to `now`, the open session included. */
  unitSeconds(now: number): number {
    const session = this.current();
    const open = session ? (this.units * Math.max(0, now - this.since)) / 1000 : 0;
    return this.closedUnitSeconds + open;
  }

  sessionsAt(now: number): BillingSession[] {
    return this.sessions.map((session) =>
      session.endedAt === undefined
        ? {
            ...session,
            unitSeconds: session.unitSeconds + (this.units * Math.max(0, now - this.since)) / 1000,
          }
        : { ...session },
    );
  }

  private current(): BillingSession | undefined {
    const last = this.sessions[this.sessions.length - 1];
    return last && last.endedAt === undefined ? last : undefined;
  }

  private accrue(now: number): void {
    const session = this.current();
    if (!session) return;
    const added = (this.units * Math.max(0, now - this.since)) / 1000;
    session.unitSeconds += added;
    this.closedUnitSeconds += added;
    this.since = now;
  }
}
