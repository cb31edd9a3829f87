import { afterEach, describe, expect, it } from "vitest";
import { readLease } from "../../src/lease.ts";
import type { RoundsState } from "../../src/rounds.ts";
import {
  assertRunInvariants,
  type FaultStack,
  RESULTS_PREFIX,
  readLedger,
  runFaultJob,
  seedImages,
  startFaultStack,
  timed,
} from "../support/fault-harness.ts";

/**
 * Manual re-scaling through the real workflow: the emulated model serves a
 * fraction of what the plan assumed, so the first round's measured rate shows
 * the window will be missed by far more than a restart costs; the run stops
 * the model, starts it again with more units, finishes the rest, and every
 * image is analysed exactly once.
 */

const IMAGES = 150;

/** A run whose plan assumes 40 calls/s per unit, against a model that serves 5. */
const SLOW_MODEL_INPUT = {
  rescale: "restart",
  tpsPerUnit: 40,
  targetWindowMinutes: 0.1,
  startupMinutes: 0.01,
  minUnits: 1,
  maxUnits: 4,
  lambdaTimeoutSeconds: 5,
} as const;
let fixture: FaultStack | undefined;

afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

function entered(
  events: readonly { type: string; state?: string; child?: unknown }[],
  state: string,
) {
  return events.filter((e) => e.type === "StateEntered" && e.state === state && !e.child).length;
}

describe("rescale: restart", () => {
  it("restarts the model once with more units when the measured rate misses the window, and reconciles exactly", async () => {
    // The model serves 5 calls per second per unit; the plan assumes 40.
    fixture = await startFaultStack({ tpsPerUnit: 5 });
    await seedImages(fixture.stack, IMAGES);
    const current = fixture;
    const { value: result, elapsedMs } = await timed(() =>
      runFaultJob(current, {
        input: SLOW_MODEL_INPUT,
      }),
    );
    await assertRunInvariants(current, result, {
      status: "SUCCEEDED",
      modelStatus: "STOPPED",
      complete: true,
      elapsedMs,
      maxUnits: 4,
    });

    expect(result.plan?.sizing.units).toBe(1);
    expect(result.plan?.rescale?.rounds.map((r) => r.images)).toEqual([30, 120]);
    const output = result.execution.output as unknown as {
      rounds: RoundsState;
      model: { units: number; owned: boolean };
      restartStop: { stopped: boolean; leaseReleased: boolean };
      stop: { stopped: boolean; leaseReleased: boolean };
    };
    const { rounds } = output;
    expect(rounds.restarts).toBe(1);
    expect(rounds.decision?.restart, rounds.decision?.reason).toBe(true);
    expect(rounds.decision?.units).toBe(4);
    const decision = rounds.decision;
    expect(decision?.with?.seconds).toBeLessThan(decision?.without?.seconds ?? 0);
    expect(decision?.without?.overrunSeconds).toBeGreaterThan(decision?.facts.restartSeconds ?? 0);
    expect(rounds.finished.map((r) => [r.index, r.units, r.processed])).toEqual([
      [1, 1, 30],
      [2, 4, 120],
    ]);

    // Stopped once to re-scale (the lease kept), started again with 4 units, stopped at the end.
    expect(entered(result.execution.events, "RestartStopModel")).toBe(1);
    expect(entered(result.execution.events, "EnsureModelRunning")).toBe(2);
    expect(output.restartStop).toMatchObject({ stopped: true, leaseReleased: false });
    expect(output.model).toMatchObject({ units: 4, owned: true });
    expect(output.stop).toMatchObject({ stopped: true, leaseReleased: true });

    expect(result.summary?.counts.succeeded).toBe(IMAGES);
    expect(result.summary?.reconciled).toBe(true);
    expect(result.summary?.rescale?.restarts).toBe(1);
    expect(result.summary?.rescale?.endedSession?.units).toBe(1);
  }, 180_000);

  it("an abort during the restart: the kept lease lets the safety stop find and stop the model, nothing is done twice", async () => {
    fixture = await startFaultStack({ tpsPerUnit: 5 });
    await seedImages(fixture.stack, IMAGES);
    const current = fixture;
    const abort = new AbortController();
    const { value: result, elapsedMs } = await timed(() =>
      runFaultJob(current, {
        input: SLOW_MODEL_INPUT,
        signal: abort.signal,
        onEvent: (event) => {
          if (event.type === "StateEntered" && event.state === "CheckStopped") {
            abort.abort(new Error("operator abort during the restart"));
          }
        },
      }),
    );
    await assertRunInvariants(current, result, {
      status: "ABORTED",
      modelStatus: "STOPPED",
      complete: false,
      elapsedMs,
      maxUnits: 1,
    });
    // The safety stop found this execution's lease (kept by the restart's stop) and released it.
    expect(result.safetyStop?.reason).not.toMatch(/no lease|already released/);
    const lease = await readLease({
      s3: current.stack.s3,
      resultsBucket: current.stack.resultsBucket,
      resultsPrefix: RESULTS_PREFIX,
    });
    expect(lease?.executionId).toBe(result.execution.executionArn);
    expect(lease?.releasedAt).toBeDefined();
    expect(lease?.releaseReason).toMatch(/^safety stop: execution ABORTED/);
    // The first round's images were analysed once; the rest wait for the next run.
    const ledger = await readLedger(current.stack);
    expect(ledger.size).toBe(30);
  }, 180_000);
});
