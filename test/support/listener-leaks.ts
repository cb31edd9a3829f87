/**
 * Fails the test during which Node warns of an event-listener leak
 * (MaxListenersExceededWarning: more than ten listeners on one emitter or
 * AbortSignal). Such a warning used to scroll past in the suite's output; the
 * cause is a listener added per call and never removed, to be fixed where it
 * is added, not by raising the limit.
 */
import { afterEach, expect } from "vitest";

const leaks: string[] = [];

process.on("warning", (warning) => {
  if (warning.name === "MaxListenersExceededWarning") leaks.push(warning.message);
});

afterEach(async () => {
  // Node emits process warnings on the next tick.
  await new Promise((resolve) => setImmediate(resolve));
  expect(leaks.splice(0), "event-listener leak warnings").toEqual([]);
});
