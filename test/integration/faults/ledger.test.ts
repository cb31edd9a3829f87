import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { afterEach, describe, expect, it } from "vitest";
import { renderSampleImage } from "../../../harness/local/sample-images.ts";
import type { LocalHandler, LocalLambdaContext } from "../../../harness/local/workflow/index.ts";
import { resultKeyFor } from "../../../src/result-keys.ts";
import {
  assertRunInvariants,
  type FaultStack,
  listAll,
  RESULTS_PREFIX,
  readLedger,
  realProcessBatch,
  reconcileStack,
  runFaultJob,
  runToCleanFinish,
  seedImages,
  startFaultStack,
  timed,
  waitFor,
} from "../../support/fault-harness.ts";

/**
 * The ledger under attack: images replaced while a run analyses them, result
 * objects that are not records, a batch that fails part-way, and images that
 * cannot be read. Each must end analysed (now or by the next run), and the
 * counts must say what happened.
 */

let fixture: FaultStack | undefined;

afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

async function putImage(current: FaultStack, key: string, body: Buffer | string): Promise<void> {
  const { stack } = current;
  await stack.s3.send(new PutObjectCommand({ Bucket: stack.imagesBucket, Key: key, Body: body }));
}

async function etagOf(current: FaultStack, key: string): Promise<string> {
  const { stack } = current;
  const head = await stack.s3.send(new HeadObjectCommand({ Bucket: stack.imagesBucket, Key: key }));
  return (head.ETag ?? "").replaceAll('"', "");
}

describe("ledger faults", () => {
  it("images overwritten while a slow model analyses them are analysed again by the next run", async () => {
    // One call takes 1 s: the overwrite lands while the batch is in flight,
    // and every result is written after the new object's LastModified.
    fixture = await startFaultStack({ latencyMs: 1000, tpsPerUnit: 10 });
    const current = fixture;
    const sample = await seedImages(current.stack, 4);
    const keys = sample.images.map((image) => image.key);
    const newBytes = await renderSampleImage({
      width: 80,
      height: 80,
      format: "jpeg",
      colours: [{ colour: "green", share: 1 }],
    });
    let overwritten = false;
    const overwriteMidBatch: LocalHandler = async (event: never, context: LocalLambdaContext) => {
      const running = realProcessBatch(event, context);
      if (!overwritten) {
        overwritten = true;
        for (const key of keys) await putImage(current, key, newBytes);
      }
      return running;
    };
    const first = await runFaultJob(current, {
      handlers: { processBatch: overwriteMidBatch },
      input: { lambdaTimeoutSeconds: 900, maxWorkers: 1, expectedLatencyMs: 1000 },
    });
    expect(first.execution.status, first.execution.cause).toBe("SUCCEEDED");
    expect(overwritten).toBe(true);
    // Every result is for the version listed by the plan, not the current one.
    const stale = await reconcileStack(current.stack, [first.plan?.runId ?? ""]);
    expect(stale.stale.sort()).toEqual([...keys].sort());
    expect(stale.exact).toBe(false);

    const second = await runFaultJob(current, {
      input: { lambdaTimeoutSeconds: 900, maxWorkers: 1, expectedLatencyMs: 1000 },
    });
    expect(second.execution.status, second.execution.cause).toBe("SUCCEEDED");
    expect(second.plan?.counts.pending).toBe(keys.length);
    expect(second.plan?.pendingByReason?.replaced).toBe(keys.length);
    expect(second.summary?.counts.replaced).toBe(keys.length);
    const after = await reconcileStack(current.stack, [second.plan?.runId ?? ""]);
    expect(after.exact).toBe(true);
    const ledger = await readLedger(current.stack);
    for (const key of keys) {
      expect(ledger.get(key)?.image.etag.replaceAll('"', "")).toBe(await etagOf(current, key));
      expect(ledger.get(key)?.runId).toBe(second.plan?.runId);
    }
  }, 120_000);

  it("result objects that are not records make their images pending; the next run overwrites them", async () => {
    fixture = await startFaultStack();
    const current = fixture;
    const { stack } = current;
    const sample = await seedImages(stack, 6);
    const first = await runToCleanFinish(current);
    expect(first.report.succeeded).toBe(6);

    const keys = sample.images.map((image) => image.key).slice(0, 4);
    const corrupt = ["not json {", JSON.stringify({ status: "succeeded" }), "", "x".repeat(2e6)];
    for (const [index, key] of keys.entries()) {
      await stack.s3.send(
        new PutObjectCommand({
          Bucket: stack.resultsBucket,
          Key: resultKeyFor(RESULTS_PREFIX, key),
          Body: Buffer.from(corrupt[index] as string),
        }),
      );
    }
    const books = await reconcileStack(stack, []);
    expect(books.corrupt.length).toBe(4);
    expect(books.exact).toBe(false);

    const result = await runFaultJob(current);
    expect(result.execution.status, result.execution.cause).toBe("SUCCEEDED");
    expect(result.plan?.counts.pending).toBe(4);
    expect(result.plan?.pendingByReason?.unreadableResult).toBe(4);
    expect(result.summary?.counts.unreadableResults).toBe(4);
    expect(result.summary?.counts.succeeded).toBe(4);
    const after = await reconcileStack(stack, [result.plan?.runId ?? ""]);
    expect(after.exact).toBe(true);
    expect(after.corrupt).toEqual([]);
    const ledger = await readLedger(stack);
    for (const key of keys) expect(ledger.get(key)?.status).toBe("succeeded");
  });

  it("a batch that fails part-way is counted from the ledger, not from its last word", async () => {
    fixture = await startFaultStack({ tpsPerUnit: 20, latencyMs: 30 });
    const current = fixture;
    const { stack } = current;
    await seedImages(stack, 30);
    const ledgerSize = async () =>
      (await listAll(stack.s3, stack.resultsBucket, `${RESULTS_PREFIX}results/`)).length;
    // The model is stopped under the (single) batch once some results exist: the
    // batch fails with ModelNotReady having written those results.
    const stopPartWay: LocalHandler = async (event: never, context: LocalLambdaContext) => {
      const running = realProcessBatch(event, context);
      await waitFor(async () => (await ledgerSize()) >= 5, "some results");
      stack.emulator.admin.forceStop(current.arn);
      return running;
    };
    const { value: result, elapsedMs } = await timed(() =>
      runFaultJob(current, {
        handlers: { processBatch: stopPartWay },
        input: { lambdaTimeoutSeconds: 900, maxWorkers: 1, tpsPerUnit: 20 },
      }),
    );
    await assertRunInvariants(current, result, {
      status: "FAILED",
      modelStatus: "STOPPED",
      complete: false,
      elapsedMs,
      maxUnits: result.plan?.sizing.units ?? 1,
    });
    const books = await reconcileStack(stack, [result.plan?.runId ?? ""]);
    const counts = result.summary?.counts;
    expect(books.succeeded).toBeGreaterThanOrEqual(5);
    expect(counts?.succeeded).toBe(books.succeeded);
    expect(counts?.countsSource).toBe("ledger");
    expect(counts?.unaccounted).toBe(30 - books.succeeded);
    expect((counts?.succeeded ?? 0) + (counts?.unaccounted ?? 0)).toBe(counts?.pending);
    const check = result.summary?.checks.find((c) => c.name === "pending items");
    expect(check?.ok).toBe(true);
  });

  it("an image that cannot be read is recorded unreadable, counted apart and tried again by the next run", async () => {
    fixture = await startFaultStack();
    const current = fixture;
    const { stack } = current;
    const sample = await seedImages(stack, 6);
    const key = sample.images[0]?.key as string;
    const original = await stack.s3.send(
      new GetObjectCommand({ Bucket: stack.imagesBucket, Key: key }),
    );
    const bytes = Buffer.from(await (original.Body?.transformToByteArray() ?? new Uint8Array()));
    // The model cannot read the image during the first run (as with a missing
    // KMS grant or a transient S3 error): InvalidS3ObjectException.
    let hidden = false;
    const hideFirst: LocalHandler = async (event: never, context: LocalLambdaContext) => {
      if (!hidden) {
        hidden = true;
        await stack.s3.send(new DeleteObjectCommand({ Bucket: stack.imagesBucket, Key: key }));
      }
      return realProcessBatch(event, context);
    };
    const first = await runFaultJob(current, { handlers: { processBatch: hideFirst } });
    expect(first.execution.status, first.execution.cause).toBe("SUCCEEDED");
    expect(first.summary?.counts).toMatchObject({ succeeded: 5, failed: 0, unreadable: 1 });
    expect(first.summary?.discrepancies).toEqual([]);
    expect(first.summary?.reconciled).toBe(true);
    expect(first.summary?.outcome).toBe("succeeded-with-failures");
    const record = (await readLedger(stack)).get(key);
    expect(record?.status).toBe("unreadable");
    expect(record?.error?.name).toBe("InvalidS3ObjectException");

    // Readable again, same bytes, same ETag: pending again, not retired.
    await putImage(current, key, bytes);
    const books = await reconcileStack(stack, [first.plan?.runId ?? ""]);
    expect(books.unreadable).toBe(1);
    const second = await runFaultJob(current);
    expect(second.execution.status, second.execution.cause).toBe("SUCCEEDED");
    expect(second.plan?.counts.pending).toBe(1);
    expect(second.plan?.pendingByReason?.unreadableImage).toBe(1);
    expect((await readLedger(stack)).get(key)?.status).toBe("succeeded");
    expect((await reconcileStack(stack, [second.plan?.runId ?? ""])).exact).toBe(true);
  });
});
