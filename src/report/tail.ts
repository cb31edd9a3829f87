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

/** The most spans running at one moment: the workers of the Map (its children start together). */
function mostAtOnce(spans: readonly { start: number; end: number }[]): number {
  const edges = spans.flatMap((s) => [
    { at: s.start, step: 1 },
    { at: s.end, step: -1 },
  ]);
  // At a tie an end comes first: a worker's next batch never overlaps its last.
  edges.sort((a, b) => a.at - b.at || a.step - b.step);
  let running = 0;
  let most = 0;
  for (const edge of edges) {
    running += edge.step;
    most = Math.max(most, running);
  }
  return most;
}

/**
 * Computes the tail from the batches' spans. The Map hands each worker that
 * ends a batch the next one while any is left: of all batch ends in time
 * order, the first (batches - workers) each led to a batch still to start,
 * and the next one left its worker with nothing. Counting ends, rather than
 * taking the first end after the last start, also catches a worker that ends
 * between the last batch being handed out and that batch's start (a child's
 * start and an invocation take a moment). `undefined` with no batches or
 * unreadable times.
 */
export function tailOf(batches: readonly BatchSpan[]): RunTail | undefined {
  const spans = batches
    .map((b) => ({ start: Date.parse(b.startedAt), end: Date.parse(b.endedAt) }))
    .filter((s) => Number.isFinite(s.start) && Number.isFinite(s.end) && s.end >= s.start);
  if (spans.length === 0) return undefined;
  const firstStart = Math.min(...spans.map((s) => s.start));
  const ends = spans.map((s) => s.end).sort((a, b) => a - b);
  const lastEnd = ends.at(-1) as number;
  const tailStart = ends[Math.max(0, spans.length - mostAtOnce(spans))] as number;
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
