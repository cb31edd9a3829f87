/**
 * The command line of `npm run emulator`: every setting of the config file
 * is also a flag, named after its key (`tpsPerUnit` is `--tps-per-unit`) and
 * checked by the same schema. The flag table is typed over the settings, so a
 * new setting without a flag does not compile.
 */
import { type Command, Option } from "commander";
import { createLogger } from "../../../src/runtime.ts";
import { decimal, harnessCommand, parseCommand, UsageError } from "../../command.ts";
import {
  DEFAULT_SETTINGS,
  type EmulatorConfig,
  type EmulatorOptions,
  emulatorConfigSchema,
  type ModelDeclaration,
} from "./settings.ts";

/** The settings given one value each; models and control-plane faults have flags of their own. */
type FlagSetting = Exclude<keyof EmulatorConfig, "models" | "controlPlaneFaults">;

interface SettingFlag {
  /** The value's placeholder in the help. */
  value: string;
  help: string;
  /** What the message of a refused value says, when the schema's would not be plain enough. */
  must?: string;
}

const d = DEFAULT_SETTINGS;

const SETTING_FLAGS: Record<FlagSetting, SettingFlag> = {
  port: { value: "<n>", help: `port to listen on (default ${d.port}: a free port)` },
  region: { value: "<name>", help: `region in ARNs and zone names (default ${d.region})` },
  accountId: { value: "<12 digits>", help: `account id in ARNs (default ${d.accountId})` },
  s3Endpoint: { value: "<url>", help: "S3-compatible endpoint for Image.S3Object (path style)" },
  tpsPerUnit: {
    value: "<n>",
    help: `calls per second per inference unit (default ${d.tpsPerUnit})`,
  },
  latencyMs: { value: "<n>", help: `mean DetectCustomLabels latency (default ${d.latencyMs})` },
  latencyJitterMs: { value: "<n>", help: `+- uniform jitter (default ${d.latencyJitterMs})` },
  startDelayMs: { value: "<n>", help: `STARTING -> RUNNING (default ${d.startDelayMs})` },
  stopDelayMs: { value: "<n>", help: `STOPPING -> STOPPED (default ${d.stopDelayMs})` },
  scaleUpDelayMs: {
    value: "<n>",
    help: `sustained demand before scaling up (default ${d.scaleUpDelayMs})`,
  },
  scaleDownDelayMs: {
    value: "<n>",
    help: `sustained low demand before scaling down (default ${d.scaleDownDelayMs})`,
  },
  unitStartupMs: {
    value: "<n>",
    help: `an added unit serves after this (default ${d.unitStartupMs})`,
  },
  unitReplaceDelayMs: {
    value: "<n>",
    help: `a failed unit is replaced after this (default ${d.unitReplaceDelayMs})`,
  },
  demandWindowMs: {
    value: "<n>",
    help: `auto-scaling measures demand (calls arriving, throttled included) over this trailing window (default ${d.demandWindowMs})`,
  },
  scalingThreshold: {
    value: "<r>",
    help: `share (0-1] of a unit's TPS auto-scaling sizes each unit for (default ${d.scalingThreshold}: scale up once demand exceeds capacity)`,
  },
  tickMs: {
    value: "<n>",
    help: `how often auto-scaling is evaluated and the timeline sampled (default ${d.tickMs})`,
  },
  availabilityZones: {
    value: "<n>",
    help: `zones units are spread over (default ${d.availabilityZones})`,
  },
  pricePerUnitHour: {
    value: "<n>",
    help: `USD per inference-unit hour (default ${d.pricePerUnitHour})`,
  },
  billFrom: {
    value: "<when>",
    help: `start-request | running (default ${d.billFrom})`,
    must: "start-request or running",
  },
  unitQuota: { value: "<n>", help: `most units per model (default ${d.unitQuota})` },
};

/** `tpsPerUnit` -> `tps-per-unit`; commander turns the flag back into the key. */
function flagOf(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** Checks one setting's value with the config file's schema; throws a UsageError naming the flag. */
function settingValue(key: FlagSetting, raw: string): unknown {
  const flag = flagOf(key);
  const numeric = typeof (DEFAULT_SETTINGS as unknown as Record<string, unknown>)[key] === "number";
  const value = numeric ? decimal(raw) : raw;
  if (numeric && Number.isNaN(value)) {
    throw new UsageError(`--${flag} must be a number, got "${raw}"`);
  }
  const checked = emulatorConfigSchema.shape[key].safeParse(value);
  if (checked.success) return checked.data;
  const { must } = SETTING_FLAGS[key];
  if (must) throw new UsageError(`--${flag} must be ${must}, got "${raw}"`);
  const reason = checked.error.issues.map((issue) => issue.message).join("; ");
  throw new UsageError(`--${flag}: ${reason}, got "${raw}"`);
}

function controlPlaneRate(flag: string) {
  return (raw: string) => {
    const rate = decimal(raw);
    if (!(rate >= 0 && rate <= 1)) {
      throw new UsageError(`--${flag} must be a number from 0 to 1, got "${raw}"`);
    }
    return rate;
  };
}

function parseModelFlag(value: string, previous: ModelDeclaration[] = []): ModelDeclaration[] {
  const match = /^([^/:]+)\/([^/:]+)(?::(CLASSIFICATION|OBJECT_DETECTION))?$/.exec(value);
  if (!match) {
    throw new UsageError(
      `--model must look like <project>/<version>[:CLASSIFICATION|OBJECT_DETECTION], got "${value}"`,
    );
  }
  const [, project = "", version = "", feature] = match;
  const model = {
    project,
    version,
    ...(feature ? { feature: feature as ModelDeclaration["feature"] } : {}),
  };
  return [...previous, model];
}

export function emulatorCommand(): Command {
  const program = harnessCommand(
    "emulator",
    "Rekognition Custom Labels emulator: the Rekognition JSON 1.1 API on 127.0.0.1.",
  )
    .option("--config <file>", 'JSON config file (the settings below by key, plus "models")')
    .option(
      "--model <spec>",
      "declare a model version, <project>/<version>[:CLASSIFICATION|OBJECT_DETECTION] (repeatable)",
      parseModelFlag,
    );
  for (const [key, flag] of Object.entries(SETTING_FLAGS) as [FlagSetting, SettingFlag][]) {
    program.addOption(
      new Option(`--${flagOf(key)} ${flag.value}`, flag.help).argParser((raw) =>
        settingValue(key, raw),
      ),
    );
  }
  return program
    .option(
      "--control-plane-throttle-rate <r>",
      "share (0-1) of DescribeProjects, DescribeProjectVersions, Start/StopProjectVersion calls answered ThrottlingException",
      controlPlaneRate("control-plane-throttle-rate"),
    )
    .option(
      "--control-plane-error-rate <r>",
      "share (0-1) of those calls answered InternalServerError (500)",
      controlPlaneRate("control-plane-error-rate"),
    )
    .option("--verbose", "log requests that fail inside the emulator")
    .addHelpText(
      "after",
      `
The admin API lives under /_emulator/ (state, timeline, billing, faults, models, reset).
Stop with Ctrl-C (SIGINT) or SIGTERM.`,
    );
}

type EmulatorFlags = Partial<Record<FlagSetting, unknown>> & {
  config?: string;
  model?: ModelDeclaration[];
  controlPlaneThrottleRate?: number;
  controlPlaneErrorRate?: number;
  verbose?: boolean;
};

/**
 * Turns the command line into emulator options; `{ help: true }` once the
 * help is printed. Throws a UsageError naming the flag.
 */
export function parseCommandLine(argv: string[]): EmulatorOptions & { help?: boolean } {
  const values = parseCommand<EmulatorFlags>(emulatorCommand(), argv);
  if (!values) return { help: true };
  const { config, model, controlPlaneThrottleRate, controlPlaneErrorRate, verbose, ...settings } =
    values;
  const controlPlaneFaults = [
    controlPlaneThrottleRate === undefined
      ? undefined
      : {
          operation: "*" as const,
          error: "ThrottlingException" as const,
          rate: controlPlaneThrottleRate,
        },
    controlPlaneErrorRate === undefined
      ? undefined
      : {
          operation: "*" as const,
          error: "InternalServerError" as const,
          rate: controlPlaneErrorRate,
        },
  ].filter((fault) => fault !== undefined);
  return {
    ...(settings as EmulatorConfig),
    ...(controlPlaneFaults.length > 0 ? { controlPlaneFaults } : {}),
    configFile: config,
    models: model,
    logger: verbose ? createLogger({ component: "emulator" }, "DEBUG") : undefined,
  };
}
