/**
 * How `npm run local` ends. A succeeded execution is not enough: a model
 * this run started and left running (its lease taken over, a stop that never
 * landed) is still billed, so that run must not exit 0.
 */

/** Model statuses that are not (or no longer) serving: STOPPING is a stop already under way. */
const NOT_RUNNING = new Set([
  "STOPPING",
  "STOPPED",
  "FAILED",
  "TRAINING_COMPLETED",
  "TRAINING_FAILED",
  "DELETING",
]);

export interface RunVerdict {
  exitCode: 0 | 1;
  /** Why a succeeded execution still fails the run. */
  warning?: string;
}

export function runVerdict(executionStatus: string, modelStatus: string): RunVerdict {
  if (!NOT_RUNNING.has(modelStatus)) {
    return {
      exitCode: 1,
      warning: `The model is still ${modelStatus} after the run: it is billed until it is stopped.`,
    };
  }
  return { exitCode: executionStatus === "SUCCEEDED" ? 0 : 1 };
}
