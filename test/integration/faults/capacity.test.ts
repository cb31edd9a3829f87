import { afterEach, describe, expect, it } from "vitest";
import {
  beforeEachBatch,
  type FaultStack,
  runToCleanFinish,
  seedImages,
  startFaultStack,
  waitFor,
} from "../../support/fault-harness.ts";

/**
 * Capacity and transport faults while images are analysed: every image still
 * ends in the ledger exactly once, the run succeeds, and the model it started
 * is stopped with nothing billed afterwards.
 */

const IMAGES = 40;
let fixture: FaultStack | undefined;

afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

/** Runs a job whose first batch switches `fault` on, then checks the invariants of a clean finish. */
async function runWithFaultAtFirstBatch(
  fault: (current: FaultStack) => void,
  options: {
    emulator?: Parameters<typeof startFaultStack>[0];
    input?: Record<string, number>;
    beforeBatch?: (current: FaultStack, invocation: number) => Promise<void>;
  } = {},
) {
  fixture = await startFaultStack({ tpsPerUnit: 20, ...options.emulator });
  const current = fixture;
  await seedImages(current.stack, IMAGES);
  const processBatch = beforeEachBatch(async (invocation) => {
    if (invocation === 1) fault(current);
    await options.beforeBatch?.(current, invocation);
  });
  const { result, report } = await runToCleanFinish(current, {
    handlers: { processBatch },
    input: { minUnits: 2, ...options.input },
  });
  expect(report.succeeded).toBe(IMAGES);
  expect(result.summary?.counts.succeeded).toBe(IMAGES);
  return { result, current };
}

describe("capacity faults mid-run", () => {
  it("a throttling storm (capacity cut to a quarter) slows the run but loses nothing", async () => {
    const { current } = await runWithFaultAtFirstBatch((stack) =>
      stack.stack.emulator.admin.setCapacityFactor(stack.arn, 0.25),
    );
    const throttled = current.stack.emulator.admin
      .timeline(current.arn)
      .reduce((sum, second) => sum + second.throttled, 0);
    expect(throttled).toBeGreaterThan(0);
  });

  it("one unit lost and replaced", async () => {
    await runWithFaultAtFirstBatch((stack) => {
      stack.stack.emulator.admin.failUnit(stack.arn);
    });
  });

  it("a whole Availability Zone lost and restored", async () => {
    let restored = false;
    fixture = await startFaultStack({ tpsPerUnit: 20 });
    const current = fixture;
    await seedImages(current.stack, IMAGES);
    const zone = current.stack.emulator.admin.state().availabilityZones[0]?.name ?? "";
    const processBatch = beforeEachBatch((invocation) => {
      if (invocation === 1) current.stack.emulator.admin.failZone(zone);
      if (invocation === 2 && !restored) {
        restored = true;
        current.stack.emulator.admin.restoreZone(zone);
      }
    });
    const { report } = await runToCleanFinish(current, {
      handlers: { processBatch },
      input: { minUnits: 2, maxWorkers: 1 },
    });
    expect(report.succeeded).toBe(IMAGES);
    expect(restored).toBe(true);
  });

  it("auto-scaling up and down during the run", async () => {
    let scaledDown = false;
    const { result, current } = await runWithFaultAtFirstBatch(() => {}, {
      // A unit serves 5 TPS, as planned; with maxInferenceUnits the workers
      // are sized for 3 units, so demand exceeds the one unit in service at
      // once and the plan, for 8 s of work on one unit, chooses auto-scaling.
      emulator: {
        tpsPerUnit: 5,
        scaleUpDelayMs: 100,
        scaleDownDelayMs: 100,
        unitStartupMs: 100,
        demandWindowMs: 300,
      },
      input: { minUnits: 1, maxInferenceUnits: 3, maxUnits: 3, tpsPerUnit: 5, maxWorkers: 1 },
      beforeBatch: async (stack, invocation) => {
        // Once units were added, a pause between batches lets demand fall and units go.
        const peak = Math.max(
          ...stack.stack.emulator.admin.timeline(stack.arn).map((s) => s.desiredUnits),
        );
        if (invocation < 2 || scaledDown || peak <= 1) return;
        const desiredNow = () =>
          stack.stack.emulator.admin.state().models.find((m) => m.arn === stack.arn)
            ?.desiredUnits ?? 0;
        await waitFor(() => desiredNow() < peak, "a scale-down");
        scaledDown = true;
      },
    });
    expect(result.plan?.sizing.maxInferenceUnits).toBe(3);
    const desired = current.stack.emulator.admin.timeline(current.arn).map((s) => s.desiredUnits);
    expect(Math.max(...desired)).toBeGreaterThan(1);
    expect(scaledDown).toBe(true);
  });

  it("5 % InternalServerError and dropped connections are retried until every image is done", async () => {
    const { result } = await runWithFaultAtFirstBatch((stack) => {
      stack.stack.emulator.admin.setErrorRate(stack.arn, 0.05);
      stack.stack.emulator.admin.setDropRate(stack.arn, 0.05);
    });
    expect(result.summary?.counts.failed).toBe(0);
  });
});
