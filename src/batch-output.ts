/**
 * Keeps a batch's output (a Map child's state output) far under Step
 * Functions' 256 KiB whatever the batch met: every image failing with a long
 * message, 1,024-byte keys, hundreds of long label names, a 900 s timeline.
 * Counts stay exact; only the lists are cut, and each cut is counted. The
 * ledger keeps every image's full record, so nothing is lost by the cut.
 */
import type { BatchOutput, ImageFailure, TimelinePoint } from "./shapes.ts";
import { BATCH_OUTPUT_BUDGET_BYTES, jsonBytes, truncateText } from "./state-limits.ts";

/** At most this many failed images are named in a batch's output. */
export const MAX_FAILURE_SAMPLE = 25;
/** ... and they take at most this many bytes. */
export const FAILURE_SAMPLE_BYTES = 48 * 1024;
/** An error message in the sample is cut to this (the ledger record keeps it whole). */
export const MAX_FAILURE_MESSAGE_CHARS = 300;
const MAX_ERROR_NAME_CHARS = 100;
/** S3's longest key is 1,024 bytes; anything longer did not come from a listing. */
const MAX_KEY_CHARS = 1024;
/** The label histogram takes at most this many bytes (the most frequent labels are kept). */
export const LABELS_BYTES = 64 * 1024;
/** A Lambda runs at most 900 s, so a per-second timeline has ~901 points; more means a clock jump. */
export const MAX_TIMELINE_POINTS = 1000;

/** Everything a batch learned, unbounded, before `boundBatchOutput`. */
export interface RawBatchOutput extends Omit<BatchOutput, "failuresOmitted" | "labelsOmitted"> {}

function sampleFailure(failure: ImageFailure): ImageFailure {
  return {
    key: truncateText(failure.key, MAX_KEY_CHARS),
    error: truncateText(failure.error, MAX_ERROR_NAME_CHARS),
    message: truncateText(failure.message, MAX_FAILURE_MESSAGE_CHARS),
  };
}

function sampleFailures(failures: readonly ImageFailure[]): ImageFailure[] {
  const sample: ImageFailure[] = [];
  let bytes = 2;
  for (const failure of failures) {
    if (sample.length >= MAX_FAILURE_SAMPLE) break;
    const entry = sampleFailure(failure);
    const size = jsonBytes(entry) + 1;
    if (bytes + size > FAILURE_SAMPLE_BYTES) break;
    sample.push(entry);
    bytes += size;
  }
  return sample;
}

/** The most frequent labels (ties by name) that fit in `LABELS_BYTES`. */
function topLabels(labels: Record<string, number>): Record<string, number> {
  const kept: Record<string, number> = {};
  let bytes = 2;
  const ranked = Object.entries(labels).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  for (const [name, count] of ranked) {
    const size = jsonBytes(name) + 1 + jsonBytes(count) + 1;
    if (bytes + size > LABELS_BYTES) break;
    kept[name] = count;
    bytes += size;
  }
  return kept;
}

/**
 * Merges a timeline into at most `maxPoints` points of equal width (each
 * point's `t` is its first second), keeping the totals. Only a clock that
 * jumps makes a batch's per-second timeline this long.
 */
export function coarsenTimeline(
  timeline: readonly TimelinePoint[],
  maxPoints = MAX_TIMELINE_POINTS,
): TimelinePoint[] {
  if (timeline.length <= maxPoints) return [...timeline];
  const first = Math.min(...timeline.map((p) => p.t));
  const last = Math.max(...timeline.map((p) => p.t));
  const width = Math.ceil((last - first + 1) / maxPoints);
  const buckets = new Map<number, TimelinePoint>();
  for (const point of timeline) {
    const t = first + Math.floor((point.t - first) / width) * width;
    const bucket = buckets.get(t) ?? { t, accepted: 0, throttled: 0 };
    bucket.accepted += point.accepted;
    bucket.throttled += point.throttled;
    buckets.set(t, bucket);
  }
  return [...buckets.values()].sort((a, b) => a.t - b.t);
}

/** The batch output as returned to Step Functions: exact counts, bounded lists. */
export function boundBatchOutput(raw: RawBatchOutput): BatchOutput {
  const failures = sampleFailures(raw.failures);
  const labels = topLabels(raw.labels);
  const output: BatchOutput = {
    ...raw,
    failures,
    failuresOmitted: raw.failed - failures.length,
    labels,
    labelsOmitted: Object.keys(raw.labels).length - Object.keys(labels).length,
    timeline: coarsenTimeline(raw.timeline),
  };
  // The budgets above add up to well under the limit; this is the backstop
  // should a field grow that they do not cover.
  while (jsonBytes(output) > BATCH_OUTPUT_BUDGET_BYTES && output.failures.length > 0) {
    output.failures.pop();
    output.failuresOmitted += 1;
  }
  if (jsonBytes(output) > BATCH_OUTPUT_BUDGET_BYTES) {
    output.labelsOmitted += Object.keys(output.labels).length;
    output.labels = {};
    output.timeline = coarsenTimeline(output.timeline, 100);
  }
  return output;
}
