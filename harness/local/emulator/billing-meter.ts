/**
 * Inference-unit seconds of one model version: billed units integrated over
 * time, one session per start. Units can change at any moment (auto-scaling,
 * failures), so every change closes the running integral first. Sums are kept
 * in unit-milliseconds (integers for integer clocks) so they add up exactly.
 */

export interface BillingSession {
  startedAt: number;
  endedAt?: number;
  unitSeconds: number;
}

interface OpenSession {
  startedAt: number;
  endedAt?: number;
  unitMs: number;
}

export class BillingMeter {
  private units = 0;
  private since = 0;
  private closedUnitMs = 0;
  private readonly sessions: OpenSession[] = [];

  /** Opens a session (the model was asked to start, or became RUNNING). */
  open(now: number, units: number): void {
    this.close(now);
    this.sessions.push({ startedAt: now, unitMs: 0 });
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
    return (this.closedUnitMs + this.openUnitMs(now)) / 1000;
  }

  sessionsAt(now: number): BillingSession[] {
    return this.sessions.map(({ startedAt, endedAt, unitMs }) => ({
      startedAt,
      ...(endedAt === undefined ? {} : { endedAt }),
      unitSeconds: (unitMs + (endedAt === undefined ? this.openUnitMs(now) : 0)) / 1000,
    }));
  }

  private openUnitMs(now: number): number {
    return this.current() ? this.units * Math.max(0, now - this.since) : 0;
  }

  private current(): OpenSession | undefined {
    const last = this.sessions[this.sessions.length - 1];
    return last && last.endedAt === undefined ? last : undefined;
  }

  private accrue(now: number): void {
    const session = this.current();
    if (!session) return;
    const added = this.openUnitMs(now);
    session.unitMs += added;
    this.closedUnitMs += added;
    this.since = now;
  }
}
