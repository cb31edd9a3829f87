/**
 * The run's notification: the summary on success, the cause on failure.
 *
 * The Report Lambda only composes it; the workflow publishes it with the Step
 * Functions SNS integration (`arn:aws:states:::sns:publish`), so no SNS client
 * ships in the Lambdas and only the state machine's role may publish, to that
 * one topic. The topic is the deployment's optional `alertTopicArn`
 * (`ALERT_TOPIC_ARN`; empty: no notification).
 */

import { readableCause } from "./failure-cause.ts";
import { modelVersionName } from "./metrics.ts";
import type { RunFailure, RunSummary } from "./report/run-summary.ts";
import type { RunReportResult } from "./report/summary.ts";

/** What the workflow's Notify states pass to SNS Publish. */
export interface RunNotification {
  topicArn: string;
  /** SNS: at most 100 printable ASCII characters, no line breaks. */
  subject: string;
  message: string;
}

const SUBJECT_LIMIT = 100;

/** The alert topic from the environment, or undefined when alerts are off. */
export function alertTopicFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const topic = env.ALERT_TOPIC_ARN?.trim();
  return topic ? topic : undefined;
}

/** Keeps a subject within what SNS accepts (printable ASCII, one line, 100 characters). */
export function snsSubject(text: string): string {
  const ascii = text
    .replace(/[^\x20-\x7e]+/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  return ascii.length <= SUBJECT_LIMIT ? ascii : `${ascii.slice(0, SUBJECT_LIMIT - 3)}...`;
}

/**
 * The notification for a finished run. `failure` is the caught error on the
 * failure path; `summary` adds throughput and cost when the report got that far.
 */
export function runNotification(opts: {
  topicArn: string;
  result: RunReportResult;
  summary?: RunSummary;
  failure?: RunFailure;
}): RunNotification {
  const { result, summary, failure } = opts;
  const c = result.counts;
  const model = summary ? ` (${modelVersionName(summary.projectVersionArn)})` : "";
  const lines = failure
    ? [
        `The weekly Rekognition batch run FAILED${model}.`,
        `Error: ${failure.Error}`,
        `Cause: ${readableCause(failure.Cause) || "no cause recorded"}`,
        "",
      ]
    : [`The weekly Rekognition batch run finished: ${result.outcome}${model}.`, ""];
  lines.push(
    `Images listed ${c.listed}, pending ${c.pending}, succeeded ${c.succeeded}, failed ${c.failed}, skipped ${c.skipped}, already done ${c.alreadyDone}.`,
    result.reconciled ? "Counts reconcile." : "Counts do NOT reconcile: see the report.",
  );
  if (summary) {
    lines.push(
      `Achieved ${summary.throughput.observed.meanTps.toFixed(2)} TPS; ${summary.throughput.throttled} throttled calls.`,
      `Billed (estimate): ${summary.billing.inferenceHours.toFixed(3)} inference hours, USD ${summary.billing.cost.toFixed(2)}.`,
    );
    if (summary.model?.stopped === false && summary.model.owned) {
      lines.push("WARNING: the model this run started was not stopped. Check it now.");
    }
  }
  lines.push(
    "",
    `Summary: s3://${result.bucket}/${result.summaryKey}`,
    `Report:  s3://${result.bucket}/${result.reportKey}`,
  );
  const subject = failure
    ? `Rekognition batch FAILED: ${failure.Error}`
    : `Rekognition batch ${result.outcome}: ${c.succeeded}/${c.pending} images, ${c.failed} failed`;
  return { topicArn: opts.topicArn, subject: snsSubject(subject), message: lines.join("\n") };
}
