import type { LocalHandler, LocalLambdaContext } from "./workflow/index.ts";

/**
 * Fault injection for the soak and the fault tests: one Lambda invocation
 * that crashes part-way, as a process killed mid-batch does. The real handler
 * runs until `crashWhen` resolves, is then cut off through its abort signal
 * (so whatever it finished is written, as on a crash after those writes), and
 * the invocation fails with `Lambda.Unknown`, the error Step Functions
 * reports for a Lambda whose process exited before answering.
 */
export async function crashPartWay(
  real: LocalHandler,
  event: never,
  context: LocalLambdaContext,
  crashWhen: () => Promise<void>,
): Promise<never> {
  const crash = new AbortController();
  const running = Promise.resolve(
    real(event, {
      ...context,
      getRemainingTimeInMillis: () => context.getRemainingTimeInMillis(),
      signal: crash.signal,
    }),
  ).catch(() => undefined);
  await crashWhen();
  crash.abort(new Error("process crashed"));
  await running;
  throw Object.assign(new Error("Process exited before completing request"), {
    name: "Lambda.Unknown",
  });
}
