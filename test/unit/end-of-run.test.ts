import { describe, expect, it } from "vitest";
import { buildRunSummary } from "../../src/report/build-summary.ts";
import { endOfRunLines } from "../../src/report/end-of-run.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { makeBatch, makePlan, steadyTimeline, T0 } from "../support/report-fixtures.ts";

function summaryWithFailures(resultParts?: Parameters<typeof buildRunSummary>[0]["resultParts"]) {
  return buildRunSummary({
    ...(resultParts ? { resultParts } : {}),
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

  it("quotes the plan's estimate as precisely as the bill, so the two compare (not rounded to cents)", () => {
    const summary = summaryWithFailures();
    summary.plan.cost.chosen = {
      units: 1,
      durationSeconds: 15,
      inferenceHours: 0.0043,
      cost: 0.0171,
    };
    const lines = endOfRunLines({ status: "SUCCEEDED" }, summary);
    expect(lines).toContain(
      `Plan        ${summary.plan.sizing.units} unit(s), estimated 0.0043 inference hours = USD 0.0171`,
    );
  });

  it("says how many result lines the run wrote, in how many parts and where, right after the results", () => {
    const lines = endOfRunLines(
      { status: "SUCCEEDED" },
      summaryWithFailures({
        prefix: "out/runs/r1/results/",
        parts: 2,
        lines: 6,
        byStatus: { succeeded: 5, failed: 1, unreadable: 0 },
      }),
    );
    const results = lines.findIndex((l) => l.startsWith("Results "));
    expect(lines[results + 1]).toMatch(
      /^Written {5}6 result line\(s\) in 2 part\(s\) under s3:\/\/[^/]+\/out\/runs\/r1\/results\/$/,
    );
    // The report could not read the parts: it says nothing of them.
    expect(
      endOfRunLines({ status: "SUCCEEDED" }, summaryWithFailures()).some((l) =>
        l.startsWith("Written "),
      ),
    ).toBe(false);
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
