import { z } from "zod";
import { InvalidRunInputError } from "./errors.ts";
import { PROJECT_VERSION_ARN } from "./model/model-ref.ts";
import { DEFAULT_PLAN_SHARD_OBJECTS, PLAN_SHARD_OBJECTS_RANGE } from "./plan-shards.ts";
import { jobFolders, normalizePrefix } from "./result-keys.ts";
import { DEPLOYED_IAM_SCOPE_ENV, scopeProblems } from "./run-input-scope.ts";

/**
 * The run input: what one execution of the job does. Every field has an
 * environment variable (the deployment's defaults) that the execution input
 * overrides field by field.
 *
 * Values in the execution input may be numbers or numeric strings ("240"):
 * consoles and schedulers often send strings, and a string that reads as a
 * number is unambiguous. `null` in the execution input means "not given" (the
 * environment or the default applies). Unknown fields are refused.
 */
export interface RunInput {
  imagesBucket: string;
  /** Plain S3 prefix: "photos" also matches "photos2/..."; end it with "/" to mean a folder. */
  imagesPrefix: string;
  resultsBucket: string;
  /** Ends with "/" or is empty. */
  resultsPrefix: string;
  projectVersionArn: string;
  targetWindowMinutes: number;
  /** Absent: the figure learned by the last run, else the default. */
  tpsPerUnit?: number;
  minUnits: number;
  /** The inference-unit quota. */
  maxUnits: number;
  /** Turns on auto-scaling (StartProjectVersion's MaxInferenceUnits). */
  maxInferenceUnits?: number;
  minConfidence?: number;
  maxResults?: number;
  imageMode: "S3Object" | "Bytes";
  pricePerUnitHour: number;
  toleratedFailurePercentage: number;
  startupMinutes: number;
  /** From StopProjectVersion until the model is STOPPED: billed, so part of the estimate. */
  stopMinutes: number;
  expectedLatencyMs: number;
  lambdaTimeoutSeconds: number;
  maxWorkers: number;
  /**
   * "restart": when the rate measured in the first round shows the window
   * will be missed by more than a restart costs, stop the model and start it
   * again with more units (within maxUnits). "never" (the default): never.
   */
  rescale: RescaleMode;
  /** Listed objects (images plus results) per Plan shard; more are listed by several. */
  planShardObjects: number;
}

/** Whether a run may stop and restart its model with more units mid-run (see `rescale.ts`). */
export const RESCALE_MODES = ["never", "restart"] as const;
export type RescaleMode = (typeof RESCALE_MODES)[number];

/** TPS per inference unit when neither the input nor a previous run says otherwise. */
export const DEFAULT_TPS_PER_UNIT = 5;

/** Distributed Map's MaxConcurrency limit. */
export const MAX_MAP_CONCURRENCY = 10_000;

/** A string that reads as a number: "240", " 7.5 ", "1e1" (not "", "0x10", "Infinity"). */
const NUMERIC_STRING = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;

/** Shows a rejected value the way the user typed it: numbers bare, strings quoted. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "number") return String(value);
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

interface NumberRange {
  min?: number;
  max?: number;
  positive?: boolean;
  integer?: boolean;
  /** Why the range is what it is, shown with the problem. */
  why?: string;
}

/** "an integer from 1 to 1000 (why)", "a positive number of at most 60000", ... */
function expectedNumber({ min, max, positive = false, integer = false, why }: NumberRange): string {
  const kind = integer ? "integer" : "number";
  const article = integer ? "an" : "a";
  let expected: string;
  if (min !== undefined && max !== undefined) expected = `${article} ${kind} from ${min} to ${max}`;
  else {
    if (positive) expected = `a positive ${kind}`;
    else if (min === 0) expected = `a non-negative ${kind}`;
    else expected = `${article} ${kind}`;
    if (max !== undefined) expected += ` of at most ${max}`;
  }
  return why === undefined ? expected : `${expected} (${why})`;
}

/**
 * A finite number, or a numeric string coerced to one, within `range`. Only
 * strings are coerced: `true`, `[5]` or `""` are refused, where a plain
 * `z.coerce.number()` would read them as 1, 5 and 0. Every failure carries
 * the one message that says what is expected, and the first one ends the
 * field's checks (`abort`), so each field reports one problem.
 */
function numberField(range: NumberRange) {
  const error = `must be ${expectedNumber(range)}`;
  const check = { error, abort: true };
  let number = z.number({ error });
  if (range.integer) number = number.int(check);
  if (range.positive) number = number.positive(check);
  if (range.min !== undefined) number = number.min(range.min, check);
  if (range.max !== undefined) number = number.max(range.max, check);
  return z
    .union([z.number(), z.string().regex(NUMERIC_STRING).pipe(z.coerce.number())], { error })
    .pipe(number);
}

/**
 * The accepted range of each numeric field, and why (the README's run input
 * section lists the same). Every figure outside them is refused by Plan,
 * naming the field, before anything is started or billed: each bound keeps
 * the sizing's arithmetic finite and the workflow's values valid for AWS.
 */
export const RUN_INPUT_RANGES = {
  /** A week: the job runs weekly, and a longer window would overlap the next run. */
  targetWindowMinutes: { positive: true, max: 10_080, why: "one week: the job runs weekly" },
  /**
   * AWS documents about 5 calls per second per unit; below 0.1 (one call in
   * 10 s) or above 1,000 the figure is a typo, and it sizes in-flight calls
   * and batches.
   */
  tpsPerUnit: { min: 0.1, max: 1000, why: "calls per second one inference unit serves" },
  /** StartProjectVersion takes at least 1; 1,000 is far beyond any quota and each costs by the hour. */
  inferenceUnits: {
    integer: true,
    min: 1,
    max: 1000,
    why: "inference units, billed by the hour each",
  },
  /** Every label is stored in each result; no model has more than a few hundred labels. */
  maxResults: { integer: true, min: 1, max: 1000, why: "labels kept per image" },
  /** Custom Labels costs a few USD per unit hour; above 1,000 it is a typo (and estimates overflow). */
  pricePerUnitHour: { min: 0, max: 1000, why: "USD per inference-unit hour" },
  /** Step Functions' ToleratedFailurePercentagePath must resolve to an integer from 0 to 100. */
  toleratedFailurePercentage: {
    integer: true,
    min: 0,
    max: 100,
    why: "Step Functions takes a whole percentage",
  },
  /** Models start in minutes; the workflow waits up to three times this (12 hours at 240). */
  startupMinutes: {
    min: 0,
    max: 240,
    why: "model start-up; the workflow waits up to three times this",
  },
  /** A stop takes minutes at most; above an hour it is a typo. */
  stopMinutes: { min: 0, max: 60, why: "model stop, billed until STOPPED" },
  /** A call slower than a minute is a fault, not a latency to plan for; it sizes in-flight calls. */
  expectedLatencyMs: { positive: true, max: 60_000, why: "one DetectCustomLabels call" },
  /** Lambda's longest timeout is 900 seconds. */
  lambdaTimeoutSeconds: { integer: true, min: 1, max: 900, why: "Lambda's longest timeout" },
  planShardObjects: PLAN_SHARD_OBJECTS_RANGE,
  /** Distributed Map's MaxConcurrency is at most 10,000. */
  maxWorkers: {
    integer: true,
    min: 1,
    max: MAX_MAP_CONCURRENCY,
    why: "Distributed Map's MaxConcurrency limit",
  },
} as const;

const BUCKET_NAME = /^(?!\d+\.\d+\.\d+\.\d+$)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const bucketError = "must be an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens)";
const bucketName = z.string({ error: bucketError }).regex(BUCKET_NAME, { error: bucketError });

const prefixError = "must be a string of at most 512 bytes";
const s3Prefix = z
  .string({ error: prefixError })
  .refine((prefix) => Buffer.byteLength(prefix, "utf8") <= 512, { error: prefixError });

const arnError =
  "must be a model version ARN like arn:aws:rekognition:<region>:<account>:project/<project>/version/<version>/<digits>";
const projectVersionArn = z
  .string({ error: arnError })
  .regex(PROJECT_VERSION_ARN, { error: arnError });

const imageMode = z.enum(["S3Object", "Bytes"], { error: 'must be "S3Object" or "Bytes"' });
const rescale = z.enum(RESCALE_MODES, { error: 'must be "never" or "restart"' });

/**
 * The one schema of the run input (after the environment layer is merged in).
 * `resultsBucket` stays optional here: it defaults to `imagesBucket`.
 */
export const runInputSchema = z.strictObject({
  imagesBucket: bucketName,
  imagesPrefix: s3Prefix.default(""),
  resultsBucket: bucketName.optional(),
  resultsPrefix: s3Prefix.default("rekognition-results/"),
  projectVersionArn,
  targetWindowMinutes: numberField(RUN_INPUT_RANGES.targetWindowMinutes).default(60),
  tpsPerUnit: numberField(RUN_INPUT_RANGES.tpsPerUnit).optional(),
  minUnits: numberField(RUN_INPUT_RANGES.inferenceUnits).default(1),
  maxUnits: numberField(RUN_INPUT_RANGES.inferenceUnits).default(5),
  maxInferenceUnits: numberField(RUN_INPUT_RANGES.inferenceUnits).optional(),
  minConfidence: numberField({ min: 0, max: 100 }).optional(),
  maxResults: numberField(RUN_INPUT_RANGES.maxResults).optional(),
  imageMode: imageMode.default("S3Object"),
  pricePerUnitHour: numberField(RUN_INPUT_RANGES.pricePerUnitHour).default(4),
  toleratedFailurePercentage: numberField(RUN_INPUT_RANGES.toleratedFailurePercentage).default(5),
  startupMinutes: numberField(RUN_INPUT_RANGES.startupMinutes).default(10),
  stopMinutes: numberField(RUN_INPUT_RANGES.stopMinutes).default(1),
  expectedLatencyMs: numberField(RUN_INPUT_RANGES.expectedLatencyMs).default(100),
  lambdaTimeoutSeconds: numberField(RUN_INPUT_RANGES.lambdaTimeoutSeconds).default(900),
  maxWorkers: numberField(RUN_INPUT_RANGES.maxWorkers).default(50),
  rescale: rescale.default("never"),
  planShardObjects: numberField(PLAN_SHARD_OBJECTS_RANGE).default(DEFAULT_PLAN_SHARD_OBJECTS),
});

type FieldName = keyof typeof runInputSchema.shape;

/** The environment variable behind each field. */
export const RUN_INPUT_ENV: Record<FieldName, string> = {
  imagesBucket: "IMAGES_BUCKET",
  imagesPrefix: "IMAGES_PREFIX",
  resultsBucket: "RESULTS_BUCKET",
  resultsPrefix: "RESULTS_PREFIX",
  projectVersionArn: "PROJECT_VERSION_ARN",
  targetWindowMinutes: "TARGET_WINDOW_MINUTES",
  tpsPerUnit: "TPS_PER_UNIT",
  minUnits: "MIN_UNITS",
  maxUnits: "MAX_UNITS",
  maxInferenceUnits: "MAX_INFERENCE_UNITS",
  minConfidence: "MIN_CONFIDENCE",
  maxResults: "MAX_RESULTS",
  imageMode: "IMAGE_MODE",
  pricePerUnitHour: "PRICE_PER_UNIT_HOUR",
  toleratedFailurePercentage: "TOLERATED_FAILURE_PERCENTAGE",
  startupMinutes: "STARTUP_MINUTES",
  stopMinutes: "STOP_MINUTES",
  expectedLatencyMs: "EXPECTED_LATENCY_MS",
  lambdaTimeoutSeconds: "LAMBDA_TIMEOUT_SECONDS",
  maxWorkers: "MAX_WORKERS",
  rescale: "RESCALE",
  planShardObjects: "PLAN_SHARD_OBJECTS",
};

const FIELD_NAMES = Object.keys(RUN_INPUT_ENV) as FieldName[];

/**
 * What is wrong with one field's value on its own ("must be ..., got ..."),
 * or undefined when it is valid. The schema says what is expected; the value
 * is shown as given, before any coercion.
 */
export function fieldProblem(name: FieldName, value: unknown): string | undefined {
  const result = runInputSchema.shape[name].safeParse(value);
  if (result.success) return undefined;
  return `${result.error.issues[0]?.message}, got ${describeValue(value)}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Parses the run input: defaults, then environment variables (empty = unset),
 * then the execution input. Throws `InvalidRunInputError` listing every
 * problem, one per line, each naming the field (or the env var it came from)
 * and the value.
 */
export function parseRunInput(input: unknown, env: NodeJS.ProcessEnv = process.env): RunInput {
  if (input !== undefined && input !== null && !isPlainObject(input)) {
    throw new InvalidRunInputError(
      `the execution input must be a JSON object, got ${describeValue(input)}`,
    );
  }
  const given = input ?? {};

  // A prototype-free object, filled from own properties only: a key such as
  // "__proto__" (JSON.parse makes it an own property) is then an own field
  // that the schema refuses as unknown, never a prototype that lends fields
  // to the run input; and nothing inherited by the input or the environment
  // is read as a value.
  const merged: Record<string, unknown> = Object.create(null);
  const fromEnv = new Set<string>();
  for (const name of FIELD_NAMES) {
    const envName = RUN_INPUT_ENV[name];
    const envValue = Object.hasOwn(env, envName) ? env[envName] : undefined;
    if (envValue !== undefined && envValue !== "") {
      merged[name] = envValue;
      fromEnv.add(name);
    }
  }
  for (const [name, value] of Object.entries(given)) {
    if (value === null) continue;
    merged[name] = value;
    fromEnv.delete(name);
  }

  const label = (name: string) =>
    fromEnv.has(name) ? `env var ${RUN_INPUT_ENV[name as FieldName]} (${name})` : name;

  const problems: string[] = [];
  const parsed = runInputSchema.safeParse(merged);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === "unrecognized_keys") {
        for (const key of issue.keys) {
          problems.push(
            `${JSON.stringify(key)} is not a run input field (known fields: ${FIELD_NAMES.join(", ")})`,
          );
        }
        continue;
      }
      const name = issue.path[0] as FieldName;
      const value = merged[name];
      problems.push(
        value === undefined
          ? `${name} is required: set it in the execution input or the ${RUN_INPUT_ENV[name]} env var`
          : `${label(name)} ${issue.message}, got ${describeValue(value)}`,
      );
    }
  }

  // Cross-field checks run on every field that is valid on its own, so one
  // pass reports everything.
  const valid = validFields(merged);
  problems.push(...crossFieldProblems(valid, label));
  if (env[DEPLOYED_IAM_SCOPE_ENV] === "true") problems.push(...scopeProblems(given, env));

  if (problems.length > 0 || !parsed.success) {
    throw new InvalidRunInputError(`Invalid run input:\n${problems.join("\n")}`);
  }
  const data = parsed.data;
  return dropUndefined({
    ...data,
    resultsBucket: data.resultsBucket ?? data.imagesBucket,
    resultsPrefix: normalizePrefix(data.resultsPrefix),
  }) as RunInput;
}

type ValidFields = { -readonly [K in FieldName]?: z.output<(typeof runInputSchema.shape)[K]> };

function validFields(merged: Record<string, unknown>): ValidFields {
  const valid: Record<string, unknown> = {};
  for (const name of FIELD_NAMES) {
    const result = runInputSchema.shape[name].safeParse(merged[name]);
    if (result.success) valid[name] = result.data;
  }
  return valid as ValidFields;
}

function crossFieldProblems(v: ValidFields, label: (name: string) => string): string[] {
  const problems: string[] = [];
  if (v.minUnits !== undefined && v.maxUnits !== undefined && v.minUnits > v.maxUnits) {
    problems.push(
      `${label("minUnits")} (${v.minUnits}) must not be more than ${label("maxUnits")} (${v.maxUnits})`,
    );
  }
  if (v.maxInferenceUnits !== undefined) {
    if (v.minUnits !== undefined && v.maxInferenceUnits < v.minUnits) {
      problems.push(
        `${label("maxInferenceUnits")} (${v.maxInferenceUnits}) must be at least ${label("minUnits")} (${v.minUnits})`,
      );
    }
    if (v.maxUnits !== undefined && v.maxInferenceUnits > v.maxUnits) {
      problems.push(
        `${label("maxInferenceUnits")} (${v.maxInferenceUnits}) must not be more than ${label("maxUnits")} (${v.maxUnits}, the unit quota)`,
      );
    }
  }
  const imagesBucket = v.imagesBucket;
  const resultsBucket = v.resultsBucket ?? imagesBucket;
  if (
    imagesBucket !== undefined &&
    resultsBucket === imagesBucket &&
    v.imagesPrefix !== undefined &&
    v.resultsPrefix !== undefined
  ) {
    // Images may contain the job's folders (they are left out of the backlog),
    // but may not lie inside one: the job's own files would be its images.
    const images = v.imagesPrefix;
    const folders = jobFolders(v.resultsPrefix);
    const inside = folders.find((folder) => images.startsWith(folder));
    if (inside !== undefined) {
      problems.push(
        `${label("imagesPrefix")} (${describeValue(images)}) lies inside ${describeValue(inside)}, a folder the job writes under ${label("resultsPrefix")} (${describeValue(normalizePrefix(v.resultsPrefix))}) in bucket ${imagesBucket}: ` +
          `the job's own files would be listed as images; choose an imagesPrefix outside ${folders.map((f) => describeValue(f)).join(", ")}, another resultsPrefix, or another resultsBucket`,
      );
    }
  }
  return problems;
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
