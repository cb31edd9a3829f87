import type { AvailabilityZones } from "./zones.ts";

export type UnitState = "starting" | "in-service" | "replacing";

export interface InferenceUnit {
  id: number;
  zone: string;
  state: UnitState;
}

/**
 * The inference units of one model version, spread round-robin over the
 * Availability Zones. A unit serves when it is in service and its zone is up.
 */
export class UnitPool {
  private units: InferenceUnit[] = [];
  private nextId = 1;

  constructor(private readonly zones: AvailabilityZones) {}

  list(): InferenceUnit[] {
    return this.units.map((unit) => ({ ...unit }));
  }

  get size(): number {
    return this.units.length;
  }

  inServiceCount(): number {
    return this.units.filter((unit) => unit.state === "in-service" && this.zones.isUp(unit.zone))
      .length;
  }

  /** Adds units in `state`, each in the up zone holding the fewest units (then the first). */
  add(count: number, state: UnitState): InferenceUnit[] {
    const added: InferenceUnit[] = [];
    for (let i = 0; i < count; i++) {
      const unit = { id: this.nextId++, zone: this.leastLoadedZone(), state };
      this.units.push(unit);
      added.push(unit);
    }
    return added;
  }

  /** Removes `count` units, those not serving first, newest first. */
  remove(count: number): InferenceUnit[] {
    const rank = (unit: InferenceUnit) =>
      unit.state === "in-service" && this.zones.isUp(unit.zone) ? 1 : 0;
    const victims = [...this.units]
      .sort((a, b) => rank(a) - rank(b) || b.id - a.id)
      .slice(0, Math.max(0, count));
    const ids = new Set(victims.map((unit) => unit.id));
    this.units = this.units.filter((unit) => !ids.has(unit.id));
    return victims;
  }

  setState(id: number, state: UnitState): boolean {
    const unit = this.units.find((candidate) => candidate.id === id);
    if (!unit) return false;
    unit.state = state;
    return true;
  }

  /** Puts every unit in service (the model has just become RUNNING). */
  allInService(): void {
    for (const unit of this.units) unit.state = "in-service";
  }

  /** The serving unit to fail: in `zone` if given, else the newest one. */
  pickServing(zone?: string): InferenceUnit | undefined {
    const serving = this.units.filter(
      (unit) =>
        unit.state === "in-service" &&
        this.zones.isUp(unit.zone) &&
        (zone === undefined || unit.zone === zone),
    );
    return serving[serving.length - 1];
  }

  clear(): void {
    this.units = [];
  }

  private leastLoadedZone(): string {
    const up = this.zones.names.filter((zone) => this.zones.isUp(zone));
    const candidates = up.length > 0 ? up : this.zones.names;
    let best = candidates[0] as string;
    let bestCount = Number.POSITIVE_INFINITY;
    for (const zone of candidates) {
      const count = this.units.filter((unit) => unit.zone === zone).length;
      if (count < bestCount) {
        best = zone;
        bestCount = count;
      }
    }
    return best;
  }
}
