import { describe, expect, it } from "vitest";
import { buildRunSummary } from "../../src/report/build-summary.ts";
import { endOfRunLines } from "../../src/report/end-of-run.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { makeBatch, makePlan, steadyTimeline, T0 } from "../support/report-fixtures.ts";

function summaryWithFailures() {
  return buildRunSummary({
    plan: makePlan({ counts: { listed: 6, pending: 6, skipped: 0, alreadyDone: 0 } }),
    batches: [
      makeBatch({
        items: 6,
        failures: [{ key: "incoming/a.jpg", error: "InvalidImageFormatException", message: "x" }],
        labels: { red: 4 },
        timeline: steadyTimeline(T0 + 300, 3, 2),
      }),
    ],
    mapRan: true,
    skipped: [],
    clock: new FakeClock((T0 + 400) * 1000),
  });
}

describe("the end-of-run summary", () => {
  it("says the same of a run whoever prints it: counts, labels, failures, throughput, plan, units", () => {
    const lines = endOfRunLines({ status: "SUCCEEDED" }, summaryWithFailures());
    expect(lines[0]).toBe("Execution   SUCCEEDED");
    expect(lines).toContain("Images      6 listed = 6 pending + 0 skipped + 0 already done");
    expect(lines.find((l) => l.startsWith("Results "))).toMatch(
      /5 succeeded, 1 failed .*reconcile/,
    );
    expect(lines).toContain("Labels      red 4");
    expect(lines).toContain("Failed      incoming/a.jpg: InvalidImageFormatException");
    expect(lines.map((l) => l.slice(0, 12).trim())).toEqual(
      expect.arrayContaining(["Throughput", "Plan", "Units"]),
    );
  });

  it("puts the caller's own lines after the cause, and only the execution's end without a report", () => {
    const lines = endOfRunLines(
      { status: "ABORTED", error: "Stopped", cause: "by the operator" },
      undefined,
      ["Images      3 pending at plan"],
    );
    expect(lines).toEqual([
      "Execution   ABORTED: Stopped",
      "Cause       by the operator",
      "Images      3 pending at plan",
    ]);
  });
});
