/** What a batch counts as it goes, and its output once every item has an outcome. */
import type { RawBatchOutput } from "./batch-output.ts";
import type { BatchContext, ImageRef, ImageResultRecord, TimelinePoint } from "./shapes.ts";

/** What became of one item. `undefined` in the outcome list means it was never started. */
export type ItemOutcome =
  | { kind: "done"; record: ImageResultRecord; resumed: boolean }
  | { kind: "undone"; error?: unknown };

/** Counts of Rekognition calls, overall and per wall-clock second. */
export class CallTally {
  calls = 0;
  throttled = 0;
  retried = 0;
  private readonly perSecond = new Map<number, TimelinePoint>();

  record(now: number, throttled: boolean): void {
    this.calls += 1;
    if (throttled) this.throttled += 1;
    const t = Math.floor(now / 1000);
    let point = this.perSecond.get(t);
    if (!point) {
      point = { t, accepted: 0, throttled: 0 };
      this.perSecond.set(t, point);
    }
    if (throttled) point.throttled += 1;
    else point.accepted += 1;
  }

  timeline(): TimelinePoint[] {
    return [...this.perSecond.values()].sort((a, b) => a.t - b.t);
  }
}

export function summarize(
  context: BatchContext,
  items: ImageRef[],
  outcomes: (ItemOutcome | undefined)[],
  tally: CallTally,
  startedAt: number,
  endedAt: number,
): RawBatchOutput {
  const output: RawBatchOutput = {
    runId: context.runId,
    items: items.length,
    succeeded: 0,
    failed: 0,
    unreadable: 0,
    resumed: 0,
    failures: [],
    labels: {},
    calls: tally.calls,
    throttled: tally.throttled,
    retried: tally.retried,
    startedAt: new Date(startedAt).toISOString(),
    endedAt: new Date(endedAt).toISOString(),
    timeline: tally.timeline(),
  };
  for (const outcome of outcomes) {
    if (outcome?.kind !== "done") continue;
    const { record } = outcome;
    if (outcome.resumed) output.resumed += 1;
    if (record.status === "unreadable") {
      output.unreadable = (output.unreadable ?? 0) + 1;
    } else if (record.status === "succeeded") {
      output.succeeded += 1;
      for (const name of new Set(record.labels.map((label) => label.Name))) {
        output.labels[name] = (output.labels[name] ?? 0) + 1;
      }
    } else {
      output.failed += 1;
      output.failures.push({
        key: record.image.key,
        error: record.error?.name ?? "Unknown",
        message: record.error?.message ?? "",
      });
    }
  }
  return output;
}
