import type { Clock } from "../../src/runtime.ts";

interface Sleeper {
  until: number;
  resolve: () => void;
}

/** Lets every pending promise callback run (a macrotask runs after all microtasks). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Real-time waits allowed per advanceUntil (~1 ms each), so a stuck test still fails. */
const MAX_REAL_WAITS = 10_000;

/**
 * A clock that only moves when told to. `advance` walks time forward sleeper
 * by sleeper, letting the code react at each wake-up before going further, so
 * what happens in a span of fake time is exact and independent of the machine.
 */
export class FakeClock implements Clock {
  private time: number;
  private sleepers: Sleeper[] = [];

  constructor(start = Date.UTC(2026, 0, 5, 6, 0, 0)) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const sleeper: Sleeper = {
        until: this.time + Math.max(0, ms),
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.sleepers = this.sleepers.filter((s) => s !== sleeper);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.sleepers.push(sleeper);
    });
  }

  /** Number of sleeps waiting. */
  get pending(): number {
    return this.sleepers.length;
  }

  /** Moves time forward by `ms`, waking sleepers in order of their wake-up time. */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    await settle();
    for (;;) {
      const next = this.sleepers.reduce<Sleeper | undefined>(
        (earliest, s) => (earliest === undefined || s.until < earliest.until ? s : earliest),
        undefined,
      );
      if (next === undefined || next.until > target) break;
      this.time = Math.max(this.time, next.until);
      this.sleepers = this.sleepers.filter((s) => s !== next);
      next.resolve();
      await settle();
    }
    this.time = target;
    await settle();
  }

  /** Advances in steps until `condition` holds; fails after `maxMs` of fake time. */
  async advanceUntil(condition: () => boolean, stepMs = 10, maxMs = 600_000): Promise<void> {
    const limit = this.time + maxMs;
    let realWaits = 0;
    while (!condition()) {
      if (this.time >= limit) throw new Error(`condition not met within ${maxMs} ms of fake time`);
      if (this.pending === 0 && realWaits < MAX_REAL_WAITS) {
        // Nobody sleeps on fake time: the code under test waits on real I/O
        // (a gzip in the thread pool, a stream), so let real time pass
        // instead of spending the fake-time budget on nothing.
        realWaits++;
        await new Promise((resolve) => setTimeout(resolve, 1));
        continue;
      }
      await this.advance(stepMs);
    }
  }
}
