import { z } from "zod";
import { ApiError } from "./api-error.ts";

/** The model-management operations the job calls: the ones faults can hit. */
export const CONTROL_PLANE_OPERATIONS = [
  "DescribeProjects",
  "DescribeProjectVersions",
  "StartProjectVersion",
  "StopProjectVersion",
] as const;
export type ControlPlaneOperation = (typeof CONTROL_PLANE_OPERATIONS)[number];

/**
 * The answers a fault gives, as Rekognition gives them: ThrottlingException
 * with HTTP 400 ("Slow down"; AWS's error table also lists it under 5xx, and
 * the SDK retries it either way) and InternalServerError with HTTP 500.
 */
export const CONTROL_PLANE_ERRORS = {
  ThrottlingException: { status: 400, message: "Slow down; sudden increase in rate of requests." },
  InternalServerError: { status: 500, message: "Internal server error" },
} as const;
export type ControlPlaneErrorName = keyof typeof CONTROL_PLANE_ERRORS;

/**
 * One fault: `operation` (one of the four, or `*` for all of them) answers
 * `error` for its next `count` calls, or for a share `rate` of its calls
 * until cleared. Exactly one of `count` and `rate`.
 */
export const controlPlaneFaultSchema = z
  .strictObject({
    operation: z.enum([...CONTROL_PLANE_OPERATIONS, "*"]).default("*"),
    error: z.enum(["ThrottlingException", "InternalServerError"]),
    count: z.number().int().min(1).optional(),
    rate: z.number().min(0).max(1).optional(),
  })
  .refine((fault) => (fault.count === undefined) !== (fault.rate === undefined), {
    message: "give exactly one of count (the next N calls) and rate (a share of calls, 0-1)",
  });
export type ControlPlaneFault = z.input<typeof controlPlaneFaultSchema>;

interface ActiveFault {
  operation: ControlPlaneOperation | "*";
  error: ControlPlaneErrorName;
  /** Calls still to fail; undefined for a rate. */
  remaining?: number;
  rate?: number;
}

/** What the admin state shows: the faults still armed and what they answered so far. */
export interface ControlPlaneFaultState {
  faults: ActiveFault[];
  /** Injected errors by `<operation> <error>`. */
  injected: Record<string, number>;
}

/**
 * Throttling storms and 5xx bursts of the control plane. `answer` is asked
 * before each call of one of the four operations and returns the error to
 * answer with, consuming one call of a counted fault.
 */
export class ControlPlaneFaults {
  private faults: ActiveFault[] = [];
  private readonly injected = new Map<string, number>();

  constructor(private readonly random: () => number) {}

  /** Arms a fault; throws `InvalidFault` naming what is wrong. */
  add(fault: ControlPlaneFault): void {
    const parsed = controlPlaneFaultSchema.safeParse(fault);
    if (!parsed.success) throw new ApiError("InvalidFault", z.prettifyError(parsed.error));
    const { operation, error, count, rate } = parsed.data;
    this.faults.push({
      operation,
      error,
      ...(count !== undefined ? { remaining: count } : {}),
      ...(rate !== undefined ? { rate } : {}),
    });
  }

  clear(): void {
    this.faults = [];
  }

  /** The error this call answers with, or undefined to let it through. */
  answer(operationName: string): ApiError | undefined {
    if (!(CONTROL_PLANE_OPERATIONS as readonly string[]).includes(operationName)) return undefined;
    for (const fault of this.faults) {
      if (fault.operation !== "*" && fault.operation !== operationName) continue;
      if (fault.remaining !== undefined) {
        if (fault.remaining <= 0) continue;
        fault.remaining -= 1;
      } else if (!(this.random() < (fault.rate ?? 0))) {
        continue;
      }
      this.faults = this.faults.filter((f) => f.remaining === undefined || f.remaining > 0);
      const key = `${operationName} ${fault.error}`;
      this.injected.set(key, (this.injected.get(key) ?? 0) + 1);
      const { status, message } = CONTROL_PLANE_ERRORS[fault.error];
      return new ApiError(fault.error, message, status);
    }
    return undefined;
  }

  state(): ControlPlaneFaultState {
    return {
      faults: this.faults.map((fault) => ({ ...fault })),
      injected: Object.fromEntries(this.injected),
    };
  }

  /** How many errors were injected into `operation` (all four when omitted). */
  injectedCount(operation?: ControlPlaneOperation): number {
    let total = 0;
    for (const [key, count] of this.injected) {
      if (!operation || key.startsWith(`${operation} `)) total += count;
    }
    return total;
  }
}
