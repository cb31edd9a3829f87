/**
 * The fault switches of `npm run local`. Each acts on processing: the model's
 * start (`--fail-start`) or the Map Run (`--lose-unit`, `--abort`, ...). With
 * nothing pending the workflow starts neither, and the run would end SUCCEEDED
 * as if the fault had been survived; so a run with fault switches and nothing
 * to do is refused before it starts, saying how to give it work. A timed fault
 * that processing outran is named in the summary.
 */
import { scanBacklog } from "../../src/backlog.ts";
import { UsageError } from "../command.ts";
import { FAULT_FLAGS, type FaultFlag, type LocalOptions } from "./cli-options.ts";
import type { LocalStack } from "./local-stack.ts";

/** True as soon as one image under the prefix has no valid result for its current version. */
export async function anythingPending(
  stack: LocalStack,
  prefixes: { imagesPrefix: string; resultsPrefix: string },
): Promise<boolean> {
  const entries = scanBacklog({
    s3: stack.s3,
    input: {
      imagesBucket: stack.imagesBucket,
      imagesPrefix: prefixes.imagesPrefix,
      resultsBucket: stack.resultsBucket,
      resultsPrefix: prefixes.resultsPrefix,
      // What the local run's Plan uses: the deployment's default.
      imageMode: "S3Object",
    },
  });
  for await (const entry of entries) {
    if (entry.kind === "pending") return true;
  }
  return false;
}

/** The refusal of fault switches that cannot take effect, naming them and the ways out. */
export function faultsCannotTakeEffect(
  faults: readonly FaultFlag[],
  imagesLocation: string,
): UsageError {
  const named = faults.map((flag) => `--${flag}`).join(", ");
  return new UsageError(
    `Nothing is pending under ${imagesLocation} (every image already has its result), so ${named} cannot take effect: the run would start no model and process nothing. Add --fresh to start again from an empty data folder, or --add-images <n> to give the run new images.`,
  );
}

type TimedFault = Exclude<FaultFlag, "fail-start">;
const TIMED_FAULTS = FAULT_FLAGS.filter((flag): flag is TimedFault => flag !== "fail-start");

/** The timed faults, each set off its number of seconds after the Map Run starts. */
export class FaultSchedule {
  private readonly timers = new Map<TimedFault, NodeJS.Timeout>();
  private readonly fired = new Set<TimedFault>();
  private started = false;

  constructor(
    private readonly stack: LocalStack,
    private readonly numbers: LocalOptions["numbers"],
    private readonly abort: AbortController,
  ) {}

  /** The workflow's events: the images' Map starting (not a sharded Plan's) arms the timers. */
  onEvent(event: { type: string; state?: string }): void {
    if (event.type !== "MapRunStarted" || event.state !== "ProcessImages" || this.started) return;
    this.started = true;
    const arn = this.stack.projectVersionArn;
    const admin = this.stack.emulator.admin;
    this.at("lose-unit", () => admin.failUnit(arn));
    this.at("lose-zone", () => {
      const zone = admin.state().availabilityZones[0]?.name;
      if (!zone) return;
      admin.failZone(zone);
      setTimeout(() => admin.restoreZone(zone), 5000).unref();
    });
    this.at("throttle-storm", () => {
      admin.setCapacityFactor(arn, 0.3);
      setTimeout(() => admin.setCapacityFactor(arn, 1), 5000).unref();
    });
    this.at("abort", () => this.abort.abort(new Error("aborted by --abort")));
  }

  /**
   * Cancels what has not fired (the run is over) and names the timed faults
   * asked for that never fired (`--abort 60`), Map Run or not.
   */
  stop(): string[] {
    for (const timer of this.timers.values()) clearTimeout(timer);
    return TIMED_FAULTS.filter(
      (name) => this.numbers[name] !== undefined && !this.fired.has(name),
    ).map((name) => `--${name} ${this.numbers[name]}`);
  }

  private at(name: TimedFault, action: () => void): void {
    const seconds = this.numbers[name];
    if (seconds === undefined) return;
    const timer = setTimeout(() => {
      this.fired.add(name);
      action();
    }, seconds * 1000).unref();
    this.timers.set(name, timer);
  }
}
