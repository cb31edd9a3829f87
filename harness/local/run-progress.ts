import type { Plan } from "../../src/shapes.ts";
import type { LocalStack } from "./local-stack.ts";
import { reconcile } from "./reconcile.ts";

/**
 * How far a run got, from the ledger. An aborted execution writes no report,
 * so without this its summary said nothing of the images it had analysed and
 * of those still pending.
 */
export interface RunProgress {
  pending: number;
  succeeded: number;
  failed: number;
  /** Pending at plan time and not analysed by this run: the next run takes them. */
  stillPending: number;
}

export async function runProgressFromLedger(
  stack: LocalStack,
  plan: Plan,
  prefixes: { imagesPrefix: string; resultsPrefix: string },
): Promise<RunProgress> {
  const books = await reconcile({
    s3: stack.s3,
    imagesBucket: stack.imagesBucket,
    imagesPrefix: prefixes.imagesPrefix,
    resultsBucket: stack.resultsBucket,
    resultsPrefix: prefixes.resultsPrefix,
    runIds: [plan.runId],
  });
  let succeeded = 0;
  let failed = 0;
  for (const record of books.ledger.values()) {
    if (record.runId !== plan.runId) continue;
    if (record.status === "succeeded") succeeded += 1;
    else failed += 1;
  }
  const pending = plan.counts.pending;
  return { pending, succeeded, failed, stillPending: Math.max(0, pending - succeeded - failed) };
}

export function formatRunProgress(progress: RunProgress): string {
  return `Images      ${progress.pending} pending at plan: ${progress.succeeded} succeeded, ${progress.failed} failed before the stop, ${progress.stillPending} still pending (the next run takes them)`;
}
