import { z } from "zod";
import type { Clock } from "../../../src/runtime.ts";
import { ApiError } from "./api-error.ts";
import type { BillingSession } from "./billing-meter.ts";
import type {
  ControlPlaneFault,
  ControlPlaneFaultState,
  ControlPlaneFaults,
  ControlPlaneOperation,
} from "./control-plane-faults.ts";
import type { ModelVersionState } from "./model-version.ts";
import type { DeclaredModel, ModelRegistry } from "./registry.ts";
import {
  type EmulatorSettings,
  type ModelDeclaration,
  modelDeclarationSchema,
} from "./settings.ts";
import type { TimelineSecond } from "./timeline.ts";
import type { InferenceUnit } from "./unit-pool.ts";
import type { AvailabilityZones } from "./zones.ts";

const arn = z.string().min(1);
const rate = z.number().min(0).max(1);

/** Every fault the emulator can inject, as the admin HTTP endpoint accepts it. */
export const faultSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("fail-unit"), arn, zone: z.string().optional() }),
  z.strictObject({ type: z.literal("fail-zone"), zone: z.string() }),
  z.strictObject({ type: z.literal("restore-zone"), zone: z.string() }),
  z.strictObject({
    type: z.literal("capacity-factor"),
    arn,
    factor: z.number().gt(0).max(1),
  }),
  z.strictObject({ type: z.literal("error-rate"), arn, rate }),
  z.strictObject({ type: z.literal("drop-rate"), arn, rate }),
  z.strictObject({ type: z.literal("force-stop"), arn }),
  z.strictObject({
    type: z.literal("fail-next-start"),
    arn,
    message: z.string().min(1).optional(),
  }),
  z.strictObject({ type: z.literal("clear"), arn: arn.optional() }),
  // The rest of a control-plane fault is checked by ControlPlaneFaults.add.
  z.looseObject({ type: z.literal("control-plane") }),
]);

export type Fault = z.infer<typeof faultSchema>;

export interface BillingView {
  arn: string;
  /** Units billed right now. */
  billingUnits: number;
  unitSeconds: number;
  inferenceHours: number;
  pricePerUnitHour: number;
  cost: number;
  sessions: BillingSession[];
}

export interface EmulatorState {
  region: string;
  availabilityZones: { name: string; up: boolean }[];
  tpsPerUnit: number;
  models: ModelVersionState[];
  /** Armed control-plane faults and the errors they injected so far. */
  controlPlane: ControlPlaneFaultState;
}

export const DEFAULT_START_FAILURE = "Injected start failure: the model could not be deployed.";

/**
 * The emulator's control surface: state, timelines, billing, declared models
 * and fault injection. The admin HTTP endpoint under `/_emulator/` mirrors it.
 */
export class EmulatorAdmin {
  constructor(
    private readonly registry: ModelRegistry,
    private readonly zones: AvailabilityZones,
    private readonly settings: EmulatorSettings,
    private readonly clock: Clock,
    private readonly controlPlane: ControlPlaneFaults,
  ) {}

  state(): EmulatorState {
    return {
      region: this.settings.region,
      availabilityZones: this.zones.names.map((name) => ({ name, up: this.zones.isUp(name) })),
      tpsPerUnit: this.settings.tpsPerUnit,
      models: this.registry.versions().map((version) => version.state()),
      controlPlane: this.controlPlane.state(),
    };
  }

  /** Per second: accepted and throttled calls, desired and in-service units. */
  timeline(arn: string): TimelineSecond[] {
    return this.registry.version(arn).timeline.list();
  }

  /** Inference hours and their cost for one model version. */
  billing(arn: string): BillingView {
    const version = this.registry.version(arn);
    const now = this.clock.now();
    const unitSeconds = version.meter.unitSeconds(now);
    const inferenceHours = unitSeconds / 3600;
    return {
      arn,
      billingUnits: version.meter.billingUnits,
      unitSeconds,
      inferenceHours,
      pricePerUnitHour: this.settings.pricePerUnitHour,
      cost: inferenceHours * this.settings.pricePerUnitHour,
      sessions: version.meter.sessionsAt(now),
    };
  }

  billingAll(): BillingView[] {
    return this.registry.versions().map((version) => this.billing(version.arn));
  }

  /** Makes a model version exist; declaring the same project/version again returns the same ARNs. */
  declareModel(declaration: ModelDeclaration): DeclaredModel {
    const parsed = modelDeclarationSchema.safeParse(declaration);
    if (!parsed.success) {
      throw new ApiError("InvalidDeclaration", z.prettifyError(parsed.error));
    }
    return this.registry.declare(parsed.data);
  }

  /** Takes one serving unit out (in `zone` if given); it comes back after unitReplaceDelayMs. */
  failUnit(arn: string, zone?: string): InferenceUnit {
    return this.registry.version(arn).failUnit(zone);
  }

  /** An Availability Zone outage: its units serve no model until `restoreZone`. */
  failZone(zone: string): void {
    this.withZone(() => this.zones.fail(zone));
  }

  restoreZone(zone: string): void {
    this.withZone(() => this.zones.restore(zone));
  }

  /** A throttling storm: effective TPS per unit multiplied by `factor` in (0, 1]. */
  setCapacityFactor(arn: string, factor: number): void {
    if (!(factor > 0 && factor <= 1))
      throw new ApiError("InvalidFault", "factor must be in (0, 1].");
    this.registry.version(arn).setFaults({ capacityFactor: factor });
  }

  /** Share of accepted DetectCustomLabels calls answered with InternalServerError (500). */
  setErrorRate(arn: string, rate: number): void {
    this.registry.version(arn).setFaults({ errorRate: checkRate(rate) });
  }

  /** Share of accepted DetectCustomLabels calls whose socket is destroyed without an answer. */
  setDropRate(arn: string, rate: number): void {
    this.registry.version(arn).setFaults({ dropRate: checkRate(rate) });
  }

  /** Stops the model as if someone else had called StopProjectVersion. */
  forceStop(arn: string): void {
    this.registry.version(arn).forceStop();
  }

  /** The next start of this version ends in FAILED with `message` as StatusMessage. */
  failNextStart(arn: string, message = DEFAULT_START_FAILURE): void {
    this.registry.version(arn).setFaults({ nextStartFailure: message });
  }

  /**
   * A throttling storm or 5xx burst of the control plane: `operation`
   * (DescribeProjects, DescribeProjectVersions, StartProjectVersion,
   * StopProjectVersion, or `*` for all four) answers `error`
   * (ThrottlingException, HTTP 400, or InternalServerError, HTTP 500) for its
   * next `count` calls, or for a share `rate` of its calls until cleared.
   */
  failControlPlane(fault: ControlPlaneFault): void {
    this.controlPlane.add(fault);
  }

  /** Errors injected into the control plane so far (into `operation` only when given). */
  controlPlaneErrors(operation?: ControlPlaneOperation): number {
    return this.controlPlane.injectedCount(operation);
  }

  /** Removes the model faults of one version (or of all) and restores every zone when no ARN is given. */
  clearFaults(arn?: string): void {
    const versions = arn ? [this.registry.version(arn)] : this.registry.versions();
    for (const version of versions) {
      version.setFaults({
        capacityFactor: 1,
        errorRate: 0,
        dropRate: 0,
        nextStartFailure: undefined,
      });
    }
    if (!arn) {
      this.withZone(() => this.zones.restoreAll());
      this.controlPlane.clear();
    }
  }

  /** Applies a fault given as data (what the admin HTTP endpoint receives). */
  injectFault(fault: Fault): unknown {
    switch (fault.type) {
      case "fail-unit":
        return { unit: this.failUnit(fault.arn, fault.zone) };
      case "fail-zone":
        return this.failZone(fault.zone);
      case "restore-zone":
        return this.restoreZone(fault.zone);
      case "capacity-factor":
        return this.setCapacityFactor(fault.arn, fault.factor);
      case "error-rate":
        return this.setErrorRate(fault.arn, fault.rate);
      case "drop-rate":
        return this.setDropRate(fault.arn, fault.rate);
      case "force-stop":
        return this.forceStop(fault.arn);
      case "fail-next-start":
        return this.failNextStart(fault.arn, fault.message);
      case "clear":
        return this.clearFaults(fault.arn);
      case "control-plane": {
        const { type: _type, ...rest } = fault;
        return this.failControlPlane(rest as ControlPlaneFault);
      }
    }
  }

  /** Forgets every project, version and fault (declared models included). */
  reset(): void {
    this.registry.clear();
    this.zones.restoreAll();
    this.controlPlane.clear();
  }

  private withZone(change: () => unknown): void {
    try {
      change();
    } catch (error) {
      throw new ApiError("InvalidFault", (error as Error).message);
    }
    for (const version of this.registry.versions()) version.refresh();
  }
}

function checkRate(rate: number): number {
  if (!(rate >= 0 && rate <= 1)) throw new ApiError("InvalidFault", "rate must be in [0, 1].");
  return rate;
}
