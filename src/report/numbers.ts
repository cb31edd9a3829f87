/** Sums over batches and ISO times as epoch milliseconds, for the summary's builders. */

export function sum<T>(items: readonly T[], value: (item: T) => number): number {
  return items.reduce((total, item) => total + value(item), 0);
}

/** An ISO 8601 time as epoch milliseconds; `undefined` when absent or unreadable. */
export function epochMs(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const value = Date.parse(iso);
  return Number.isNaN(value) ? undefined : value;
}
