/**
 * One `abort` listener per signal, however many waiters share it.
 *
 * A batch shares one stop signal among every in-flight image: each waiting
 * for a rate-controller token or sleeping before a retry. Each adding its own
 * listener put more than ten on one signal as soon as calls got slower (more
 * in flight), and Node warned of a leak (MaxListenersExceededWarning). The
 * waiters subscribe here instead: the signal carries a single listener while
 * any waiter is subscribed, none otherwise.
 */

const subscribers = new WeakMap<AbortSignal, { callbacks: Set<() => void>; fire: () => void }>();

/** Calls `callback` once when `signal` aborts; the returned function unsubscribes. */
export function onAbort(signal: AbortSignal, callback: () => void): () => void {
  let entry = subscribers.get(signal);
  if (!entry) {
    const callbacks = new Set<() => void>();
    const fire = () => {
      subscribers.delete(signal);
      for (const subscriber of [...callbacks]) subscriber();
    };
    entry = { callbacks, fire };
    subscribers.set(signal, entry);
    signal.addEventListener("abort", fire, { once: true });
  }
  const { callbacks, fire } = entry;
  const once = () => {
    callbacks.delete(once);
    callback();
  };
  callbacks.add(once);
  return () => {
    callbacks.delete(once);
    if (callbacks.size === 0 && subscribers.get(signal)?.callbacks === callbacks) {
      subscribers.delete(signal);
      signal.removeEventListener("abort", fire);
    }
  };
}
