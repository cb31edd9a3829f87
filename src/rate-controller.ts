import { AdaptiveRateController } from "./adaptive-rate-controller.ts";
import { autoScalingPace } from "./auto-scaling-pace.ts";
import type { Clock } from "./runtime.ts";

/**
 * The one gate every DetectCustomLabels call of a process goes through. The
 * batch asks it for a slot before each call and tells it of each throttle;
 * how the rate is found is the implementation's business.
 */
export interface RateController {
  /**
   * Waits until a call may go out. Resolves with the clock time it was
   * granted (to pass to `onThrottle`). Rejects with the signal's reason when
   * aborted, without taking a slot.
   */
  acquire(signal?: AbortSignal): Promise<number>;
  /** Reports that a call granted at `grantedAt` was throttled (ProvisionedThroughputExceeded). */
  onThrottle(grantedAt?: number): void;
  /** The current rate and what the controller has done so far, for the batch's log line. */
  stats(): RateControllerStats;
  /** The batch using the controller has ended (it goes back to the pool). */
  batchEnded?(): void;
  /** A new batch takes the controller over (a warm Lambda's next batch of the run). */
  newBatch?(): void;
}

/** What every rate controller reports; an implementation may add its own figures. */
export interface RateControllerStats {
  plannedTps: number;
  /** The rate right now, calls per second. */
  rateTps: number;
  /** Calls let through. */
  granted: number;
  /** Throttles reported. */
  throttles: number;
}

/** Makes the controller of a batch; the adaptive token bucket unless another is passed in. */
export type RateControllerFactory = (options: {
  plannedTps: number;
  clock: Clock;
  /** Set when the model auto-scales: the most calls per second this worker may climb to. */
  ceilingTps?: number;
}) => RateController;

const adaptive: RateControllerFactory = ({ plannedTps, clock, ceilingTps }) =>
  new AdaptiveRateController({ plannedTps, clock, ...autoScalingPace(plannedTps, ceilingTps) });

/** Controllers not in use right now, per run and model version. */
const idle = new Map<string, RateController[]>();

/** A controller checked out for one invocation; `release` hands it back. */
export interface RateControllerLease {
  controller: RateController;
  release(): void;
}

/**
 * A controller for one batch invocation: a warm Lambda gets back the one its
 * previous batch of the run used, keeping what it learned about the model's
 * real throughput. Invocations running at the same time in one process (the
 * local engine runs every worker in one process) each get their own, as
 * separate Lambdas would: sharing one would cap them all at one worker's rate.
 * Controllers of other runs are dropped. With `ceilingTps` (the model
 * auto-scales) the controller may climb to it: see auto-scaling-pace.ts.
 */
export function checkOutRateController(
  key: { runId: string; projectVersionArn: string; plannedTps: number; ceilingTps?: number },
  clock: Clock,
  create: RateControllerFactory = adaptive,
): RateControllerLease {
  const id = `${key.runId}\n${key.projectVersionArn}\n${key.plannedTps}\n${key.ceilingTps ?? ""}`;
  for (const other of idle.keys()) if (other !== id) idle.delete(other);
  const reused = idle.get(id)?.pop();
  reused?.newBatch?.();
  const controller =
    reused ??
    create({
      plannedTps: key.plannedTps,
      clock,
      ...(key.ceilingTps !== undefined ? { ceilingTps: key.ceilingTps } : {}),
    });
  let released = false;
  return {
    controller,
    release() {
      if (released) return;
      released = true;
      controller.batchEnded?.();
      const list = idle.get(id) ?? [];
      list.push(controller);
      idle.set(id, list);
    },
  };
}
