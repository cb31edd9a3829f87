import type { Clock } from "../../../src/runtime.ts";

/**
 * Delayed actions on the injected clock that can all be cancelled at once,
 * so stopping a model (or closing the emulator) leaves nothing behind that
 * could fire later or keep the process alive.
 */
export class Timers {
  private readonly controllers = new Set<AbortController>();

  constructor(private readonly clock: Clock) {}

  /** Runs `action` after `ms`; the returned function cancels it. */
  after(ms: number, action: () => void): () => void {
    const controller = new AbortController();
    this.controllers.add(controller);
    this.clock.sleep(Math.max(0, ms), controller.signal).then(
      () => {
        this.controllers.delete(controller);
        if (!controller.signal.aborted) action();
      },
      () => this.controllers.delete(controller),
    );
    return () => controller.abort();
  }

  /** Runs `action` every `ms` until cancelled. */
  every(ms: number, action: () => void): () => void {
    let cancelled = false;
    let cancelCurrent = () => {};
    const schedule = () => {
      cancelCurrent = this.after(ms, () => {
        if (cancelled) return;
        action();
        schedule();
      });
    };
    schedule();
    return () => {
      cancelled = true;
      cancelCurrent();
    };
  }

  /** A one-off wait (e.g. a call's latency); rejects when `cancelAll` runs first. */
  sleep(ms: number): Promise<void> {
    const controller = new AbortController();
    this.controllers.add(controller);
    return this.clock
      .sleep(Math.max(0, ms), controller.signal)
      .finally(() => this.controllers.delete(controller));
  }

  cancelAll(): void {
    for (const controller of this.controllers) controller.abort(new Error("cancelled"));
    this.controllers.clear();
  }
}
