/**
 * The Region's Availability Zones, shared by every model: a zone outage takes
 * out the units of all models placed there.
 */
export class AvailabilityZones {
  readonly names: readonly string[];
  private readonly down = new Set<string>();

  constructor(region: string, count: number) {
    this.names = Array.from({ length: count }, (_, i) => `${region}${String.fromCharCode(97 + i)}`);
  }

  isUp(zone: string): boolean {
    return !this.down.has(zone);
  }

  /** Marks a zone down; returns false when it already was. Unknown names throw. */
  fail(zone: string): boolean {
    this.assertKnown(zone);
    if (this.down.has(zone)) return false;
    this.down.add(zone);
    return true;
  }

  restore(zone: string): boolean {
    this.assertKnown(zone);
    return this.down.delete(zone);
  }

  restoreAll(): void {
    this.down.clear();
  }

  downZones(): string[] {
    return this.names.filter((zone) => this.down.has(zone));
  }

  private assertKnown(zone: string): void {
    if (!this.names.includes(zone)) {
      throw new Error(`Unknown availability zone "${zone}"; known: ${this.names.join(", ")}`);
    }
  }
}
