/**
 * Evenly spaced keys of a stream too long to hold: every `stride`-th key,
 * the stride doubling (and every other sample dropped) whenever more than
 * `max` samples are held. Whatever the stream's length, between max/2 and
 * max keys are kept (all of them for a short stream), spaced evenly by
 * position. A sharded Plan cuts the key space at such samples of the ledger.
 */
export class KeySampler {
  private stride = 1;
  private seen = 0;
  private readonly kept: string[] = [];

  constructor(private readonly max = 1024) {
    if (!Number.isInteger(max) || max < 2)
      throw new RangeError(`max must be 2 or more, got ${max}`);
  }

  add(key: string): void {
    if (this.seen % this.stride === 0) {
      this.kept.push(key);
      if (this.kept.length > this.max) {
        // Keep samples 0, 2, 4, ...: still every (2 x stride)-th key.
        let write = 0;
        for (let read = 0; read < this.kept.length; read += 2) {
          this.kept[write++] = this.kept[read] as string;
        }
        this.kept.length = write;
        this.stride *= 2;
      }
    }
    this.seen += 1;
  }

  /** How many keys went past. */
  get count(): number {
    return this.seen;
  }

  /** The samples, in the order they came. */
  get samples(): string[] {
    return [...this.kept];
  }
}
