import type { LedgerEntry } from "./ledger-index.ts";
import { escapeKeyPath, resultKeyFor, resultsFolder } from "./result-keys.ts";
import { compareKeys } from "./s3-listing.ts";

/**
 * The backlog meets the ledger in one ordered pass: images arrive in S3's key
 * order, ledger entries too, and for most images the result key sorts exactly
 * as the image key does, so a cursor that only moves forward finds each
 * image's entry while holding one entry at a time, however many there are.
 *
 * The result key is `<results folder><escaped image key>.json`. Between two
 * image keys, neither a prefix of the other, the first differing byte stays
 * the first differing byte after escaping (`%` becomes `%25`, which still
 * starts with `%`), so the order holds. It can break only for:
 * - a key with an empty, `.` or `..` folder (escaped to `%00`, `%2E`, `%2E%2E`);
 * - a key too long for S3 once prefixed (its result goes under `_long-keys/`);
 * - an image key that is a prefix of another image key: `a.jpg` before
 *   `a.jpg-2.jpg`, but `a.jpg.json` after `a.jpg-2.jpg.json`. Both end in an
 *   image extension, so the longer one has an extension inside it.
 * Images of those three kinds are looked up one by one instead (see
 * `joinsInOrder`); every other pair keeps its order, which `LedgerCursor`
 * checks as it goes.
 */

/** An image extension followed by more characters. */
const EXTENSION_INSIDE = /\.(jpe?g|png)(?!$)/i;

/**
 * Whether the ordered pass finds this (supported) image's ledger entry. When
 * it does not, look the entry up by its key.
 */
export function joinsInOrder(resultsPrefix: string, imageKey: string): boolean {
  if (EXTENSION_INSIDE.test(imageKey)) return false;
  if (escapeKeyPath(imageKey) !== imageKey.replaceAll("%", "%25")) return false;
  const plain = `${resultsFolder(resultsPrefix)}${escapeKeyPath(imageKey)}.json`;
  return resultKeyFor(resultsPrefix, imageKey) === plain;
}

/**
 * A forward-only cursor over ledger entries in ascending key order. It holds
 * one entry (the first not yet passed) and never reads more than one entry
 * past the key it is asked for.
 */
export class LedgerCursor {
  private readonly entries: AsyncIterator<LedgerEntry>;
  /** The entry under the cursor; undefined before the first read or at the end. */
  private current: LedgerEntry | undefined;
  private started = false;
  private ended = false;
  private lastTarget: string | undefined;

  constructor(entries: AsyncIterable<LedgerEntry>) {
    this.entries = entries[Symbol.asyncIterator]();
  }

  /** How many entries the cursor holds: never more than one. */
  get held(): number {
    return this.current === undefined ? 0 : 1;
  }

  /**
   * The entry at `resultKey`, or undefined when there is none. Targets must
   * ascend: a target at or before the previous one is a broken order, and
   * fails rather than answer wrong.
   */
  async seek(resultKey: string): Promise<LedgerEntry | undefined> {
    if (this.lastTarget !== undefined && compareKeys(resultKey, this.lastTarget) <= 0) {
      throw new Error(
        `ledger keys asked out of order: ${JSON.stringify(resultKey)} after ${JSON.stringify(this.lastTarget)}`,
      );
    }
    this.lastTarget = resultKey;
    if (!this.started) await this.advance();
    while (this.current !== undefined && compareKeys(this.current.resultKey, resultKey) < 0) {
      await this.advance();
    }
    return this.current?.resultKey === resultKey ? this.current : undefined;
  }

  /** Reads every remaining entry (each passes through the source's own side effects). */
  async drain(): Promise<void> {
    if (!this.started) await this.advance();
    while (!this.ended) await this.advance();
  }

  /** Stops reading the source early (after a failure). */
  async close(): Promise<void> {
    if (!this.ended) await this.entries.return?.();
    this.ended = true;
    this.current = undefined;
  }

  private async advance(): Promise<void> {
    this.started = true;
    if (this.ended) return;
    const next = await this.entries.next();
    if (next.done) {
      this.ended = true;
      this.current = undefined;
    } else {
      this.current = next.value;
    }
  }
}
