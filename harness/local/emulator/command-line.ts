/** The command line of `npm run emulator`: flags to emulator options. */
import { parseArgs } from "node:util";
import { createLogger } from "../../../src/runtime.ts";
import {
  DEFAULT_SETTINGS,
  type EmulatorOptions,
  emulatorConfigSchema,
  type ModelDeclaration,
} from "./settings.ts";

/** A command-line mistake: exit code 2, like `npm run local`. */
export class CommandLineError extends Error {
  override name = "CommandLineError";
}

/** Numeric flags and the option each one sets. */
const NUMERIC_FLAGS = {
  port: "port",
  "tps-per-unit": "tpsPerUnit",
  "latency-ms": "latencyMs",
  "latency-jitter-ms": "latencyJitterMs",
  "start-delay-ms": "startDelayMs",
  "stop-delay-ms": "stopDelayMs",
  "scale-up-delay-ms": "scaleUpDelayMs",
  "scale-down-delay-ms": "scaleDownDelayMs",
  "unit-startup-ms": "unitStartupMs",
  "unit-replace-delay-ms": "unitReplaceDelayMs",
  "demand-window-ms": "demandWindowMs",
  "scaling-threshold": "scalingThreshold",
  "availability-zones": "availabilityZones",
  "price-per-unit-hour": "pricePerUnitHour",
  "unit-quota": "unitQuota",
} as const satisfies Record<string, keyof EmulatorOptions>;

export const HELP = `Rekognition Custom Labels emulator: the Rekognition JSON 1.1 API on 127.0.0.1.

Usage: npm run emulator -- [options]

Options:
  --port <n>                   port to listen on (default ${DEFAULT_SETTINGS.port}: a free port)
  --config <file>              JSON config file (same keys as the options, plus "models")
  --s3-endpoint <url>          S3-compatible endpoint for Image.S3Object (path style)
  --region <name>              region in ARNs and zone names (default ${DEFAULT_SETTINGS.region})
  --model <project>/<version>[:CLASSIFICATION|OBJECT_DETECTION]
                               declare a model version (repeatable)
  --tps-per-unit <n>           calls per second per inference unit (default ${DEFAULT_SETTINGS.tpsPerUnit})
  --latency-ms <n>             mean DetectCustomLabels latency (default ${DEFAULT_SETTINGS.latencyMs})
  --latency-jitter-ms <n>      +- uniform jitter (default ${DEFAULT_SETTINGS.latencyJitterMs})
  --start-delay-ms <n>         STARTING -> RUNNING (default ${DEFAULT_SETTINGS.startDelayMs})
  --stop-delay-ms <n>          STOPPING -> STOPPED (default ${DEFAULT_SETTINGS.stopDelayMs})
  --scale-up-delay-ms <n>      sustained demand before scaling up (default ${DEFAULT_SETTINGS.scaleUpDelayMs})
  --scale-down-delay-ms <n>    sustained low demand before scaling down (default ${DEFAULT_SETTINGS.scaleDownDelayMs})
  --unit-startup-ms <n>        an added unit serves after this (default ${DEFAULT_SETTINGS.unitStartupMs})
  --unit-replace-delay-ms <n>  a failed unit is replaced after this (default ${DEFAULT_SETTINGS.unitReplaceDelayMs})
  --demand-window-ms <n>       auto-scaling measures demand (calls arriving, throttled included)
                               over this trailing window (default ${DEFAULT_SETTINGS.demandWindowMs})
  --scaling-threshold <r>      share (0-1] of a unit's TPS auto-scaling sizes each unit for
                               (default ${DEFAULT_SETTINGS.scalingThreshold}: scale up once demand exceeds capacity)
  --availability-zones <n>     zones units are spread over (default ${DEFAULT_SETTINGS.availabilityZones})
  --price-per-unit-hour <n>    USD per inference-unit hour (default ${DEFAULT_SETTINGS.pricePerUnitHour})
  --bill-from <when>           start-request | running (default ${DEFAULT_SETTINGS.billFrom})
  --unit-quota <n>             most units per model (default ${DEFAULT_SETTINGS.unitQuota})
  --control-plane-throttle-rate <r>
                               share (0-1) of DescribeProjects, DescribeProjectVersions,
                               Start/StopProjectVersion calls answered ThrottlingException
  --control-plane-error-rate <r>
                               share (0-1) of those calls answered InternalServerError (500)
  --verbose                    log requests that fail inside the emulator
  --help                       show this help

The admin API lives under /_emulator/ (state, timeline, billing, faults, models, reset).
Stop with Ctrl-C (SIGINT) or SIGTERM.`;

/** Turns the command line into emulator options; throws a CommandLineError naming the flag. */
export function parseCommandLine(argv: string[]): EmulatorOptions & { help?: boolean } {
  try {
    return parseFlags(argv);
  } catch (error) {
    // parseArgs' own errors (unknown option, missing value) are command-line mistakes too.
    const code = (error as NodeJS.ErrnoException)?.code ?? "";
    if (code.startsWith("ERR_PARSE_ARGS")) throw new CommandLineError((error as Error).message);
    throw error;
  }
}

function parseFlags(argv: string[]): EmulatorOptions & { help?: boolean } {
  const numeric = Object.fromEntries(
    Object.keys(NUMERIC_FLAGS).map((flag) => [flag, { type: "string" as const }]),
  );
  const { values } = parseArgs({
    args: argv,
    options: {
      ...numeric,
      config: { type: "string" },
      "s3-endpoint": { type: "string" },
      region: { type: "string" },
      "bill-from": { type: "string" },
      "control-plane-throttle-rate": { type: "string" },
      "control-plane-error-rate": { type: "string" },
      model: { type: "string", multiple: true },
      verbose: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) return { help: true };
  const options: Record<string, unknown> = {};
  for (const [flag, key] of Object.entries(NUMERIC_FLAGS)) {
    const raw = (values as Record<string, unknown>)[flag];
    if (typeof raw !== "string") continue;
    const value = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(value)) {
      throw new CommandLineError(`--${flag} must be a number, got "${raw}"`);
    }
    // The range the config file must respect too (ports, non-negative delays, ...).
    const checked = emulatorConfigSchema.shape[key].safeParse(value);
    if (!checked.success) {
      const reason = checked.error.issues.map((issue) => issue.message).join("; ");
      throw new CommandLineError(`--${flag}: ${reason}, got "${raw}"`);
    }
    options[key] = value;
  }
  const billFrom = values["bill-from"];
  if (billFrom !== undefined && billFrom !== "start-request" && billFrom !== "running") {
    throw new CommandLineError(`--bill-from must be start-request or running, got "${billFrom}"`);
  }
  const controlPlaneFaults = [
    controlPlaneRate(
      values["control-plane-throttle-rate"],
      "control-plane-throttle-rate",
      "ThrottlingException",
    ),
    controlPlaneRate(
      values["control-plane-error-rate"],
      "control-plane-error-rate",
      "InternalServerError",
    ),
  ].filter((fault) => fault !== undefined);
  return {
    ...(options as EmulatorOptions),
    ...(controlPlaneFaults.length > 0 ? { controlPlaneFaults } : {}),
    configFile: values.config,
    s3Endpoint: values["s3-endpoint"],
    region: values.region,
    billFrom,
    models: values.model?.map(parseModelFlag),
    logger: values.verbose ? createLogger({ component: "emulator" }, "DEBUG") : undefined,
  };
}

function controlPlaneRate(
  raw: string | undefined,
  flag: string,
  error: "ThrottlingException" | "InternalServerError",
) {
  if (raw === undefined) return undefined;
  const rate = Number(raw);
  if (raw.trim() === "" || !(rate >= 0 && rate <= 1)) {
    throw new CommandLineError(`--${flag} must be a number from 0 to 1, got "${raw}"`);
  }
  return { operation: "*" as const, error, rate };
}

function parseModelFlag(value: string): ModelDeclaration {
  const match = /^([^/:]+)\/([^/:]+)(?::(CLASSIFICATION|OBJECT_DETECTION))?$/.exec(value);
  if (!match) {
    throw new CommandLineError(
      `--model must look like <project>/<version>[:CLASSIFICATION|OBJECT_DETECTION], got "${value}"`,
    );
  }
  const [, project = "", version = "", feature] = match;
  return {
    project,
    version,
    ...(feature ? { feature: feature as ModelDeclaration["feature"] } : {}),
  };
}
