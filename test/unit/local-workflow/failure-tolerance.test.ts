import { describe, expect, it } from "vitest";
import { FailureTolerance } from "../../../harness/local/workflow/failure-tolerance.ts";

describe("FailureTolerance", () => {
  it("tolerates nothing by default", () => {
    const tolerance = new FailureTolerance(100, {});
    expect(tolerance.exceeded).toBe(false);
    expect(tolerance.recordFailure(1)).toBe(true);
  });

  it("fails when the failed share of all items goes above the percentage", () => {
    const tolerance = new FailureTolerance(20, { percentage: 10 });
    expect(tolerance.recordFailure(1)).toBe(false);
    expect(tolerance.recordFailure(1)).toBe(false); // exactly 10 % is tolerated
    expect(tolerance.recordFailure(1)).toBe(true);
    expect(tolerance.failed).toBe(3);
  });

  it("fails when more items than the count have failed", () => {
    const tolerance = new FailureTolerance(1000, { count: 2 });
    expect(tolerance.recordFailure(2)).toBe(false);
    expect(tolerance.recordFailure(1)).toBe(true);
  });

  it("counts every item of a failed batch, and fails on whichever limit is crossed first", () => {
    const tolerance = new FailureTolerance(100, { count: 50, percentage: 5 });
    expect(tolerance.recordFailure(5)).toBe(false);
    expect(tolerance.recordFailure(5)).toBe(true);
  });

  it("rejects impossible settings", () => {
    expect(() => new FailureTolerance(10, { percentage: 101 })).toThrow(RangeError);
    expect(() => new FailureTolerance(10, { count: 1.5 })).toThrow(RangeError);
  });
});
