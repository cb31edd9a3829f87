import { describe, expect, it } from "vitest";
import { decideRescale, type RescaleFacts } from "../../src/rescale.ts";

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
