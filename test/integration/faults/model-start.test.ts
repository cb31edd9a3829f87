import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  assertRunInvariants,
  type FaultStack,
  failedStateErrors,
  modelStatus,
  runFaultJob,
  seedImages,
  startFaultStack,
  timed,
} from "../../support/fault-harness.ts";

/** Faults around the model's lifecycle: failed and endless starts, a model stopped or started by someone else. */

let fixture: FaultStack;

beforeEach(async () => {
  fixture = await startFaultStack();
  await seedImages(fixture.stack, 20);
});

afterEach(async () => {
  await fixture?.close();
});

describe("model lifecycle faults", () => {
  it("a start that ends FAILED fails the execution with ModelStartFailed, nothing analysed, nothing left billed", async () => {
    fixture.stack.emulator.admin.failNextStart(fixture.arn);
    const { value: result, elapsedMs } = await timed(() => runFaultJob(fixture));
    const report = await assertRunInvariants(fixture, result, {
      status: "FAILED",
      error: "ModelStartFailed",
      modelStatus: "FAILED",
      complete: false,
      elapsedMs,
      maxUnits: result.plan?.sizing.units ?? 1,
    });
    expect(report.succeeded + report.failed).toBe(0);
    const billing = fixture.stack.emulator.admin.billing(fixture.arn);
    expect(billing.billingUnits).toBe(0);
    // AWS does not document whether a failed start-up is billed: the emulator
    // assumes it is (MinInferenceUnits from the start request until FAILED,
    // 300 ms here), and the README says so rather than "nothing is billed".
    const units = result.plan?.sizing.units ?? 1;
    expect(billing.unitSeconds).toBeGreaterThanOrEqual(0.29 * units);
  });

  it("a start that never reaches RUNNING within the cap fails with ModelStartTimeout and the model is stopped", async () => {
    // Start-up takes far longer than the cap allows (three checks of 50 ms each).
    await fixture.close();
    fixture = await startFaultStack({ startDelayMs: 60_000 });
    await seedImages(fixture.stack, 5);
    const { value: result, elapsedMs } = await timed(() =>
      runFaultJob(fixture, {
        // 0.5 minutes of start-up expected; the cap is max(3 x that, 20 min) / 30 s = 40 checks.
        input: { startupMinutes: 0.5 },
      }),
    );
    const report = await assertRunInvariants(fixture, result, {
      status: "FAILED",
      error: "ModelStartTimeout",
      modelStatus: "STOPPED",
      complete: false,
      elapsedMs,
      maxUnits: result.plan?.sizing.units ?? 1,
    });
    expect(report.succeeded).toBe(0);
  });

  it("a model already RUNNING before the job is used and left running", async () => {
    await startModelAsSomeoneElse(fixture);
    const { value: result, elapsedMs } = await timed(() => runFaultJob(fixture));
    const report = await assertRunInvariants(fixture, result, {
      status: "SUCCEEDED",
      modelStatus: "RUNNING",
      complete: true,
      elapsedMs: elapsedMs + 1000,
      maxUnits: 1,
    });
    expect(report.succeeded).toBe(20);
    expect(modelStatus(fixture)).toBe("RUNNING");
  });

  it("a model stopped by someone else mid-run fails fast with ModelNotReady", async () => {
    let stopped = false;
    const { value: result, elapsedMs } = await timed(() =>
      runFaultJob(fixture, {
        onEvent(event) {
          if (event.type === "MapChildStarted" && !stopped) {
            stopped = true;
            fixture.stack.emulator.admin.forceStop(fixture.arn);
          }
        },
      }),
    );
    await assertRunInvariants(fixture, result, {
      status: "FAILED",
      error: "States.ExceedToleratedFailureThreshold",
      modelStatus: "STOPPED",
      complete: false,
      elapsedMs,
      maxUnits: result.plan?.sizing.units ?? 1,
    });
    expect(failedStateErrors(result).has("ModelNotReady")).toBe(true);
    // Fails fast: far fewer calls than images x retries.
    const calls = fixture.stack.emulator.admin
      .timeline(fixture.arn)
      .reduce((sum, second) => sum + second.accepted + second.throttled, 0);
    expect(calls).toBeLessThan(20);
  });
});

/** Starts the model outside the workflow, as another team or a console user would. */
async function startModelAsSomeoneElse(fixture: FaultStack): Promise<void> {
  const { RekognitionClient, StartProjectVersionCommand } = await import(
    "@aws-sdk/client-rekognition"
  );
  const client = new RekognitionClient({
    region: fixture.stack.environment.AWS_REGION,
    endpoint: fixture.stack.emulator.endpoint,
    credentials: {
      accessKeyId: fixture.stack.environment.AWS_ACCESS_KEY_ID ?? "",
      secretAccessKey: fixture.stack.environment.AWS_SECRET_ACCESS_KEY ?? "",
    },
  });
  await client.send(
    new StartProjectVersionCommand({ ProjectVersionArn: fixture.arn, MinInferenceUnits: 1 }),
  );
  client.destroy();
  const { waitForModelStatus } = await import("../../support/fault-harness.ts");
  await waitForModelStatus(fixture, "RUNNING");
}
