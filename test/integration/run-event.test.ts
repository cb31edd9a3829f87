import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RolePolicies } from "../../harness/local/iam/packaged-policies.ts";
import {
  RUN_EVENT_DETAIL_TYPE,
  RUN_EVENT_SOURCE,
  type RunEventDetail,
} from "../../src/run-event.ts";
import {
  type FaultStack,
  runFaultJob,
  seedImages,
  startFaultStack,
} from "../support/fault-harness.ts";

/**
 * The run's event end to end: the real definition's PublishRunEvent states,
 * fed by the Report Lambda, against the local stack; the local EventBridge
 * stand-in keeps what the workflow put, and IAM is enforced from the
 * packaged template.
 */

let fixture: FaultStack;

beforeAll(async () => {
  fixture = await startFaultStack();
  await seedImages(fixture.stack, 5);
}, 60_000);

afterAll(async () => {
  await fixture?.close();
});

/** The packaged policies without the state machine's events:PutEvents grant. */
function withoutPutEvents(packaged: RolePolicies): RolePolicies {
  const narrowed = structuredClone(packaged);
  let removed = 0;
  for (const entry of narrowed.stateMachine) {
    entry.policy.Statement = entry.policy.Statement.filter((statement) => {
      const drop = [statement.Action].flat().includes("events:PutEvents");
      if (drop) removed += 1;
      return !drop;
    });
  }
  if (removed === 0) throw new Error("the packaged policies grant no events:PutEvents");
  return narrowed;
}

describe("the run's event on the default EventBridge bus", () => {
  it("is put once after a successful run, with the report's counts and label counts", async () => {
    const result = await runFaultJob(fixture);
    expect(result.execution.status).toBe("SUCCEEDED");
    expect(result.events).toHaveLength(1);
    const [event] = result.events;
    expect(event?.EventBusName).toBe("default");
    expect(event?.Source).toBe(RUN_EVENT_SOURCE);
    expect(event?.DetailType).toBe(RUN_EVENT_DETAIL_TYPE);
    const detail = event?.Detail as RunEventDetail;
    const summary = result.summary;
    expect(summary?.counts.succeeded).toBe(5);
    expect(detail.outcome).toBe(summary?.outcome);
    expect(detail.runId).toBe(summary?.runId);
    expect(detail.executionId).toBe(result.execution.executionArn);
    expect(detail.counts).toEqual(summary?.counts);
    expect(detail.labels).toEqual(summary?.labels);
    expect(detail.labels.length).toBeGreaterThan(0);
    expect(detail.labelsOmitted).toBe(0);
    expect(detail.report.summaryKey).toBe(result.report?.summaryKey);
    expect(detail.report.reportUri).toBe(
      `s3://${result.report?.bucket}/${result.report?.reportKey}`,
    );
    expect(detail.results.prefix).toBe(`rekognition-results/runs/${summary?.runId}/results/`);
    // The lines the run wrote, as the report counted them in the parts.
    expect(detail.results.lines).toBe(5);
    expect(detail.results.byStatus).toEqual({ succeeded: 5, failed: 0, unreadable: 0 });
    expect(detail.results.parts).toBe(summary?.resultParts?.parts);
    expect(detail).not.toHaveProperty("failure");
  });

  it("never fails the run: without the IAM grant the put is denied and the run succeeds", async () => {
    await seedImages(fixture.stack, 1, { prefix: "incoming/third/", seed: 5 });
    fixture.stack.iam.resetStats();
    const result = await runFaultJob(fixture, { adjustPolicies: withoutPutEvents });
    expect(result.execution.status).toBe("SUCCEEDED");
    expect(result.summary?.counts.succeeded).toBe(1);
    expect(result.events).toEqual([]);
    expect(fixture.stack.iam.stats.denials).toContainEqual(
      expect.objectContaining({
        action: "events:PutEvents",
        resource: expect.stringMatching(/^arn:aws:events:[a-z0-9-]+:\d{12}:event-bus\/default$/),
        role: "WeeklyBatchStateMachineRole",
      }),
    );
  });

  // Last: the model stays FAILED after this.
  it("is put after a failed run too, with the failure", async () => {
    await seedImages(fixture.stack, 2, { prefix: "incoming/later/", seed: 3 });
    fixture.stack.emulator.admin.failNextStart(fixture.arn, "no capacity in the test region");
    const result = await runFaultJob(fixture);
    expect(result.execution.status).toBe("FAILED");
    expect(result.events).toHaveLength(1);
    const detail = result.events[0]?.Detail as RunEventDetail;
    expect(detail.outcome).toBe("failed");
    expect(detail.failure?.error).toBe("ModelStartFailed");
    expect(detail.failure?.cause).toContain("no capacity in the test region");
    expect(detail.counts).toEqual(result.summary?.counts);
    expect(detail.counts.pending).toBe(2);
    expect(detail.counts.succeeded).toBe(0);
  });
});
