/**
 * Step Functions caps every state's input and output at 256 KiB (UTF-8 bytes
 * of the JSON). Past it the state fails with `States.DataLimitExceeded`, which
 * `States.ALL` does not catch: the execution (or the Map child) fails without
 * any Catch running. So everything a Lambda of this workflow returns, and
 * every message it raises, is kept well under the cap by construction.
 */

/** Step Functions' limit on a state's input or output. */
export const STATE_PAYLOAD_LIMIT_BYTES = 256 * 1024;

/**
 * What one batch's output may take: the cap with room to spare, so that a
 * change elsewhere (a new field, a longer ARN) cannot tip it over.
 */
export const BATCH_OUTPUT_BUDGET_BYTES = 200 * 1024;

/** Longest error message a Lambda of this workflow raises (it becomes the Catch's `Cause`). */
export const MAX_ERROR_MESSAGE_CHARS = 4000;

/** UTF-8 size of a value's JSON, as Step Functions measures a payload. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? "", "utf8");
}

/**
 * Cuts `text` to at most `maxChars` characters (code points, so a multi-byte
 * character is never split), marking the cut with how much was left out.
 */
export function truncateText(text: string, maxChars: number): string {
  const chars = Array.from(text);
  if (chars.length <= maxChars) return text;
  const note = ` [... ${chars.length - maxChars} more characters]`;
  return chars.slice(0, Math.max(0, maxChars - note.length)).join("") + note;
}
