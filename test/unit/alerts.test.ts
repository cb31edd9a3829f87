import { describe, expect, it } from "vitest";
import { alertTopicFromEnv, runNotification, snsSubject } from "../../src/alerts.ts";
import type { RunReportResult } from "../../src/report/summary.ts";

const result: RunReportResult = {
  bucket: "results",
  summaryKey: "weekly/runs/r1/summary.json",
  reportKey: "weekly/runs/r1/report.html",
  outcome: "succeeded-with-failures",
  reconciled: false,
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
    countsSource: "batches",
    resumed: 0,
    batches: 2,
    failedBatches: 0,
  },
};

describe("alertTopicFromEnv", () => {
  it("is off for an unset or blank ALERT_TOPIC_ARN", () => {
    expect(alertTopicFromEnv({})).toBeUndefined();
    expect(alertTopicFromEnv({ ALERT_TOPIC_ARN: "  " })).toBeUndefined();
    expect(alertTopicFromEnv({ ALERT_TOPIC_ARN: "arn:aws:sns:eu-west-1:1:t" })).toBe(
      "arn:aws:sns:eu-west-1:1:t",
    );
  });
});

describe("snsSubject", () => {
  it("keeps to one line of printable ASCII within 100 characters", () => {
    const subject = snsSubject(`Caf\u00e9 \u65e5\u672c\nline two\t${"x".repeat(200)}`);
    expect(subject.length).toBe(100);
    expect(subject).toMatch(/^[\x20-\x7e]+$/);
    expect(subject.startsWith("Caf line two x")).toBe(true);
    expect(subject.endsWith("...")).toBe(true);
  });
});

describe("runNotification", () => {
  it("names the outcome and the counts, and says when they do not reconcile", () => {
    const note = runNotification({ topicArn: "arn:t", result });
    expect(note.subject).toBe("Rekognition batch succeeded-with-failures: 9/10 images, 1 failed");
    expect(note.message).toContain("succeeded 9, failed 1, skipped 1");
    expect(note.message).toContain("do NOT reconcile");
    expect(note.message).toContain("s3://results/weekly/runs/r1/report.html");
  });

  it("puts the error in the subject and the cause in the message on failure", () => {
    const note = runNotification({
      topicArn: "arn:t",
      result,
      failure: { Error: "ModelStartTimeout", Cause: "still STARTING after 40 checks" },
    });
    expect(note.subject).toBe("Rekognition batch FAILED: ModelStartTimeout");
    expect(note.message).toContain("Cause: still STARTING after 40 checks");
  });

  it("shows a Lambda error's JSON cause (as Catch records it on AWS) as errorType: errorMessage, without the trace", () => {
    const cause = JSON.stringify({
      errorType: "ControlPlaneUnavailable",
      errorMessage: "could not start model m: ThrottlingException after 5 attempts",
      trace: [
        "ControlPlaneUnavailable: could not start model m",
        "    at startWithLease (/var/task/index.js:1:99)",
      ],
    });
    const note = runNotification({
      topicArn: "arn:t",
      result,
      failure: { Error: "ControlPlaneUnavailable", Cause: cause },
    });
    expect(note.message).toContain(
      "Cause: ControlPlaneUnavailable: could not start model m: ThrottlingException after 5 attempts\n",
    );
    expect(note.message).not.toContain("startWithLease");
    expect(note.message).not.toContain("errorMessage");
  });
});
