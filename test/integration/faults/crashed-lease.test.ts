import { afterEach, describe, expect, it } from "vitest";
import { newLease, readLease, writeLease } from "../../../src/lease.ts";
import {
  type FaultStack,
  RESULTS_PREFIX,
  runToCleanFinish,
  seedImages,
  startFaultStack,
} from "../../support/fault-harness.ts";

/**
 * A run that crashed left its lease unreleased while its model is gone (not
 * running). The next run may replace that lease, but must say so: it once did
 * it silently.
 */

let fixture: FaultStack | undefined;

afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

describe("a re-run after a crash", () => {
  it("replaces the dead execution's lease and reports whose it was", async () => {
    fixture = await startFaultStack();
    const { stack } = fixture;
    await seedImages(stack, 4);
    const dead = newLease({
      projectVersionArn: fixture.arn,
      executionId:
        "arn:aws:states:us-east-1:123456789012:execution:rekognition-weekly-batch-local:crashed",
      runId: "20260101T000000Z-crashed",
      units: 1,
      now: Date.now() - 60_000,
      maxRunMs: 3_600_000,
    });
    const location = {
      s3: stack.s3,
      resultsBucket: stack.resultsBucket,
      resultsPrefix: RESULTS_PREFIX,
    };
    await writeLease({ ...location, lease: dead });

    const { result } = await runToCleanFinish(fixture);
    expect(result.replacedLease).toEqual({
      executionId: dead.executionId,
      runId: dead.runId,
      startedAt: dead.startedAt,
    });
    // The new run's own lease, released at its stop.
    const lease = await readLease(location);
    expect(lease?.executionId).toBe(result.execution.executionArn);
    expect(lease?.releasedAt).toBeDefined();
  });

  it("a start with no previous lease replaces nothing", async () => {
    fixture = await startFaultStack();
    await seedImages(fixture.stack, 2);
    const { result } = await runToCleanFinish(fixture);
    expect(result.replacedLease).toBeUndefined();
  });
});
