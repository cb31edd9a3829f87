/**
 * What a running workflow reports, for progress bars and logs. Events carry
 * names and counts, not state data (batches can be large); the result holds
 * the output.
 */

/** Set on events from inside a Distributed Map child execution. */
export interface ChildRef {
  mapState: string;
  mapRunArn: string;
  index: number;
}

export interface MapRunCounts {
  totalChildren: number;
  totalItems: number;
  pending: number;
  running: number;
  succeeded: number;
  failed: number;
  aborted: number;
  itemsSucceeded: number;
  itemsFailed: number;
}

type Timed<T> = T & { timestamp: number };

export type WorkflowEvent = Timed<
  | { type: "ExecutionStarted"; executionArn: string }
  | { type: "ExecutionSucceeded"; executionArn: string }
  | { type: "ExecutionFailed"; executionArn: string; error: string; cause: string }
  | { type: "ExecutionAborted"; executionArn: string }
  | { type: "ExecutionTimedOut"; executionArn: string }
  | { type: "StateEntered"; state: string; stateType: string; child?: ChildRef; iteration?: number }
  | { type: "StateExited"; state: string; stateType: string; child?: ChildRef; iteration?: number }
  | {
      type: "StateFailed";
      state: string;
      stateType: string;
      error: string;
      cause: string;
      child?: ChildRef;
      iteration?: number;
    }
  | {
      type: "StateRetried";
      state: string;
      stateType: string;
      attempt: number;
      child?: ChildRef;
      iteration?: number;
    }
  | {
      type: "StateCaught";
      state: string;
      stateType: string;
      next: string;
      child?: ChildRef;
      iteration?: number;
    }
  | {
      type: "MapRunStarted";
      state: string;
      mapRunArn: string;
      totalItems: number;
      totalChildren: number;
      maxConcurrency: number;
      batched: boolean;
      counts: MapRunCounts;
    }
  | {
      type: "MapChildStarted";
      state: string;
      mapRunArn: string;
      index: number;
      items: number;
      counts: MapRunCounts;
    }
  | {
      type: "MapChildSucceeded";
      state: string;
      mapRunArn: string;
      index: number;
      items: number;
      counts: MapRunCounts;
    }
  | {
      type: "MapChildFailed";
      state: string;
      mapRunArn: string;
      index: number;
      items: number;
      error: string;
      cause: string;
      counts: MapRunCounts;
    }
  | {
      type: "MapChildAborted";
      state: string;
      mapRunArn: string;
      index: number;
      items: number;
      counts: MapRunCounts;
    }
  | { type: "MapRunSucceeded"; state: string; mapRunArn: string; counts: MapRunCounts }
  | {
      type: "MapRunFailed";
      state: string;
      mapRunArn: string;
      error: string;
      cause: string;
      counts: MapRunCounts;
    }
  | { type: "MapRunAborted"; state: string; mapRunArn: string; counts: MapRunCounts }
>;

export type WorkflowEventListener = (event: WorkflowEvent) => void;

/** Distributes omitting `timestamp` over the union, so each variant keeps its own fields. */
export type WorkflowEventInput = WorkflowEvent extends infer E
  ? E extends WorkflowEvent
    ? Omit<E, "timestamp">
    : never
  : never;
