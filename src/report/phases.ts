/** The run's phases (plan, start, processing, stop, report) with their times. */
import type { BatchOutput } from "../shapes.ts";
import { epochMs } from "./numbers.ts";
import type { Phase, RunSummaryInput } from "./run-summary.ts";

function phase(
  name: Phase["name"],
  label: string,
  startedAt: string | undefined,
  endedAt: string | undefined,
  note?: string,
): Phase {
  const from = epochMs(startedAt);
  const to = epochMs(endedAt);
  const seconds = from !== undefined && to !== undefined ? Math.max(0, (to - from) / 1000) : null;
  return { name, label, startedAt, endedAt, seconds, ...(note ? { note } : {}) };
}

/** From the first batch's start to the last batch's end, ISO 8601 (each `undefined` when unknown). */
export function processingWindow(batches: readonly BatchOutput[]): {
  startedAt?: string;
  endedAt?: string;
} {
  const starts = batches.map((b) => epochMs(b.startedAt)).filter((t) => t !== undefined);
  const ends = batches.map((b) => epochMs(b.endedAt)).filter((t) => t !== undefined);
  const iso = (t: number | undefined) => (t === undefined ? undefined : new Date(t).toISOString());
  return {
    startedAt: iso(starts.sort((a, b) => a - b)[0]),
    endedAt: iso(ends.sort((a, b) => b - a)[0]),
  };
}

/**
 * `runningSeenAt`: when a check saw the model RUNNING; `nowIso`: when the
 * report is made (the end of its own phase).
 */
export function phasesOf(
  input: RunSummaryInput,
  runningSeenAt: string | undefined,
  nowIso: string,
): Phase[] {
  const { plan, model, stop } = input;
  const processing = processingWindow(input.batches);
  const startRequestedAt = model?.owned ? model.startRequestedAt : undefined;
  return [
    phase(
      "plan",
      "Plan (list, size)",
      input.executionStartedAt,
      plan.plannedAt,
      input.executionStartedAt ? undefined : "execution start time not passed to the report",
    ),
    phase(
      "start",
      "Model start (request to RUNNING)",
      startRequestedAt,
      startRequestedAt ? runningSeenAt : undefined,
      model && !model.owned ? "model was already running" : model ? undefined : "model not started",
    ),
    phase(
      "processing",
      "Processing (first to last batch)",
      processing.startedAt,
      processing.endedAt,
    ),
    phase(
      "stop",
      "Last image to stop request",
      processing.endedAt,
      model?.owned ? stop?.stopRequestedAt : undefined,
      model?.owned ? undefined : "this run does not stop the model",
    ),
    phase(
      "report",
      "Report",
      stop?.stopRequestedAt ?? processing.endedAt ?? plan.plannedAt,
      nowIso,
    ),
  ];
}
