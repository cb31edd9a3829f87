/**
 * The tail of a run: from the moment the first worker has no more work to the
 * end of the last batch. While it lasts, the workers still busy are all that
 * uses the model, and every idle worker's share of the capacity is billed for
 * nothing unless the others take it over.
 */

/** A batch's span, as its output records it (ISO 8601). */
export interface BatchSpan {
  startedAt: string;
  endedAt: string;
}

export interface RunTail {
  /** ISO 8601: the first worker found no batch left to take. */
  startedAt: string;
  /** ISO 8601: the last batch ended. */
  endedAt: string;
  seconds: number;
  /** From the first batch's start to the last batch's end. */
  processingSeconds: number;
  /** `seconds / processingSeconds` (0..1). */
  share: number;
}

/**
 * Computes the tail from the batches' spans. A worker runs batch after batch
 * as long as the map has one left, so once the last batch has started, the
 * first batch to end leaves its worker idle for good: the tail starts at the
 * earliest end after the latest start. `undefined` with no batches or
 * unreadable times.
 */
export function tailOf(batches: readonly BatchSpan[]): RunTail | undefined {
  const spans = batches
    .map((b) => ({ start: Date.parse(b.startedAt), end: Date.parse(b.endedAt) }))
    .filter((s) => Number.isFinite(s.start) && Number.isFinite(s.end) && s.end >= s.start);
  if (spans.length === 0) return undefined;
  const firstStart = Math.min(...spans.map((s) => s.start));
  const lastStart = Math.max(...spans.map((s) => s.start));
  const lastEnd = Math.max(...spans.map((s) => s.end));
  // Strictly after: the batch whose end freed the worker that took the last batch does not count.
  const tailStart = Math.min(lastEnd, ...spans.filter((s) => s.end > lastStart).map((s) => s.end));
  const processingMs = lastEnd - firstStart;
  const tailMs = lastEnd - tailStart;
  return {
    startedAt: new Date(tailStart).toISOString(),
    endedAt: new Date(lastEnd).toISOString(),
    seconds: tailMs / 1000,
    processingSeconds: processingMs / 1000,
    share: processingMs > 0 ? tailMs / processingMs : 0,
  };
}
