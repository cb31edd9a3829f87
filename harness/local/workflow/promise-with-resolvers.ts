/**
 * aws-local-stepfunctions calls `Promise.withResolvers` (Node >= 22). Node 20
 * lacks it, so it is added here, once, and only when missing. Importing this
 * module is enough.
 */

interface Resolvers<T> {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
}

type PromiseWithResolvers = { withResolvers?: <T>() => Resolvers<T> };

export function ensurePromiseWithResolvers(): void {
  const promiseConstructor = Promise as unknown as PromiseWithResolvers;
  if (typeof promiseConstructor.withResolvers === "function") return;
  Object.defineProperty(Promise, "withResolvers", {
    configurable: true,
    writable: true,
    value<T>(): Resolvers<T> {
      let resolve!: Resolvers<T>["resolve"];
      let reject!: Resolvers<T>["reject"];
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

ensurePromiseWithResolvers();
