import { readFile } from "node:fs/promises";
import type { S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import type { Clock, Logger } from "../../../src/runtime.ts";
import { type ControlPlaneFault, controlPlaneFaultSchema } from "./control-plane-faults.ts";
import type { S3ObjectReader } from "./image-source.ts";

/** What the stand-in model does: name colours, or name them and box them. */
export type ModelFeature = "CLASSIFICATION" | "OBJECT_DETECTION";

/** The status values a declaration may set a version to. */
export const DECLARABLE_STATUSES = [
  "TRAINING_COMPLETED",
  "TRAINING_FAILED",
  "RUNNING",
  "STOPPED",
  "FAILED",
  "DEPRECATED",
  "EXPIRED",
] as const;
export type DeclarableStatus = (typeof DECLARABLE_STATUSES)[number];

const NAME_PATTERN = /^[a-zA-Z0-9_.-]{1,255}$/;

export const modelDeclarationSchema = z.strictObject({
  project: z.string().regex(NAME_PATTERN, "project must match [a-zA-Z0-9_.-]{1,255}"),
  version: z.string().regex(NAME_PATTERN, "version must match [a-zA-Z0-9_.-]{1,255}"),
  feature: z.enum(["CLASSIFICATION", "OBJECT_DETECTION"]).optional(),
  status: z.enum(DECLARABLE_STATUSES).optional(),
  /** Units when declared RUNNING (default 1). */
  minInferenceUnits: z.number().int().min(1).optional(),
  maxInferenceUnits: z.number().int().min(1).optional(),
  /**
   * Creation time (epoch ms), which the ARNs end in. Fixed, it keeps the ARNs
   * the same across emulator restarts (the local runner relies on it).
   */
  createdAt: z.number().int().min(0).optional(),
});

/** A model version that exists without any API call (config file, options, admin API). */
export type ModelDeclaration = z.infer<typeof modelDeclarationSchema>;

const nonNegative = z.number().min(0);

/** The tunables, as a config file or the admin API may give them. Unknown keys are rejected. */
export const emulatorConfigSchema = z.strictObject({
  port: z.number().int().min(0).max(65535).optional(),
  region: z.string().min(1).optional(),
  accountId: z
    .string()
    .regex(/^\d{12}$/, "accountId must be 12 digits")
    .optional(),
  s3Endpoint: z.url().optional(),
  tpsPerUnit: z.number().positive().optional(),
  latencyMs: nonNegative.optional(),
  latencyJitterMs: nonNegative.optional(),
  startDelayMs: nonNegative.optional(),
  stopDelayMs: nonNegative.optional(),
  scaleUpDelayMs: nonNegative.optional(),
  scaleDownDelayMs: nonNegative.optional(),
  unitStartupMs: nonNegative.optional(),
  unitReplaceDelayMs: nonNegative.optional(),
  demandWindowMs: z.number().positive().optional(),
  scalingThreshold: z.number().positive().max(1).optional(),
  tickMs: z.number().positive().optional(),
  availabilityZones: z.number().int().min(1).max(26).optional(),
  pricePerUnitHour: nonNegative.optional(),
  billFrom: z.enum(["start-request", "running"]).optional(),
  unitQuota: z.number().int().min(1).optional(),
  models: z.array(modelDeclarationSchema).optional(),
  /** Throttling and 5xx answers of the control plane, armed at start (see control-plane-faults.ts). */
  controlPlaneFaults: z.array(controlPlaneFaultSchema).optional(),
});

export type RekognitionAuthorizer = (
  headers: Record<string, string | string[] | undefined>,
  operation: string,
  params: Record<string, unknown>,
) => Promise<void>;

// The input type: a control-plane fault may leave `operation` out (all four).
export type EmulatorConfig = z.input<typeof emulatorConfigSchema>;

/** Options of `startEmulator`: every tunable, plus what only code can pass. */
export interface EmulatorOptions extends EmulatorConfig {
  /** A JSON file with the same keys as these options (explicit options win; models add up). */
  configFile?: string;
  /** Used instead of building one from `s3Endpoint`. */
  s3Client?: S3Client;
  /**
   * Reads `Image.S3Object` in-process (the local stack's embedded S3 reads its
   * store directly), instead of an S3 client.
   */
  s3Objects?: S3ObjectReader;
  /**
   * Runs before each Rekognition operation (IAM enforcement of the local
   * stack); a rejection with an `ApiError`-like `name` answers the call with it.
   */
  authorize?: RekognitionAuthorizer;
  clock?: Clock;
  /** Uniform [0, 1); drives latency jitter, error and drop rates. */
  random?: () => number;
  logger?: Logger;
}

/** Every tunable resolved to a value. */
export interface EmulatorSettings {
  port: number;
  region: string;
  accountId: string;
  s3Endpoint?: string;
  /** Calls per second one inference unit serves. */
  tpsPerUnit: number;
  /** Mean latency of an accepted DetectCustomLabels call. */
  latencyMs: number;
  /** Latency varies uniformly by up to this much either way. */
  latencyJitterMs: number;
  /** STARTING lasts this long. */
  startDelayMs: number;
  /** STOPPING lasts this long. */
  stopDelayMs: number;
  /** Demand must stay above the current units this long before desired units go up. */
  scaleUpDelayMs: number;
  /** Demand must stay below the current units this long before desired units go down. */
  scaleDownDelayMs: number;
  /** A unit added by auto-scaling serves after this long. */
  unitStartupMs: number;
  /** A failed unit is back (same AZ) after this long. */
  unitReplaceDelayMs: number;
  /** Demand (calls arriving, throttled ones included) is measured over this trailing window. */
  demandWindowMs: number;
  /**
   * Auto-scaling sizes each unit for this share of its TPS: 1 scales up as
   * soon as demand exceeds the units' capacity.
   */
  scalingThreshold: number;
  /** How often auto-scaling is evaluated and the timeline sampled. */
  tickMs: number;
  availabilityZones: number;
  pricePerUnitHour: number;
  /** Whether STARTING time is billed (with MinInferenceUnits) or only RUNNING onwards. */
  billFrom: "start-request" | "running";
  /** Most inference units one StartProjectVersion may ask for (LimitExceededException beyond). */
  unitQuota: number;
}

/** Local defaults: a model starts in seconds, not minutes. */
export const DEFAULT_SETTINGS: EmulatorSettings = {
  port: 0,
  region: "us-east-1",
  accountId: "123456789012",
  tpsPerUnit: 5,
  latencyMs: 100,
  latencyJitterMs: 30,
  startDelayMs: 3000,
  stopDelayMs: 1000,
  scaleUpDelayMs: 3000,
  scaleDownDelayMs: 5000,
  unitStartupMs: 2000,
  unitReplaceDelayMs: 3000,
  demandWindowMs: 1000,
  scalingThreshold: 1,
  tickMs: 100,
  availabilityZones: 3,
  pricePerUnitHour: 4,
  billFrom: "start-request",
  unitQuota: 10,
};

/** Parses a config object, with messages that name the offending key. */
export function parseEmulatorConfig(value: unknown, source = "config"): EmulatorConfig {
  const result = emulatorConfigSchema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`,
  );
  throw new Error(`Invalid emulator ${source}: ${problems.join("; ")}`);
}

/** Reads and validates a JSON config file. */
export async function loadConfigFile(path: string): Promise<EmulatorConfig> {
  const text = await readFile(path, "utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`Emulator config ${path} is not valid JSON: ${(error as Error).message}`);
  }
  return parseEmulatorConfig(json, `config file ${path}`);
}

/**
 * Layers defaults, then the config file, then explicit options (validated
 * like the file). Declared models of the file come first, then the options'.
 */
export async function resolveSettings(options: EmulatorOptions): Promise<{
  settings: EmulatorSettings;
  models: ModelDeclaration[];
  controlPlaneFaults: ControlPlaneFault[];
}> {
  const fromFile = options.configFile ? await loadConfigFile(options.configFile) : {};
  const {
    configFile: _configFile,
    s3Client: _s3Client,
    s3Objects: _s3Objects,
    clock: _clock,
    random: _random,
    logger: _logger,
    authorize: _authorize,
    ...tunables
  } = options;
  const explicit = parseEmulatorConfig(dropUndefined(tunables), "options");
  const {
    models: fileModels = [],
    controlPlaneFaults: fileFaults = [],
    ...fileSettings
  } = fromFile;
  const {
    models: optionModels = [],
    controlPlaneFaults: optionFaults = [],
    ...optionSettings
  } = explicit;
  const settings: EmulatorSettings = { ...DEFAULT_SETTINGS, ...fileSettings, ...optionSettings };
  return {
    settings,
    models: [...fileModels, ...optionModels],
    controlPlaneFaults: [...fileFaults, ...optionFaults],
  };
}

function dropUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
