import cliProgress from "cli-progress";
import type { Emulator } from "./emulator/index.ts";
import type { WorkflowEvent } from "./workflow/index.ts";

/**
 * What a person watching `npm run local` sees: a live bar on a terminal
 * (images done of pending, rate against the provisioned limit, throttles,
 * model status and units), plain log lines otherwise.
 */

export interface ProgressSnapshot {
  phase: string;
  done: number;
  total: number;
  /** Accepted DetectCustomLabels calls in the last full second. */
  rate: number;
  /** In-service units x TPS per unit, as the emulator enforces it. */
  limit: number;
  throttled: number;
  modelStatus: string;
  units: number;
}

export class LocalProgress {
  private phase = "starting";
  private total = 0;
  private doneBatches = 0;
  private bar: cliProgress.SingleBar | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastLine = "";
  private lastLineAt = 0;

  constructor(
    private readonly emulator: Emulator,
    private readonly projectVersionArn: string,
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly interactive = Boolean(process.stdout.isTTY),
  ) {}

  start(): void {
    if (this.interactive) {
      this.bar = new cliProgress.SingleBar(
        {
          format:
            " {phase} |{bar}| {value}/{total} images | {rate}/{limit} TPS | {throttled} throttled | model {model}",
          hideCursor: true,
          clearOnComplete: false,
          stream: this.out,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(0, 0, this.payload(this.snapshot()));
    }
    this.timer = setInterval(() => this.render(), this.interactive ? 250 : 1000);
    this.timer.unref();
  }

  /** Feed every workflow event here. */
  onEvent = (event: WorkflowEvent): void => {
    if (event.type === "StateEntered" && !event.child) {
      this.phase = event.state;
      this.render(true);
    }
    // The images' Map only: a sharded Plan's PlanShards Map runs before it.
    if (event.type === "MapRunStarted" && event.state === "ProcessImages") {
      this.total = event.counts.totalItems;
    }
    if (event.type === "MapChildSucceeded" && event.state === "ProcessImages") {
      this.doneBatches = event.counts.succeeded;
    }
  };

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.render(true);
    this.bar?.stop();
  }

  snapshot(): ProgressSnapshot {
    const model = this.emulator.admin
      .state()
      .models.find((candidate) => candidate.arn === this.projectVersionArn);
    const timeline = this.emulator.admin.timeline(this.projectVersionArn);
    const last = timeline.at(-2) ?? timeline.at(-1);
    const accepted = timeline.reduce((sum, second) => sum + second.accepted, 0);
    const throttled = timeline.reduce((sum, second) => sum + second.throttled, 0);
    return {
      phase: this.phase,
      // Accepted calls are analysed images (a retried call is only accepted once).
      done: Math.min(accepted, this.total || accepted),
      total: this.total,
      rate: last?.accepted ?? 0,
      limit: Math.round(model?.capacityTps ?? 0),
      throttled,
      modelStatus: model?.status ?? "unknown",
      units: model?.inServiceUnits ?? 0,
    };
  }

  private payload(s: ProgressSnapshot) {
    return {
      phase: s.phase.padEnd(18),
      rate: s.rate,
      limit: s.limit,
      throttled: s.throttled,
      model: `${s.modelStatus} (${s.units} unit${s.units === 1 ? "" : "s"})`,
    };
  }

  private render(force = false): void {
    const s = this.snapshot();
    if (this.bar) {
      this.bar.setTotal(s.total);
      this.bar.update(s.done, this.payload(s));
      return;
    }
    const line = `[${s.phase}] ${s.done}/${s.total} images, ${s.rate}/${s.limit} TPS, ${s.throttled} throttled, model ${s.modelStatus} (${s.units} units), ${this.doneBatches} batches done`;
    const now = Date.now();
    if (line !== this.lastLine && (force || now - this.lastLineAt >= 2000)) {
      this.out.write(`${line}\n`);
      this.lastLine = line;
      this.lastLineAt = now;
    }
  }
}
