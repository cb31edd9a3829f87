import { describe, expect, it } from "vitest";
import { eventEntryBytes, MAX_EVENT_ENTRY_BYTES } from "../../harness/local/local-eventbridge.ts";
import type { RunSummary } from "../../src/report/run-summary.ts";
import type { RunReportResult } from "../../src/report/summary.ts";
import {
  MAX_EVENT_CAUSE_CHARS,
  MAX_RUN_EVENT_DETAIL_BYTES,
  RUN_EVENT_DETAIL_TYPE,
  RUN_EVENT_SOURCE,
  runEvent,
} from "../../src/run-event.ts";

const result: RunReportResult = {
  bucket: "acme-results",
  summaryKey: "weekly/runs/r1/summary.json",
  reportKey: "weekly/runs/r1/report.html",
  outcome: "succeeded-with-failures",
  reconciled: true,
  counts: {
    listed: 12,
    pending: 10,
    skipped: 1,
    alreadyDone: 1,
    succeeded: 9,
    failed: 1,
    unreadable: 0,
    unaccounted: 0,
    replaced: 0,
    unreadableResults: 0,
    countsSource: "ledger",
    resumed: 0,
    batches: 2,
    failedBatches: 0,
  },
};

const VERSION_ARN =
  "arn:aws:rekognition:eu-west-1:111122223333:project/shelf/version/shelf.v1/1767225600000";

/** Only the fields the event reads: the rest of a summary does not matter here. */
function summaryWith(
  labels: RunSummary["labels"],
  resultParts?: RunSummary["resultParts"],
): RunSummary {
  return {
    projectVersionArn: VERSION_ARN,
    labels,
    ...(resultParts ? { resultParts } : {}),
  } as RunSummary;
}

/** What the report read from the run's parts: 10 lines in 2 parts. */
const PARTS: NonNullable<RunSummary["resultParts"]> = {
  bucket: "acme-results",
  prefix: "weekly/runs/r1/results/",
  parts: 2,
  lines: 10,
  byStatus: { succeeded: 9, failed: 1, unreadable: 0 },
};

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), "utf8");

describe("runEvent", () => {
  it("says who sent it, the outcome, the counts, the labels, where the report and the parts are and how many lines were written", () => {
    const event = runEvent({
      result,
      runId: "r1",
      executionId: "arn:aws:states:eu-west-1:111122223333:execution:m:e1",
      resultsPrefix: "weekly/",
      summary: summaryWith(
        [
          { label: "scratch", images: 5 },
          { label: "dent", images: 2 },
        ],
        PARTS,
      ),
    });
    expect(event.source).toBe(RUN_EVENT_SOURCE);
    expect(event.source).toBe("rekognition-weekly-batch");
    expect(event.detailType).toBe(RUN_EVENT_DETAIL_TYPE);
    expect(event.detail).toEqual({
      version: 1,
      runId: "r1",
      executionId: "arn:aws:states:eu-west-1:111122223333:execution:m:e1",
      outcome: "succeeded-with-failures",
      reconciled: true,
      projectVersionArn: VERSION_ARN,
      counts: result.counts,
      labels: [
        { label: "scratch", images: 5 },
        { label: "dent", images: 2 },
      ],
      labelsOmitted: 0,
      report: {
        bucket: "acme-results",
        summaryKey: "weekly/runs/r1/summary.json",
        reportKey: "weekly/runs/r1/report.html",
        summaryUri: "s3://acme-results/weekly/runs/r1/summary.json",
        reportUri: "s3://acme-results/weekly/runs/r1/report.html",
      },
      results: {
        bucket: "acme-results",
        prefix: "weekly/runs/r1/results/",
        uri: "s3://acme-results/weekly/runs/r1/results/",
        parts: 2,
        lines: 10,
        byStatus: { succeeded: 9, failed: 1, unreadable: 0 },
      },
    });
  });

  it("says nothing of the lines when the report could not read the parts", () => {
    const event = runEvent({
      result,
      runId: "r1",
      executionId: "e1",
      resultsPrefix: "weekly/",
      summary: summaryWith([{ label: "scratch", images: 5 }]),
    });
    expect(event.detail.results).toEqual({
      bucket: "acme-results",
      prefix: "weekly/runs/r1/results/",
      uri: "s3://acme-results/weekly/runs/r1/results/",
    });
  });

  it("carries the failure, its cause cut short (the report has it whole)", () => {
    const event = runEvent({
      result: { ...result, outcome: "failed" },
      runId: "r1",
      executionId: "e1",
      resultsPrefix: "",
      failure: { Error: "ModelStartFailed", Cause: "x".repeat(50_000) },
    });
    expect(event.detail.outcome).toBe("failed");
    expect(event.detail.failure?.error).toBe("ModelStartFailed");
    expect(Array.from(event.detail.failure?.cause ?? "").length).toBe(MAX_EVENT_CAUSE_CHARS);
    expect(event.detail.failure?.cause).toContain("more characters]");
    // No summary (the report did not get that far): no labels, no model.
    expect(event.detail.labels).toEqual([]);
    expect(event.detail).not.toHaveProperty("projectVersionArn");
    expect(event.detail.results.prefix).toBe("runs/r1/results/");
  });

  it("keeps the most frequent labels that fit and says how many it left out", () => {
    // 5,000 labels with 200-character names: about 1 MB of label counts.
    const labels = Array.from({ length: 5000 }, (_, i) => ({
      label: `${String(i).padStart(4, "0")}-${"\u00e9".repeat(195)}`,
      images: 10_000 - i,
    }));
    const event = runEvent({
      result,
      runId: "r1",
      executionId: "e1",
      resultsPrefix: "weekly/",
      summary: summaryWith(labels),
    });
    const detail = event.detail;
    expect(bytes(detail)).toBeLessThanOrEqual(MAX_RUN_EVENT_DETAIL_BYTES);
    expect(detail.labels.length).toBeGreaterThan(10);
    expect(detail.labels.length + detail.labelsOmitted).toBe(5000);
    expect(detail.labels).toEqual(labels.slice(0, detail.labels.length));
    // Nearly the whole budget is used: the labels are cut, not dropped.
    expect(bytes(detail)).toBeGreaterThan(MAX_RUN_EVENT_DETAIL_BYTES - 500);
  });

  it("stays within the bound with the longest names S3 and Step Functions allow", () => {
    const longKey = "k".repeat(1024);
    const event = runEvent({
      result: { ...result, bucket: "b".repeat(63), summaryKey: longKey, reportKey: longKey },
      runId: "r".repeat(100),
      executionId: `arn:aws:states:eu-west-1:111122223333:execution:${"m".repeat(80)}:${"e".repeat(80)}`,
      resultsPrefix: `${"p".repeat(900)}/`,
      failure: { Error: "E".repeat(5000), Cause: "c".repeat(300_000) },
      summary: summaryWith([{ label: "scratch", images: 1 }], {
        ...PARTS,
        bucket: "b".repeat(63),
        prefix: `${"p".repeat(900)}/runs/${"r".repeat(100)}/results/`,
      }),
    });
    expect(bytes(event.detail)).toBeLessThanOrEqual(MAX_RUN_EVENT_DETAIL_BYTES);
    expect(event.detail.labels).toEqual([{ label: "scratch", images: 1 }]);
  });

  it("makes an entry well under EventBridge's 256 KB, with the ARNs Step Functions appends", () => {
    const labels = Array.from({ length: 3000 }, (_, i) => ({
      label: `label-${i}-${"x".repeat(100)}`,
      images: i,
    }));
    const event = runEvent({
      result,
      runId: "r1",
      executionId: "e1",
      resultsPrefix: "weekly/",
      summary: summaryWith(labels),
    });
    const size = eventEntryBytes({
      Source: event.source,
      DetailType: event.detailType,
      Detail: JSON.stringify(event.detail),
      Resources: ["a".repeat(400), "b".repeat(400)],
    });
    expect(size).toBeLessThan(MAX_EVENT_ENTRY_BYTES / 4);
  });
});
