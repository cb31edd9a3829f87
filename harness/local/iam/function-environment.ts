import { AsyncLocalStorage } from "node:async_hooks";

/**
 * On AWS each Lambda runs in its own sandbox, whose environment carries the
 * credentials of the function's own role. Locally the functions share one
 * process, so the harness gives each invocation its own view of the variables
 * that differ (the access key id): `process.env` is wrapped once in a proxy
 * that, inside {@link runWithEnvironment}, answers those variables from the
 * invocation's scope and everything else from the real environment. The
 * product's clients stay plain SDK clients configured from the environment:
 * the SDK's environment credential provider reads `process.env` when a client
 * first needs credentials, which happens inside the invocation.
 */

type Overrides = Readonly<Record<string, string>>;

const scope = new AsyncLocalStorage<Overrides>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  const real = process.env;
  const overridden = (key: string | symbol): string | undefined => {
    if (typeof key !== "string") return undefined;
    const overrides = scope.getStore();
    return overrides && Object.hasOwn(overrides, key) ? overrides[key] : undefined;
  };
  process.env = new Proxy(real, {
    get(target, key, receiver) {
      return overridden(key) ?? Reflect.get(target, key, receiver);
    },
    set(target, key, value) {
      return Reflect.set(target, key, value);
    },
    has(target, key) {
      return overridden(key) !== undefined || Reflect.has(target, key);
    },
    getOwnPropertyDescriptor(target, key) {
      const value = overridden(key);
      if (value === undefined) return Reflect.getOwnPropertyDescriptor(target, key);
      return { value, writable: true, enumerable: true, configurable: true };
    },
  });
}

/**
 * Runs `body` (a handler invocation, and everything it starts) seeing
 * `overrides` in `process.env`; outside it, and for other variables, the
 * environment is unchanged.
 */
export function runWithEnvironment<T>(overrides: Overrides, body: () => T): T {
  install();
  return scope.run(overrides, body);
}
