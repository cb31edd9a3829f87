import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type FaultStack,
  runFaultJob,
  seedImages,
  startFaultStack,
} from "../support/fault-harness.ts";

/**
 * The alert path end to end: the real definition's Notify states, fed by the
 * Report Lambda, against the local stack; the local SNS stand-in keeps what
 * the workflow published.
 */

const TOPIC = "arn:aws:sns:us-east-1:000000000000:weekly-batch-alerts";

let fixture: FaultStack;

beforeAll(async () => {
  fixture = await startFaultStack();
  await seedImages(fixture.stack, 4);
}, 60_000);

afterAll(async () => {
  await fixture?.close();
});

describe("alerts to the optional SNS topic", () => {
  it("publishes nothing when no topic is set", async () => {
    // The deployment's prefix, not an execution-input override: IAM grants only
    // the deployed prefix, so an override elsewhere is denied (as on AWS).
    const result = await runFaultJob(fixture, { environment: { IMAGES_PREFIX: "nothing-here/" } });
    expect(result.execution.status).toBe("SUCCEEDED");
    expect(result.notifications).toEqual([]);
  });

  it("publishes the run summary after a successful run", async () => {
    const result = await runFaultJob(fixture, { environment: { ALERT_TOPIC_ARN: TOPIC } });
    expect(result.execution.status).toBe("SUCCEEDED");
    expect(result.summary?.counts.succeeded).toBe(4);
    expect(result.notifications).toHaveLength(1);
    const [message] = result.notifications;
    expect(message?.Subject).toBe("Rekognition batch succeeded: 4/4 images, 0 failed");
    expect(message?.Message).toContain("Counts reconcile.");
    expect(message?.Message).toContain(
      `s3://${result.report?.bucket}/${result.report?.summaryKey}`,
    );
  });

  it("publishes the failure cause when the model fails to start", async () => {
    // New work, so that the plan starts the model (which then fails to start).
    await seedImages(fixture.stack, 2, { prefix: "incoming/later/", seed: 3 });
    fixture.stack.emulator.admin.failNextStart(fixture.arn, "no capacity in the test region");
    const result = await runFaultJob(fixture, { environment: { ALERT_TOPIC_ARN: TOPIC } });
    expect(result.execution.status).toBe("FAILED");
    expect(result.notifications).toHaveLength(1);
    const [message] = result.notifications;
    expect(message?.TopicArn).toBe(TOPIC);
    expect(message?.Subject).toBe("Rekognition batch FAILED: ModelStartFailed");
    expect(message?.Message).toContain("no capacity in the test region");
    expect(message?.Message).toContain("pending 2, succeeded 0");
  });
});
