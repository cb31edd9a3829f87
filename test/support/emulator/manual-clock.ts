import type { Clock } from "../../../src/runtime.ts";

interface Sleeper {
  due: number;
  resolve: () => void;
}

/**
 * A clock that moves only when the test says so. `advance` wakes the sleepers
 * that fall due in order, letting the code they resume run (and schedule
 * more) before moving on, so chains of delays behave as in real time.
 */
export class ManualClock implements Clock {
  private time: number;
  private sleepers: Sleeper[] = [];

  constructor(start = 1_700_000_000_000) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const sleeper: Sleeper = { due: this.time + Math.max(0, ms), resolve };
      this.sleepers.push(sleeper);
      signal?.addEventListener(
        "abort",
        () => {
          this.sleepers = this.sleepers.filter((other) => other !== sleeper);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  /** Moves time forward by `ms`, waking every sleeper due on the way. */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    for (;;) {
      await settle();
      const next = this.sleepers
        .filter((sleeper) => sleeper.due <= target)
        .sort((a, b) => a.due - b.due)[0];
      if (!next) break;
      this.time = Math.max(this.time, next.due);
      this.sleepers = this.sleepers.filter((sleeper) => sleeper !== next);
      next.resolve();
    }
    this.time = target;
    await settle();
  }

  /** Sleepers still waiting (a closed emulator must leave none). */
  get pending(): number {
    return this.sleepers.length;
  }
}

/** Lets resumed promise chains run before time moves again. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
