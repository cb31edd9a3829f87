import { describe, expect, it } from "vitest";
import { buildRunSummary } from "../../src/report/build-summary.ts";
import { renderReportHtml } from "../../src/report/html.ts";
import { describeRescale } from "../../src/report/rescale.ts";
import { decideRescale, type RescaleFacts } from "../../src/rescale.ts";
import { firstRounds } from "../../src/rounds.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { iso, makePlan, T0 } from "../support/report-fixtures.ts";

const NOW = Date.parse("2026-11-29T12:00:00Z");

/**
 * 1 unit measured at 2 images/s with 7,200 images left: an hour to go, the
 * window ends in 10 minutes, a restart takes 10 minutes, the quota is 8.
 */
function facts(overrides: Partial<RescaleFacts> = {}): RescaleFacts {
  return {
    mode: "restart",
    units: 1,
    maxUnits: 8,
    autoScaling: false,
    owned: true,
    remainingImages: 7200,
    measuredImagesPerSecond: 2,
    nowMs: NOW,
    deadlineMs: NOW + 30 * 60_000,
    restartSeconds: 600,
    pricePerUnitHour: 4,
    ...overrides,
  };
}

describe("decideRescale", () => {
  it("restarts with the fewest units that end inside the window, with its sums", () => {
    const decision = decideRescale(facts());
    expect(decision.restart).toBe(true);
    // Without: 7,200 / 2 = 3,600 s, 1,800 s past the 30-minute window, 1 unit-hour.
    expect(decision.without).toMatchObject({
      units: 1,
      seconds: 3600,
      overrunSeconds: 1800,
      inferenceHours: 1,
      cost: 4,
    });
    // 2 units: 600 + 1,800 = 2,400 s (late); 3 units: 600 + 1,200 = 1,800 s (on time).
    expect(decision.units).toBe(3);
    expect(decision.with).toMatchObject({
      units: 3,
      seconds: 1800,
      overrunSeconds: 0,
      inferenceHours: 1.5,
      cost: 6,
    });
    expect(decision.reason).toContain("ends inside the window");
  });

  it("takes the quota when no count ends in time, if that still ends sooner", () => {
    const decision = decideRescale(facts({ maxUnits: 2 }));
    expect(decision.restart).toBe(true);
    expect(decision.units).toBe(2);
    expect(decision.with?.seconds).toBe(2400);
    expect(decision.with?.overrunSeconds).toBe(600);
    expect(decision.reason).toContain("the quota allows no more");
  });

  it("never restarts when rescale is never (the default)", () => {
    const decision = decideRescale(facts({ mode: "never" }));
    expect(decision).toMatchObject({ restart: false, units: 1 });
    expect(decision.reason).toContain('"never"');
  });

  it("does not restart when the quota allows no more units", () => {
    const decision = decideRescale(facts({ units: 8, measuredImagesPerSecond: 2 }));
    expect(decision.restart).toBe(false);
    expect(decision.units).toBe(8);
    expect(decision.reason).toContain("quota");
  });

  it("does not restart when the window is met", () => {
    const decision = decideRescale(facts({ remainingImages: 3000 }));
    expect(decision.restart).toBe(false);
    expect(decision.without?.overrunSeconds).toBe(0);
    expect(decision.reason).toContain("inside the window");
  });

  it("does not restart when the overrun is no more than the restart costs", () => {
    // 4,200 images: 2,100 s, 300 s late; the restart alone takes 600 s.
    const decision = decideRescale(facts({ remainingImages: 4200 }));
    expect(decision.restart).toBe(false);
    expect(decision.without?.overrunSeconds).toBe(300);
    expect(decision.with).toBeDefined();
    expect(decision.reason).toContain("no more than a restart's 600 s");
  });

  it("does not restart when the restart would end later than carrying on", () => {
    // 3,000 s late, more than the 1,900 s restart; but at the quota's 2 units
    // the restart ends at 1,900 + 1,800 = 3,700 s, after carrying on (3,600 s).
    const decision = decideRescale(
      facts({ maxUnits: 2, restartSeconds: 1900, deadlineMs: NOW + 10 * 60_000 }),
    );
    expect(decision.restart).toBe(false);
    expect(decision.reason).toContain("would end later");
  });

  it("never stops a model someone else started, nor one that auto-scales", () => {
    expect(decideRescale(facts({ owned: false })).restart).toBe(false);
    expect(decideRescale(facts({ autoScaling: true })).restart).toBe(false);
  });

  it("does not restart without a measured rate or with nothing left", () => {
    const noRate = decideRescale(facts({ measuredImagesPerSecond: 0 }));
    expect(noRate.restart).toBe(false);
    expect(noRate.without).toBeUndefined();
    expect(decideRescale(facts({ measuredImagesPerSecond: Number.NaN })).restart).toBe(false);
    expect(decideRescale(facts({ remainingImages: 0 })).restart).toBe(false);
  });

  it("counts an already-passed deadline as overrun", () => {
    const decision = decideRescale(facts({ deadlineMs: NOW - 60_000 }));
    expect(decision.without?.overrunSeconds).toBe(3660);
    expect(decision.restart).toBe(true);
    expect(decision.units).toBe(8);
  });
});

describe("the report of a restarted run", () => {
  it("bills the session the restart ended beside the one that finished the run, and shows the decision", () => {
    const plan = makePlan();
    const decision = decideRescale(facts());
    const round = firstRounds(plan).current;
    const summary = buildRunSummary({
      plan,
      batches: [],
      mapRan: true,
      skipped: [],
      model: {
        action: "started",
        owned: true,
        status: "RUNNING",
        startRequestedAt: iso(T0 + 600),
        units: 3,
      },
      stop: { stopped: true, reason: "completed", stopRequestedAt: iso(T0 + 1200) },
      restartStop: { stopped: true, reason: "restart", stopRequestedAt: iso(T0 + 300) },
      rounds: {
        current: { ...round, index: 2, of: 2, units: 3 },
        finished: [
          {
            index: 1,
            images: 2,
            units: 1,
            processed: 2,
            endedAt: iso(T0 + 290),
            mapResults: { Bucket: "b", Key: "k1" },
          },
          {
            index: 2,
            images: 4,
            units: 3,
            processed: 4,
            endedAt: iso(T0 + 1190),
            mapResults: { Bucket: "b", Key: "k2" },
          },
        ],
        next: "done",
        restarts: 1,
        decision,
        beforeRestart: { startRequestedAt: iso(T0), units: 1 },
      },
      clock: new FakeClock((T0 + 1300) * 1000),
    });
    // 1 unit for 300 s, then 3 units for 600 s: 1/12 + 1/2 inference hours.
    expect(summary.billing.inferenceHours).toBeCloseTo(300 / 3600 + 1800 / 3600, 10);
    expect(summary.billing.from).toBe(iso(T0));
    expect(summary.rescale).toMatchObject({
      restarts: 1,
      endedSession: { units: 1, from: iso(T0), to: iso(T0 + 300) },
    });
    expect(summary.rescale?.rounds.map((r) => r.processed)).toEqual([2, 4]);
    const lines = describeRescale(summary.rescale as NonNullable<typeof summary.rescale>);
    expect(lines[0]).toMatch(/^Restarted: /);
    expect(lines[1]).toContain(
      "Without a restart: 1 unit(s), 3600.0 s to the end, 1800.0 s past the window",
    );
    expect(lines[2]).toContain(
      "With a restart: 3 unit(s), 600.0 s without service + 1200.0 s processing = 1800.0 s",
    );
    expect(renderReportHtml(summary)).toContain('<section id="rescale">');
  });

  it("has no rescale section for a one-round run", () => {
    const plan = makePlan();
    const summary = buildRunSummary({
      plan,
      batches: [],
      mapRan: true,
      skipped: [],
      rounds: firstRounds(plan),
      clock: new FakeClock((T0 + 1300) * 1000),
    });
    expect(summary.rescale).toBeUndefined();
    expect(renderReportHtml(summary)).not.toContain('id="rescale"');
  });
});
