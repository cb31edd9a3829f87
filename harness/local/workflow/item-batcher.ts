import type { JsonValue } from "./asl.ts";
import { MAX_PAYLOAD_BYTES, STATES_RUNTIME, TerminalFailure } from "./limits.ts";

/**
 * ItemBatcher: groups the Map's items into child inputs `{ BatchInput, Items }`,
 * in order, each batch as large as both limits allow.
 */

/** Step Functions' cap on a state's input, and so on one batch. */
export const MAX_BATCH_BYTES = MAX_PAYLOAD_BYTES;

export interface BatchLimits {
  maxItems?: number;
  maxBytes?: number;
  /** Already evaluated against the state input; omitted from batches when undefined. */
  batchInput?: JsonValue;
}

export interface Batch {
  input: { BatchInput?: JsonValue; Items: JsonValue[] };
  /** Position of the batch's first item in the item list. */
  firstItem: number;
}

const byteLength = (value: unknown) => Buffer.byteLength(JSON.stringify(value), "utf8");

/**
 * Splits `items` into batches of at most `maxItems` items and `maxBytes` bytes
 * (the serialised child input, BatchInput included). An item too large to fit
 * in a batch goes alone in its own: that child execution's input is then over
 * the payload quota and it fails with States.DataLimitExceeded, a failed batch
 * the Map counts against its tolerated failures.
 */
export function batchItems(items: JsonValue[], limits: BatchLimits): Batch[] {
  const maxItems = limits.maxItems ?? Number.POSITIVE_INFINITY;
  const maxBytes = Math.min(limits.maxBytes ?? MAX_BATCH_BYTES, MAX_BATCH_BYTES);
  if (!(maxItems >= 1))
    throw new TerminalFailure(STATES_RUNTIME, `MaxItemsPerBatch must be >= 1, got ${maxItems}`);
  const shell: Batch["input"] =
    limits.batchInput === undefined ? { Items: [] } : { BatchInput: limits.batchInput, Items: [] };
  // `{"Items":[]}` plus one byte per item for the separating comma.
  const shellBytes = byteLength(shell);
  const batches: Batch[] = [];
  let current: JsonValue[] = [];
  let currentBytes = shellBytes;
  let firstItem = 0;
  const flush = () => {
    if (current.length === 0) return;
    batches.push({ input: { ...shell, Items: current }, firstItem });
    firstItem += current.length;
    current = [];
    currentBytes = shellBytes;
  };
  items.forEach((item) => {
    const itemBytes = byteLength(item) + (current.length > 0 ? 1 : 0);
    if (current.length >= maxItems || (current.length > 0 && currentBytes + itemBytes > maxBytes)) {
      flush();
    }
    const bytes = byteLength(item);
    current.push(item);
    currentBytes += current.length > 1 ? bytes + 1 : bytes;
  });
  flush();
  return batches;
}
