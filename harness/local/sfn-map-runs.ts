/**
 * Map Runs of local executions, as ListMapRuns and DescribeMapRun report them,
 * kept up to date from the workflow's events.
 */
import type { MapRunCounts, WorkflowEvent } from "./workflow/index.ts";

/** Epoch ms as the API's epoch seconds. */
export const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);

export interface MapRunRecord {
  mapRunArn: string;
  executionArn: string;
  status: "RUNNING" | "SUCCEEDED" | "FAILED" | "ABORTED";
  startDate: number;
  stopDate?: number;
  maxConcurrency: number;
  counts: MapRunCounts;
  /** Items of each started child that has not ended: the items "running" now. */
  runningItemsByChild: Map<number, number>;
  itemsAborted: number;
}

function mapRunStatusFor(event: WorkflowEvent): MapRunRecord["status"] | undefined {
  if (event.type === "MapRunSucceeded") return "SUCCEEDED";
  if (event.type === "MapRunFailed") return "FAILED";
  if (event.type === "MapRunAborted") return "ABORTED";
  return undefined;
}

/** Keeps an execution's Map Runs up to date from the workflow's events. */
export function recordMapRunEvent(
  execution: { executionArn: string; mapRuns: MapRunRecord[] },
  event: WorkflowEvent,
): void {
  if (event.type === "MapRunStarted") {
    execution.mapRuns.push({
      mapRunArn: event.mapRunArn,
      executionArn: execution.executionArn,
      status: "RUNNING",
      startDate: event.timestamp,
      maxConcurrency: event.maxConcurrency,
      counts: event.counts,
      runningItemsByChild: new Map(),
      itemsAborted: 0,
    });
    return;
  }
  if (!("mapRunArn" in event) || !("counts" in event)) return;
  const run = execution.mapRuns.find((candidate) => candidate.mapRunArn === event.mapRunArn);
  if (!run) return;
  run.counts = event.counts;
  if (event.type === "MapChildStarted") run.runningItemsByChild.set(event.index, event.items);
  if (
    event.type === "MapChildSucceeded" ||
    event.type === "MapChildFailed" ||
    event.type === "MapChildAborted"
  ) {
    run.runningItemsByChild.delete(event.index);
    if (event.type === "MapChildAborted") run.itemsAborted += event.items;
  }
  const status = mapRunStatusFor(event);
  if (status) {
    run.status = status;
    run.stopDate = event.timestamp;
  }
}

export function describeMapRun(run: MapRunRecord) {
  const c = run.counts;
  const runningItems = [...run.runningItemsByChild.values()].reduce((a, b) => a + b, 0);
  const finishedItems = c.itemsSucceeded + c.itemsFailed + run.itemsAborted;
  const itemCounts = {
    pending: Math.max(0, c.totalItems - finishedItems - runningItems),
    running: runningItems,
    succeeded: c.itemsSucceeded,
    failed: c.itemsFailed,
    timedOut: 0,
    aborted: run.itemsAborted,
    total: c.totalItems,
    resultsWritten: c.itemsSucceeded + c.itemsFailed,
  };
  const executionCounts = {
    pending: c.pending,
    running: c.running,
    succeeded: c.succeeded,
    failed: c.failed,
    timedOut: 0,
    aborted: c.aborted,
    total: c.totalChildren,
    resultsWritten: c.succeeded + c.failed,
  };
  return {
    mapRunArn: run.mapRunArn,
    executionArn: run.executionArn,
    status: run.status,
    startDate: seconds(run.startDate),
    stopDate: seconds(run.stopDate),
    maxConcurrency: run.maxConcurrency,
    // The local engine does not report the Map's tolerance in its events.
    toleratedFailurePercentage: 0,
    toleratedFailureCount: 0,
    itemCounts,
    executionCounts,
  };
}
