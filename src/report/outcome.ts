/** The run's verdict in one word, and the sentence that explains it. */
import { readableCause } from "../failure-cause.ts";
import { plural } from "./format.ts";
import type { RunOutcome, RunSummary, RunSummaryInput } from "./run-summary.ts";

export function outcomeOf(
  input: RunSummaryInput,
  counts: RunSummary["counts"],
  discrepancies: readonly string[],
): { outcome: RunOutcome; note: string } {
  if (input.failure) {
    return {
      outcome: "failed",
      note: `The workflow failed: ${input.failure.Error}${input.failure.Cause ? ` (${readableCause(input.failure.Cause)})` : ""}.`,
    };
  }
  if (discrepancies.length > 0) {
    return { outcome: "incomplete", note: discrepancies[0] as string };
  }
  if (input.plan.nothingToDo && counts.pending === 0) {
    return { outcome: "nothing-to-do", note: "No image was pending: the model was not started." };
  }
  if (counts.failed > 0 || counts.unreadable > 0) {
    const parts = [
      ...(counts.failed > 0
        ? [`${plural(counts.failed, "image")} failed with a recorded reason`]
        : []),
      ...(counts.unreadable > 0
        ? [`${plural(counts.unreadable, "image")} could not be read (the next run tries again)`]
        : []),
    ];
    return {
      outcome: "succeeded-with-failures",
      note: `Every pending image has an outcome; ${parts.join("; ")}.`,
    };
  }
  return { outcome: "succeeded", note: "Every pending image was analysed." };
}
