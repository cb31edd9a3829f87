import type { Clock } from "../../../src/runtime.ts";
import { ApiError, resourceInUse } from "./api-error.ts";
import { DemandScaler } from "./autoscaler.ts";
import { BillingMeter } from "./billing-meter.ts";
import type { EmulatorSettings, ModelFeature } from "./settings.ts";
import { Timeline } from "./timeline.ts";
import { Timers } from "./timers.ts";
import { TokenBucket } from "./token-bucket.ts";
import { type InferenceUnit, UnitPool } from "./unit-pool.ts";
import type { AvailabilityZones } from "./zones.ts";

export type VersionStatus =
  | "TRAINING_IN_PROGRESS"
  | "TRAINING_COMPLETED"
  | "TRAINING_FAILED"
  | "STARTING"
  | "RUNNING"
  | "FAILED"
  | "STOPPING"
  | "STOPPED"
  | "DEPRECATED"
  | "EXPIRED";

const STARTABLE: ReadonlySet<VersionStatus> = new Set(["TRAINING_COMPLETED", "STOPPED", "FAILED"]);
const STOPPABLE: ReadonlySet<VersionStatus> = new Set(["RUNNING", "STARTING"]);

/** Faults injected into one model version. */
export interface ModelFaults {
  /** Effective TPS per unit is multiplied by this, in (0, 1]. */
  capacityFactor: number;
  /** Share of accepted DetectCustomLabels calls answered with InternalServerError (HTTP 500). */
  errorRate: number;
  /** Share of accepted DetectCustomLabels calls whose connection is dropped without an answer. */
  dropRate: number;
  /** When set, the next start ends in FAILED with this StatusMessage. */
  nextStartFailure?: string;
}

export const NO_FAULTS: Readonly<ModelFaults> = { capacityFactor: 1, errorRate: 0, dropRate: 0 };

/** What every model version shares: settings, clock and the Region's zones. */
export interface ModelEnvironment {
  settings: EmulatorSettings;
  clock: Clock;
  zones: AvailabilityZones;
}

export interface ModelVersionIdentity {
  arn: string;
  projectArn: string;
  project: string;
  version: string;
  feature: ModelFeature;
  createdAt: number;
  outputConfig?: { S3Bucket?: string; S3KeyPrefix?: string };
  versionDescription?: string;
}

/** The admin view of a model version. */
export interface ModelVersionState {
  arn: string;
  projectArn: string;
  project: string;
  version: string;
  feature: ModelFeature;
  status: VersionStatus;
  statusMessage: string;
  minInferenceUnits?: number;
  maxInferenceUnits?: number;
  desiredUnits: number;
  inServiceUnits: number;
  capacityTps: number;
  demandTps: number;
  units: InferenceUnit[];
  faults: ModelFaults;
}

/**
 * One model version: its status lifecycle, inference units, throughput limit,
 * auto-scaling, billing meter and timeline. Everything that happens later
 * (start-up, stop, unit start-up and replacement, scaling ticks) is scheduled
 * on the session's timers, which a stop cancels as a whole.
 */
export class ModelVersion {
  status: VersionStatus;
  statusMessage: string;
  minUnits: number | undefined;
  maxUnits: number | undefined;
  desiredUnits = 0;
  faults: ModelFaults = { ...NO_FAULTS };
  readonly meter = new BillingMeter();
  readonly timeline = new Timeline();
  private readonly units: UnitPool;
  private bucket: TokenBucket;
  private scaler: DemandScaler | undefined;
  private session: Timers;

  constructor(
    readonly identity: ModelVersionIdentity,
    private readonly env: ModelEnvironment,
    status: VersionStatus = "TRAINING_COMPLETED",
  ) {
    this.status = status;
    this.statusMessage = defaultMessage(status);
    this.units = new UnitPool(env.zones);
    this.bucket = new TokenBucket(0, env.clock.now());
    this.session = new Timers(env.clock);
  }

  get arn(): string {
    return this.identity.arn;
  }

  /** StartProjectVersion: STARTING now, RUNNING (or FAILED, if injected) after the start delay. */
  start(minUnits: number, maxUnits: number | undefined): VersionStatus {
    if (!STARTABLE.has(this.status)) {
      throw resourceInUse(
        `ProjectVersion ${this.arn} is ${this.status}; it can be started only when TRAINING_COMPLETED, STOPPED or FAILED.`,
      );
    }
    const { settings, clock } = this.env;
    const now = clock.now();
    this.beginSession(minUnits, maxUnits);
    this.setStatus("STARTING");
    if (settings.billFrom === "start-request") this.meter.open(now, minUnits);
    const failure = this.faults.nextStartFailure;
    this.faults.nextStartFailure = undefined;
    this.session.after(settings.startDelayMs, () =>
      failure === undefined ? this.becomeRunning() : this.becomeFailed(failure),
    );
    this.session.every(settings.tickMs, () => this.tick());
    return this.status;
  }

  /** A fresh session: its timers, unit bounds and the starting units. */
  private beginSession(minUnits: number, maxUnits: number | undefined): void {
    this.resetSession();
    this.minUnits = minUnits;
    this.maxUnits = maxUnits;
    this.desiredUnits = minUnits;
    this.units.clear();
    this.units.add(minUnits, "starting");
  }

  /** Puts a version straight into RUNNING (declared running, no start delay). */
  startRunningNow(minUnits: number, maxUnits: number | undefined): void {
    this.beginSession(minUnits, maxUnits);
    this.meter.open(this.env.clock.now(), minUnits);
    this.becomeRunning();
    this.session.every(this.env.settings.tickMs, () => this.tick());
  }

  /** StopProjectVersion: STOPPING now, STOPPED after the stop delay. */
  stop(): VersionStatus {
    if (!STOPPABLE.has(this.status)) {
      throw resourceInUse(
        `ProjectVersion ${this.arn} is ${this.status}; it can be stopped only when RUNNING or STARTING.`,
      );
    }
    this.resetSession();
    this.setStatus("STOPPING");
    this.session.after(this.env.settings.stopDelayMs, () => this.becomeStopped());
    // STOPPING is still billed: keep the timeline (and so the published metrics) going.
    this.refresh();
    this.session.every(this.env.settings.tickMs, () => this.refresh());
    return this.status;
  }

  /**
   * The throttling decision, made when a DetectCustomLabels call arrives:
   * true if a token was taken. Every arrival counts as demand.
   */
  admit(): boolean {
    const now = this.env.clock.now();
    this.scaler?.recordArrival(now);
    const accepted = this.status === "RUNNING" && this.bucket.tryTake(now);
    this.timeline.recordCall(now, accepted ? "accepted" : "throttled", this.unitFigures());
    return accepted;
  }

  inServiceUnits(): number {
    return this.status === "RUNNING" ? this.units.inServiceCount() : 0;
  }

  /** Calls per second the model accepts now: in-service units x TPS per unit x capacity factor. */
  capacityTps(): number {
    return this.inServiceUnits() * this.env.settings.tpsPerUnit * this.faults.capacityFactor;
  }

  /** Takes one serving unit out of service; it is replaced in the same zone later. */
  failUnit(zone?: string): InferenceUnit {
    if (this.status !== "RUNNING") {
      throw new ApiError(
        "InvalidFault",
        `ProjectVersion ${this.arn} is ${this.status}, not RUNNING.`,
      );
    }
    const unit = this.units.pickServing(zone);
    if (!unit) {
      throw new ApiError(
        "InvalidFault",
        `ProjectVersion ${this.arn} has no serving unit${zone ? ` in ${zone}` : ""}.`,
      );
    }
    this.units.setState(unit.id, "replacing");
    this.refresh();
    this.session.after(this.env.settings.unitReplaceDelayMs, () => {
      if (this.units.setState(unit.id, "in-service")) this.refresh();
    });
    return { ...unit, state: "replacing" };
  }

  /** Stops the model as if someone else had called StopProjectVersion. */
  forceStop(): VersionStatus {
    return this.stop();
  }

  setFaults(faults: Partial<ModelFaults>): void {
    this.faults = { ...this.faults, ...faults };
    this.refresh();
  }

  /**
   * Re-applies capacity, billed units and the timeline after anything that
   * changes the serving units (zone failures included).
   */
  refresh(): void {
    const now = this.env.clock.now();
    if (this.status === "RUNNING") {
      this.bucket.setRate(this.capacityTps(), now);
      this.meter.setUnits(now, this.inServiceUnits());
    }
    if (this.status !== "STOPPED") {
      this.timeline.sample(now, this.unitFigures());
    }
  }

  /** Desired, in-service and billed units, and the session's bounds (Max defaults to Min). */
  private unitFigures() {
    const min = this.minUnits;
    return {
      desired: this.desiredUnits,
      inService: this.inServiceUnits(),
      billed: this.meter.billingUnits,
      ...(min !== undefined ? { min, max: this.maxUnits ?? min } : {}),
    };
  }

  /** Cancels everything scheduled for this version (emulator close or reset). */
  dispose(): void {
    this.session.cancelAll();
  }

  state(): ModelVersionState {
    const { arn, projectArn, project, version, feature } = this.identity;
    return {
      arn,
      projectArn,
      project,
      version,
      feature,
      status: this.status,
      statusMessage: this.statusMessage,
      minInferenceUnits: this.minUnits,
      maxInferenceUnits: this.maxUnits,
      desiredUnits: this.desiredUnits,
      inServiceUnits: this.inServiceUnits(),
      capacityTps: this.capacityTps(),
      demandTps: this.scaler?.demand(this.env.clock.now()) ?? 0,
      units: this.units.list(),
      faults: { ...this.faults },
    };
  }

  private becomeRunning(): void {
    const now = this.env.clock.now();
    const { settings } = this.env;
    this.units.allInService();
    this.setStatus("RUNNING");
    if (settings.billFrom === "running") this.meter.open(now, this.units.inServiceCount());
    this.bucket = new TokenBucket(this.capacityTps(), now);
    const minUnits = this.minUnits ?? 1;
    this.scaler =
      this.maxUnits !== undefined && this.maxUnits > minUnits
        ? new DemandScaler({
            minUnits,
            maxUnits: this.maxUnits,
            tpsPerUnit: settings.tpsPerUnit,
            demandWindowMs: settings.demandWindowMs,
            scaleUpDelayMs: settings.scaleUpDelayMs,
            scaleDownDelayMs: settings.scaleDownDelayMs,
            threshold: settings.scalingThreshold,
          })
        : undefined;
    this.refresh();
  }

  private becomeFailed(message: string): void {
    this.resetSession();
    this.units.clear();
    this.desiredUnits = 0;
    this.setStatus("FAILED", message);
    this.meter.close(this.env.clock.now());
  }

  private becomeStopped(): void {
    this.resetSession();
    this.units.clear();
    this.desiredUnits = 0;
    this.scaler = undefined;
    this.setStatus("STOPPED");
    this.meter.close(this.env.clock.now());
  }

  private tick(): void {
    if (this.status === "RUNNING" && this.scaler) {
      const desired = this.scaler.decide(this.env.clock.now(), this.desiredUnits);
      if (desired !== this.desiredUnits) this.applyDesired(desired);
    }
    this.refresh();
  }

  /** Adds units (serving after the unit start-up time) or removes them at once. */
  private applyDesired(desired: number): void {
    this.desiredUnits = desired;
    if (desired > this.units.size) {
      for (const unit of this.units.add(desired - this.units.size, "starting")) {
        this.session.after(this.env.settings.unitStartupMs, () => {
          if (this.units.setState(unit.id, "in-service")) this.refresh();
        });
      }
    } else if (desired < this.units.size) {
      this.units.remove(this.units.size - desired);
    }
    this.refresh();
  }

  private resetSession(): void {
    this.session.cancelAll();
    this.session = new Timers(this.env.clock);
  }

  private setStatus(status: VersionStatus, message?: string): void {
    this.status = status;
    this.statusMessage = message ?? defaultMessage(status);
  }
}

function defaultMessage(status: VersionStatus): string {
  switch (status) {
    case "TRAINING_COMPLETED":
      return "The model is ready to run.";
    case "STARTING":
      return "The model is starting.";
    case "RUNNING":
      return "The model is running.";
    case "STOPPING":
      return "The model is being stopped.";
    case "STOPPED":
      return "The model is stopped.";
    case "FAILED":
      return "The model failed to start.";
    default:
      return `The model is ${status}.`;
  }
}
