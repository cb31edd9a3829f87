import { afterEach, describe, expect, it } from "vitest";
import type { ControlPlaneFault } from "../../../harness/local/emulator/index.ts";
import { seededRandom } from "../../../harness/local/sample-images.ts";
import type { WorkflowEvent } from "../../../harness/local/workflow/index.ts";
import {
  assertRunInvariants,
  type FaultStack,
  failedStateErrors,
  runFaultJob,
  runToCleanFinish,
  seedImages,
  startFaultStack,
  timed,
} from "../../support/fault-harness.ts";

/**
 * Throttling storms and 5xx bursts of the model's control plane
 * (DescribeProjects, DescribeProjectVersions, StartProjectVersion,
 * StopProjectVersion), injected by the emulator where each step calls it.
 * The SDK's retries ride out short bursts; longer ones leave the step as
 * ControlPlaneUnavailable, which the workflow retries. Plan does not call the
 * control plane: the storm from the very start shows it is unaffected.
 * The SDK backs off for real (from 500 ms after a throttle, 100 ms after a
 * 5xx), so storms are kept short; most use 5xx for that reason.
 */

const IMAGES = 12;
let fixture: FaultStack | undefined;

afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

async function stackWithImages(
  emulator: Parameters<typeof startFaultStack>[0] = {},
): Promise<FaultStack> {
  fixture = await startFaultStack(emulator);
  await seedImages(fixture.stack, IMAGES);
  return fixture;
}

/** Arms `fault` the first time the workflow enters `state`. */
function onFirstEntry(stack: FaultStack, state: string, fault: ControlPlaneFault) {
  let armed = false;
  return (event: WorkflowEvent) => {
    if (!armed && event.type === "StateEntered" && event.state === state) {
      armed = true;
      stack.stack.emulator.admin.failControlPlane(fault);
    }
  };
}

/** Uniform [0, 1) from the sample images' seeded generator (which yields 32-bit integers). */
function uniformRandom(seed: number): () => number {
  const next = seededRandom(seed);
  return () => next() / 2 ** 32;
}

function injected(stack: FaultStack): number {
  return stack.stack.emulator.admin.controlPlaneErrors();
}

describe("control-plane faults: the run rides them out", () => {
  it("EnsureModelRunning: StartProjectVersion throttled 6 times in a row (more than the SDK's attempts)", async () => {
    const stack = await stackWithImages();
    stack.stack.emulator.admin.failControlPlane({
      operation: "StartProjectVersion",
      error: "ThrottlingException",
      count: 6,
    });
    const { result, report } = await runToCleanFinish(stack);
    expect(report.succeeded).toBe(IMAGES);
    expect(injected(stack)).toBe(6);
    expect(result.summary?.model?.owned).toBe(true);
  });

  it("EnsureModelRunning: a burst of 8 InternalServerError on DescribeProjectVersions", async () => {
    const stack = await stackWithImages();
    stack.stack.emulator.admin.failControlPlane({
      operation: "DescribeProjectVersions",
      error: "InternalServerError",
      count: 8,
    });
    const { report } = await runToCleanFinish(stack);
    expect(report.succeeded).toBe(IMAGES);
    expect(injected(stack)).toBe(8);
  });

  it("EnsureModelRunning: DescribeProjects answers 500 six times (the project lookup)", async () => {
    const stack = await stackWithImages();
    stack.stack.emulator.admin.failControlPlane({
      operation: "DescribeProjects",
      error: "InternalServerError",
      count: 6,
    });
    const { result } = await runToCleanFinish(stack);
    expect(result.summary?.model?.owned).toBe(true);
    expect(injected(stack)).toBe(6);
  });

  it("CheckModel: DescribeProjectVersions answers 500 twelve times from the first check on", async () => {
    const stack = await stackWithImages();
    const { result, report } = await runToCleanFinish(stack, {
      onEvent: onFirstEntry(stack, "CheckModel", {
        operation: "DescribeProjectVersions",
        error: "InternalServerError",
        count: 12,
      }),
    });
    expect(report.succeeded).toBe(IMAGES);
    expect(injected(stack)).toBe(12);
    expect(failedStateErrors(result).has("Internal")).toBe(false);
  });

  it("StopModel: StopProjectVersion answers 500 eight times (more than StopModel's own retries): the run succeeds, the model is STOPPED", async () => {
    const stack = await stackWithImages();
    const { report } = await runToCleanFinish(stack, {
      onEvent: onFirstEntry(stack, "StopModel", {
        operation: "StopProjectVersion",
        error: "InternalServerError",
        count: 8,
      }),
    });
    expect(report.succeeded).toBe(IMAGES);
    expect(injected(stack)).toBe(8);
  });

  it("a storm over the whole run (30 % throttled, 10 % 500s on all four operations, Plan included)", async () => {
    const stack = await stackWithImages({
      random: uniformRandom(7),
      controlPlaneFaults: [
        { error: "ThrottlingException", rate: 0.3 },
        { error: "InternalServerError", rate: 0.1 },
      ],
    });
    const { report } = await runToCleanFinish(stack);
    expect(report.succeeded).toBe(IMAGES);
    expect(injected(stack)).toBeGreaterThan(0);
  });
});

describe("control-plane faults: a storm that never ends fails cleanly", () => {
  it("DescribeProjectVersions always failing: ControlPlaneUnavailable, nothing started, nothing billed", async () => {
    const stack = await stackWithImages();
    stack.stack.emulator.admin.failControlPlane({
      operation: "DescribeProjectVersions",
      error: "InternalServerError",
      rate: 1,
    });
    const { value: result, elapsedMs } = await timed(() => runFaultJob(stack));
    const report = await assertRunInvariants(stack, result, {
      status: "FAILED",
      error: "ControlPlaneUnavailable",
      // Never started: it keeps the status it was declared with.
      modelStatus: "TRAINING_COMPLETED",
      complete: false,
      elapsedMs,
      maxUnits: result.plan?.sizing.units ?? 1,
    });
    expect(report.succeeded + report.failed).toBe(0);
    expect(stack.stack.emulator.admin.billing(stack.arn).unitSeconds).toBe(0);
    expect(result.execution.cause).toMatch(/InternalServerError after 5 attempts/);
  });
});
