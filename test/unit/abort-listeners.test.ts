import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { onAbort } from "../../src/abort-subscriptions.ts";
import { AdaptiveRateController } from "../../src/adaptive-rate-controller.ts";
import { systemClock } from "../../src/runtime.ts";

/**
 * Many waiters on one batch signal must not pile listeners onto it: with
 * `--latency 400` more than ten images were in flight and Node warned
 * "MaxListenersExceededWarning: 11 abort listeners added to [AbortSignal]".
 */

const listeners = (signal: AbortSignal) => getEventListeners(signal, "abort").length;
const WAITERS = 50;

describe("abort listeners on a shared signal", () => {
  it("50 rate-controller waiters put one listener on the signal, none once served", async () => {
    const stop = new AbortController();
    // 1 TPS, no burst: every waiter after the first waits.
    const rate = new AdaptiveRateController({ plannedTps: 1, clock: systemClock, burst: 1 });
    const waits = Array.from({ length: WAITERS }, () =>
      rate.acquire(stop.signal).then(
        () => "granted",
        () => "aborted",
      ),
    );
    expect(listeners(stop.signal)).toBe(1);
    stop.abort(new Error("stop"));
    const outcomes = await Promise.all(waits);
    expect(outcomes.filter((outcome) => outcome === "aborted")).toHaveLength(WAITERS - 1);
    expect(listeners(stop.signal)).toBe(0);
  });

  it("50 concurrent sleeps put one listener on the signal, none once they end", async () => {
    const stop = new AbortController();
    const sleeps = Array.from({ length: WAITERS }, (_, index) =>
      systemClock.sleep(index < 10 ? 1 : 60_000, stop.signal).then(
        () => "slept",
        () => "aborted",
      ),
    );
    expect(listeners(stop.signal)).toBe(1);
    await Promise.all(sleeps.slice(0, 10));
    expect(listeners(stop.signal)).toBe(1);
    stop.abort(new Error("stop"));
    expect(await Promise.all(sleeps.slice(10))).toEqual(Array(WAITERS - 10).fill("aborted"));
    expect(listeners(stop.signal)).toBe(0);
  });

  it("unsubscribing the last waiter removes the listener; a later waiter adds it back", () => {
    const stop = new AbortController();
    const calls: string[] = [];
    const first = onAbort(stop.signal, () => calls.push("first"));
    const second = onAbort(stop.signal, () => calls.push("second"));
    first();
    expect(listeners(stop.signal)).toBe(1);
    second();
    expect(listeners(stop.signal)).toBe(0);
    onAbort(stop.signal, () => calls.push("third"));
    expect(listeners(stop.signal)).toBe(1);
    stop.abort();
    stop.abort();
    expect(calls).toEqual(["third"]);
  });
});
