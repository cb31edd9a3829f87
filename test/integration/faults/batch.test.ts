import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterEach, describe, expect, it } from "vitest";
import { crashPartWay } from "../../../harness/local/crash-injection.ts";
import { renderSampleImage } from "../../../harness/local/sample-images.ts";
import type { LocalHandler, LocalLambdaContext } from "../../../harness/local/workflow/index.ts";
import { resultsFolder } from "../../../src/result-keys.ts";
import {
  acceptedCalls,
  assertRunInvariants,
  type FaultStack,
  IMAGES_PREFIX,
  listAll,
  RESULTS_PREFIX,
  readLedger,
  realProcessBatch,
  runFaultJob,
  runToCleanFinish,
  seedImages,
  startFaultStack,
  timed,
  waitFor,
} from "../../support/fault-harness.ts";

/** Faults of the batch Lambda itself, poison objects, and a re-run after a failure. */

let fixture: FaultStack | undefined;

afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

/** How many ledger entries exist now. */
async function ledgerSize(current: FaultStack): Promise<number> {
  const { stack } = current;
  return (await listAll(stack.s3, stack.resultsBucket, resultsFolder(RESULTS_PREFIX))).length;
}

/**
 * The processBatch Lambda whose first invocation crashes half-way: the real
 * handler runs until `afterResults` ledger entries exist, is then cut off (as
 * a process crash would), and the invocation fails with `Lambda.Unknown`.
 */
function crashingHalfWay(current: FaultStack, afterResults: number): LocalHandler {
  let invocations = 0;
  return async (event: never, context: LocalLambdaContext) => {
    invocations += 1;
    if (invocations > 1) return realProcessBatch(event, context);
    return crashPartWay(realProcessBatch, event, context, () =>
      waitFor(async () => (await ledgerSize(current)) >= afterResults, "partial results"),
    );
  };
}

describe("batch Lambda faults", () => {
  it("a batch that crashes half-way is retried: no image analysed twice, none lost", async () => {
    fixture = await startFaultStack({ tpsPerUnit: 20, latencyMs: 30 });
    const current = fixture;
    await seedImages(current.stack, 30);
    const { result, report } = await runToCleanFinish(current, {
      handlers: { processBatch: crashingHalfWay(current, 5) },
      input: { lambdaTimeoutSeconds: 900, maxWorkers: 1 },
    });
    expect(report.succeeded).toBe(30);
    const retried = result.execution.events.filter(
      (event) => event.type === "StateRetried" && event.state === "ProcessBatch",
    );
    expect(retried.length).toBeGreaterThanOrEqual(1);
    // One accepted call per image: the retry skipped what the crashed attempt wrote.
    expect(acceptedCalls(current)).toBe(30);
  });

  it("a batch reaching its Lambda timeout stops on the abort signal and the retry finishes the rest", async () => {
    // 20 images at 5 TPS take 4 s; the abort signal fires 1 s into each attempt
    // (timeout 31 s minus the 30 s grace), so the batch needs several attempts.
    fixture = await startFaultStack({ tpsPerUnit: 5, latencyMs: 30 });
    const current = fixture;
    await seedImages(current.stack, 20);
    const { result, report } = await runToCleanFinish(current, {
      timeouts: { processBatch: 31 },
      input: { lambdaTimeoutSeconds: 900, maxWorkers: 1, tpsPerUnit: 5 },
    });
    expect(report.succeeded).toBe(20);
    const incomplete = result.execution.events.filter(
      (event) => event.type === "StateFailed" && event.error === "BatchIncomplete",
    );
    expect(incomplete.length).toBeGreaterThanOrEqual(1);
    expect(acceptedCalls(current)).toBe(20);
  });

  it("poison objects and awkward keys are each failed or skipped with a reason; the job does not die", async () => {
    fixture = await startFaultStack();
    const current = fixture;
    const { stack } = current;
    const sample = await seedImages(stack, 12, { badObjects: true, oddKeys: true });
    const good = await renderSampleImage({
      width: 64,
      height: 64,
      format: "jpeg",
      colours: [{ colour: "green", share: 1 }],
    });
    const put = (key: string, body: Buffer) =>
      stack.s3.send(new PutObjectCommand({ Bucket: stack.imagesBucket, Key: key, Body: body }));
    const awkward = [
      // A `../` segment cannot be stored under the prefix by the embedded S3 (it
      // normalises the path); the result-key property test covers such keys.
      `${IMAGES_PREFIX}..dots../a..b.jpg`,
      `${IMAGES_PREFIX}a+b c%20d/ünïcødé ✓.jpg`,
      // Near S3's 1,024-byte key limit: its ledger key falls back to a digest.
      `${IMAGES_PREFIX}${`${"long".repeat(48)}/`.repeat(5)}x.jpg`,
    ];
    for (const key of awkward) await put(key, good);
    // Over the 15 MB S3-object limit: skipped at listing, never sent to the model.
    await put(`${IMAGES_PREFIX}huge.jpg`, Buffer.concat([good, Buffer.alloc(15 * 1024 * 1024)]));

    const { report } = await runToCleanFinish(current);
    const failing = sample.bad.filter((bad) => bad.expected.outcome === "failed");
    expect(report.failed).toBe(failing.length);
    expect(report.succeeded).toBe(12 + awkward.length);
    expect(report.skipped).toBe(sample.bad.length - failing.length + 1);
    const ledger = await readLedger(stack);
    for (const key of awkward) expect(ledger.get(key)?.status).toBe("succeeded");
    for (const bad of failing) expect(ledger.get(bad.key)?.error?.name).toMatch(/Invalid/);
  });

  it("a re-run after a failed execution continues without redoing finished images", async () => {
    fixture = await startFaultStack({ tpsPerUnit: 20, latencyMs: 30 });
    const current = fixture;
    await seedImages(current.stack, 30);
    // First execution: the model is stopped under it once some results exist.
    let stopped = false;
    const first = await runFaultJob(current, {
      input: { maxWorkers: 1 },
      onEvent(event) {
        if (event.type === "MapChildSucceeded" && !stopped) {
          stopped = true;
          current.stack.emulator.admin.forceStop(current.arn);
        }
      },
    });
    expect(first.execution.status).toBe("FAILED");
    const afterFirst = await readLedger(current.stack);
    expect(afterFirst.size).toBeGreaterThan(0);
    expect(afterFirst.size).toBeLessThan(30);
    const callsBefore = acceptedCalls(current);

    const { value: second, elapsedMs } = await timed(() => runFaultJob(current));
    await assertRunInvariants(current, second, {
      status: "SUCCEEDED",
      modelStatus: "STOPPED",
      complete: true,
      elapsedMs,
      maxUnits: 2 * (second.plan?.sizing.units ?? 1),
      runIds: [second.plan?.runId ?? ""],
    });
    expect(second.plan?.counts.pending).toBe(30 - afterFirst.size);
    expect(acceptedCalls(current) - callsBefore).toBe(30 - afterFirst.size);
    const afterSecond = await readLedger(current.stack);
    for (const [key, record] of afterFirst) {
      expect(afterSecond.get(key)?.runId).toBe(record.runId);
    }
  });
});
