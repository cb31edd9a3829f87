import type { RateController } from "../../src/rate-controller.ts";
import type { FakeClock } from "./fake-clock.ts";

/**
 * Workers sharing one model, on a fake clock: the model is a token bucket of
 * `capacityTps` holding one second of burst (as the emulator's); each worker
 * has its own controller and `items` to get accepted, `slots` calls in flight,
 * each call taking `latencyMs`. A throttled call is sent again. Deterministic.
 */
export interface SimulationResult {
  accepted: number;
  throttled: number;
  /** When each worker got its last item accepted, ms from the start. */
  finishedAt: number[];
  /** Accepted calls per whole second from the start. */
  perSecond: number[];
  /** Throttled calls per whole second from the start. */
  throttledPerSecond: number[];
}

export async function simulateWorkers(opts: {
  clock: FakeClock;
  capacityTps: number;
  controllers: RateController[];
  items: number[];
  slots?: number;
  latencyMs?: number;
  maxMs?: number;
  /**
   * Each worker runs its items in batches of this many: a batch's calls all
   * end before the next batch starts, `batchGapMs` later (the child
   * execution's start, the invocation, the result part's write), and the next
   * batch takes the controller over (`batchEnded`, then `newBatch`), as a
   * warm Lambda's pooled controller is handed back and taken again.
   */
  batchSize?: number;
  batchGapMs?: number;
}): Promise<SimulationResult> {
  const { clock, capacityTps } = opts;
  const start = clock.now();
  let modelTokens = capacityTps;
  let modelAt = start;
  const admits = () => {
    const now = clock.now();
    modelTokens = Math.min(capacityTps, modelTokens + ((now - modelAt) / 1000) * capacityTps);
    modelAt = now;
    if (modelTokens < 1) return false;
    modelTokens -= 1;
    return true;
  };
  const result: SimulationResult = {
    accepted: 0,
    throttled: 0,
    finishedAt: [],
    perSecond: [],
    throttledPerSecond: [],
  };
  const second = () => Math.floor((clock.now() - start) / 1000);
  const left = [...opts.items];
  let running = opts.controllers.length;
  const slot = async (worker: number, rate: RateController, batch: { left: number }) => {
    while (batch.left > 0) {
      batch.left -= 1;
      left[worker] = (left[worker] ?? 0) - 1;
      for (;;) {
        const grantedAt = await rate.acquire();
        if (opts.latencyMs) await clock.sleep(opts.latencyMs);
        if (admits()) break;
        result.throttled += 1;
        result.throttledPerSecond[second()] = (result.throttledPerSecond[second()] ?? 0) + 1;
        rate.onThrottle(grantedAt);
      }
      result.accepted += 1;
      result.perSecond[second()] = (result.perSecond[second()] ?? 0) + 1;
    }
  };
  const workers = opts.controllers.map(async (rate, worker) => {
    for (let first = true; (left[worker] ?? 0) > 0; first = false) {
      if (!first) {
        rate.batchEnded?.();
        await clock.sleep(opts.batchGapMs ?? 0);
        rate.newBatch?.();
      }
      const batch = {
        left: Math.min(left[worker] ?? 0, opts.batchSize ?? Number.POSITIVE_INFINITY),
      };
      await Promise.all(Array.from({ length: opts.slots ?? 4 }, () => slot(worker, rate, batch)));
    }
    result.finishedAt[worker] = clock.now() - start;
    running -= 1;
  });
  await clock.advanceUntil(() => running === 0, 10, opts.maxMs ?? 3_600_000);
  await Promise.all(workers);
  for (let i = 0; i < result.perSecond.length; i++) {
    result.perSecond[i] ??= 0;
    result.throttledPerSecond[i] ??= 0;
  }
  return result;
}
