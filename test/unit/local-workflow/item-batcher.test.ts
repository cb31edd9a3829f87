import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { JsonValue } from "../../../harness/local/workflow/asl.ts";
import { batchItems, MAX_BATCH_BYTES } from "../../../harness/local/workflow/item-batcher.ts";

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), "utf8");

describe("batchItems", () => {
  it("cuts batches of MaxItemsPerBatch items, the last one shorter, BatchInput in each", () => {
    const items = Array.from({ length: 23 }, (_, id) => ({ id }));
    const batches = batchItems(items, { maxItems: 10, batchInput: { runId: "r" } });
    expect(batches.map((batch) => batch.input.Items.length)).toEqual([10, 10, 3]);
    expect(batches.map((batch) => batch.firstItem)).toEqual([0, 10, 20]);
    expect(
      batches.every((batch) => JSON.stringify(batch.input.BatchInput) === '{"runId":"r"}'),
    ).toBe(true);
  });

  it("leaves BatchInput out when none is given", () => {
    expect(batchItems([1, 2], { maxItems: 5 })).toEqual([
      { input: { Items: [1, 2] }, firstItem: 0 },
    ]);
  });

  it("keeps every batch within MaxInputBytesPerBatch, counting the whole child input", () => {
    const items = Array.from({ length: 10 }, (_, n) => "x".repeat(90 + n));
    const batches = batchItems(items, { maxBytes: 300, batchInput: { k: 1 } });
    for (const batch of batches) expect(bytes(batch.input)).toBeLessThanOrEqual(300);
    // A batch is only closed when the next item would not fit.
    for (const [index, batch] of batches.slice(0, -1).entries()) {
      const next = batches[index + 1]?.input.Items[0];
      expect(bytes({ ...batch.input, Items: [...batch.input.Items, next] })).toBeGreaterThan(300);
    }
    expect(batches.flatMap((batch) => batch.input.Items)).toEqual(items);
  });

  it("puts an item too large for any batch alone in its own (its child then fails the payload quota)", () => {
    const batches = batchItems(["small", "y".repeat(500), "tail"], { maxBytes: 200 });
    expect(batches.map((batch) => batch.input.Items)).toEqual([
      ["small"],
      ["y".repeat(500)],
      ["tail"],
    ]);
  });

  it("never exceeds Step Functions' 256 KiB state limit, even without a byte limit", () => {
    const items = Array.from({ length: 6 }, () => "z".repeat(60_000));
    const batches = batchItems(items, { maxItems: 100 });
    expect(batches.length).toBeGreaterThan(1);
    for (const batch of batches) expect(bytes(batch.input)).toBeLessThanOrEqual(MAX_BATCH_BYTES);
  });

  it("rejects a MaxItemsPerBatch below 1", () => {
    expect(() => batchItems([1], { maxItems: 0 })).toThrow(/MaxItemsPerBatch must be >= 1/);
  });

  it("keeps every item exactly once, in order, within both limits (property)", () => {
    const item = fc.oneof(
      fc.integer(),
      fc.string({ maxLength: 40 }),
      fc.record({ key: fc.string({ maxLength: 20 }) }),
    );
    fc.assert(
      fc.property(
        fc.array(item, { maxLength: 60 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 120, max: 600 }),
        (items, maxItems, maxBytes) => {
          const batches = batchItems(items as JsonValue[], {
            maxItems,
            maxBytes,
            batchInput: { b: 1 },
          });
          expect(batches.flatMap((batch) => batch.input.Items)).toEqual(items);
          for (const batch of batches) {
            expect(batch.input.Items.length).toBeGreaterThan(0);
            expect(batch.input.Items.length).toBeLessThanOrEqual(maxItems);
            expect(bytes(batch.input)).toBeLessThanOrEqual(maxBytes);
          }
        },
      ),
    );
  });
});
