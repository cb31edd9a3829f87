/**
 * When a Map Run fails: more failed items than ToleratedFailureCount, or a
 * larger share of all items than ToleratedFailurePercentage. Both default to
 * 0, so by default one failure fails the run. With ItemBatcher, every item of
 * a failed batch counts as failed.
 */

export const EXCEED_TOLERATED_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold";

export interface ToleratedFailures {
  count?: number;
  percentage?: number;
}

export class FailureTolerance {
  private failedItems = 0;

  constructor(
    private readonly totalItems: number,
    private readonly tolerated: ToleratedFailures,
  ) {
    const { count, percentage } = tolerated;
    if (count !== undefined && !(Number.isInteger(count) && count >= 0)) {
      throw new RangeError(`ToleratedFailureCount must be an integer >= 0, got ${count}`);
    }
    if (percentage !== undefined && !(percentage >= 0 && percentage <= 100)) {
      throw new RangeError(
        `ToleratedFailurePercentage must be between 0 and 100, got ${percentage}`,
      );
    }
  }

  get failed(): number {
    return this.failedItems;
  }

  /** Records failed items; returns true once the threshold is exceeded. */
  recordFailure(items: number): boolean {
    this.failedItems += items;
    return this.exceeded;
  }

  get exceeded(): boolean {
    if (this.failedItems === 0) return false;
    const { count, percentage } = this.tolerated;
    // Neither set: nothing is tolerated. Either set alone: only it applies.
    if (count === undefined && percentage === undefined) return true;
    if (count !== undefined && this.failedItems > count) return true;
    if (percentage !== undefined && (this.failedItems / this.totalItems) * 100 > percentage)
      return true;
    return false;
  }
}
