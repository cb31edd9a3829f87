/**
 * The event a finished run puts on the account's default EventBridge bus, so
 * that other stacks can react (load the week's results, open a ticket) without
 * polling the results bucket.
 *
 * The Report Lambda only composes it; the workflow puts it with the Step
 * Functions EventBridge integration (`arn:aws:states:::events:putEvents`), so
 * only the state machine's role may put events, on the default bus only, and
 * Step Functions adds the execution and state machine ARNs to the event's
 * `resources`. Putting it is best effort: the run's outcome never depends on it.
 */

import type { RunFailure, RunSummary } from "./report/run-summary.ts";
import type { RunReportResult } from "./report/summary.ts";
import { runFiles } from "./result-keys.ts";
import type { PartStatus } from "./result-parts.ts";
import { truncateText } from "./state-limits.ts";

/** The event's `source`: the project's name. */
export const RUN_EVENT_SOURCE = "rekognition-weekly-batch";
/** The event's `detail-type`. */
export const RUN_EVENT_DETAIL_TYPE = "Weekly Batch Run Completed";

/**
 * The detail is kept well under EventBridge's 256 KB per entry, and small
 * enough to ride in the workflow state (256 KiB for the whole state) next to
 * the plan: the label counts are what can grow, so only they are cut.
 */
export const MAX_RUN_EVENT_DETAIL_BYTES = 32 * 1024;
/** A failure's cause is cut to this many characters; the report has it whole. */
export const MAX_EVENT_CAUSE_CHARS = 1000;

export interface RunEventDetail {
  /** Bump when a field changes meaning or goes away; new fields do not bump it. */
  version: 1;
  runId: string;
  executionId: string;
  outcome: RunReportResult["outcome"];
  /** False when the run's counts do not add up (see the report's discrepancies). */
  reconciled: boolean;
  /** Present on the failure path: the caught error (cause cut to `MAX_EVENT_CAUSE_CHARS`). */
  failure?: { error: string; cause?: string };
  projectVersionArn?: string;
  counts: RunReportResult["counts"];
  /** Images per label, most frequent first; `labelsOmitted` say how many were cut to bound the event. */
  labels: { label: string; images: number }[];
  labelsOmitted: number;
  report: {
    bucket: string;
    summaryKey: string;
    reportKey: string;
    summaryUri: string;
    reportUri: string;
  };
  /**
   * The run's result parts (compressed JSON Lines), the folder the Athena
   * table reads, and what they hold as the report counted them: absent when
   * the report could not read them.
   */
  results: {
    bucket: string;
    prefix: string;
    uri: string;
    parts?: number;
    lines?: number;
    byStatus?: Record<PartStatus, number>;
  };
}

/** What the workflow passes to EventBridge PutEvents (one entry, default bus). */
export interface RunEvent {
  source: string;
  detailType: string;
  detail: RunEventDetail;
}

function byteLength(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), "utf8");
}

/**
 * The event for a finished run. `summary` adds the model and the label
 * counts when the report got that far; `failure` is the caught error on the
 * failure path. `resultsPrefix` is the deployment's (normalised) results prefix.
 */
export function runEvent(opts: {
  result: RunReportResult;
  runId: string;
  executionId: string;
  resultsPrefix: string;
  summary?: RunSummary;
  failure?: RunFailure;
  maxDetailBytes?: number;
}): RunEvent {
  const { result, summary, failure } = opts;
  const limit = opts.maxDetailBytes ?? MAX_RUN_EVENT_DETAIL_BYTES;
  const partsPrefix = runFiles.resultParts(opts.resultsPrefix, opts.runId);
  const written = summary?.resultParts;
  const detail: RunEventDetail = {
    version: 1,
    runId: opts.runId,
    executionId: opts.executionId,
    outcome: result.outcome,
    reconciled: result.reconciled,
    ...(failure
      ? {
          failure: {
            error: truncateText(String(failure.Error), 200),
            ...(failure.Cause !== undefined
              ? { cause: truncateText(String(failure.Cause), MAX_EVENT_CAUSE_CHARS) }
              : {}),
          },
        }
      : {}),
    ...(summary ? { projectVersionArn: summary.projectVersionArn } : {}),
    counts: result.counts,
    labels: [],
    labelsOmitted: 0,
    report: {
      bucket: result.bucket,
      summaryKey: result.summaryKey,
      reportKey: result.reportKey,
      summaryUri: `s3://${result.bucket}/${result.summaryKey}`,
      reportUri: `s3://${result.bucket}/${result.reportKey}`,
    },
    results: {
      bucket: result.bucket,
      prefix: partsPrefix,
      uri: `s3://${result.bucket}/${partsPrefix}`,
      ...(written
        ? { parts: written.parts, lines: written.lines, byStatus: { ...written.byStatus } }
        : {}),
    },
  };
  const labels = summary?.labels ?? [];
  // Most frequent first (as the summary sorts them): keep as many as fit.
  let budget = limit - byteLength(detail);
  let kept = 0;
  for (const entry of labels) {
    const cost = byteLength(entry) + 1;
    if (cost > budget) break;
    budget -= cost;
    kept += 1;
  }
  detail.labels = labels.slice(0, kept).map(({ label, images }) => ({ label, images }));
  detail.labelsOmitted = labels.length - kept;
  // Never throws: the workflow's PutEvents state reads the detail from this
  // step's output, and a missing path there would be a terminal error. The
  // fixed fields are bounded by S3's key limits and the cut cause (a few KB).
  return { source: RUN_EVENT_SOURCE, detailType: RUN_EVENT_DETAIL_TYPE, detail };
}
