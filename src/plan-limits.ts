import { InvalidRunInputError } from "./errors.ts";
import { MAX_MAP_CONCURRENCY, type RunInput } from "./run-input.ts";
import type { CostEstimate, Sizing } from "./shapes.ts";
import { describeDuration, SIZING_RULES } from "./sizing.ts";

/**
 * What a plan may ask for. Each field of the run input is within its own
 * range, but together they can still describe a run nobody means (a month of
 * processing, a million dollars, thousands of calls in flight in one Lambda):
 * such a plan is refused before anything is started or billed.
 */
export const PLAN_LIMITS = {
  /**
   * Start-up plus processing. A weekly run that outlasts a month keeps every
   * later weekly start refused; and the workflow allows a run up to three
   * times its start-up and twice its processing time before the reaper stops
   * the model, which stays well inside Step Functions' one-year limit on an
   * execution.
   */
  runSeconds: 30 * 24 * 3600,
  /** The estimated cost of the planned run, in USD (as pricePerUnitHour). */
  cost: 1_000_000,
  /**
   * In-flight calls per worker: each holds a socket, and a Lambda function
   * has 1,024 file descriptors.
   */
  concurrencyPerWorker: 1_000,
} as const;

/**
 * The Plan step's own budget: its Lambda (serverless.yml, function `plan`;
 * `planShard` and `mergePlan` have the same). Its memory does not grow with
 * the backlog (the images listing and the ledger are merge-joined as they
 * stream, see `ledger-join.ts`); its time does, as it lists every image and
 * every result, which is why a backlog past `planShardObjects` is listed by
 * Plan shards (`plan-shards.ts`).
 */
export const PLAN_STEP_LIMITS = {
  timeoutSeconds: 900,
  memoryMb: 1024,
  /** Past this share of the timeout, the Plan warns before a later one times out. */
  warnShare: 0.5,
} as const;

/**
 * A warning when listing took more than `warnShare` of the Plan's timeout,
 * saying at about how many listed objects the Plan would time out; undefined
 * otherwise.
 */
export function planListingNote(opts: {
  listingSeconds: number;
  listedObjects: number;
  timeoutSeconds?: number;
}): string | undefined {
  const timeout = opts.timeoutSeconds ?? PLAN_STEP_LIMITS.timeoutSeconds;
  if (!(opts.listingSeconds > timeout * PLAN_STEP_LIMITS.warnShare)) return undefined;
  const reachable = Math.floor((opts.listedObjects * timeout) / opts.listingSeconds);
  return (
    `the Plan listed ${opts.listedObjects.toLocaleString("en-US")} objects (images and results) in ` +
    `${Math.round(opts.listingSeconds)} s, more than ${PLAN_STEP_LIMITS.warnShare * 100} % of its ${timeout} s timeout: ` +
    `at this rate it times out at about ${reachable.toLocaleString("en-US")} objects; lower planShardObjects ` +
    "so that Plan shards list it in parallel (or split the backlog with imagesPrefix) before it grows that far"
  );
}

const number = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });

function isWhole(value: number, min: number, max = Number.MAX_SAFE_INTEGER): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}

/**
 * Why the plan must not run, one line per problem, each naming the run input
 * fields that lead to it; empty when the plan is sound.
 */
export function planLimitProblems(opts: {
  sizing: Sizing;
  cost: CostEstimate;
  pending: number;
  input: Pick<RunInput, "lambdaTimeoutSeconds">;
}): string[] {
  const { sizing: s, cost, pending, input } = opts;
  const problems: string[] = [];

  // Step Functions and the batch Lambda take these as they are: a fraction or
  // an infinity fails the Map (or every batch) after the model started.
  const wholes: [string, number, number, number?][] = [
    ["units", s.units, 1],
    ["workers (the Map's MaxConcurrency)", s.workers, 1, MAX_MAP_CONCURRENCY],
    ["batchSize (the Map's MaxItemsPerBatch)", s.batchSize, 1],
    ["in-flight calls per worker", s.concurrency, 1],
  ];
  for (const [what, value, min, max] of wholes) {
    if (!isWhole(value, min, max)) {
      problems.push(
        `the plan sized ${what} as ${value}, not a whole number from ${min}${max ? ` to ${max}` : ""}: check tpsPerUnit, expectedLatencyMs and maxWorkers`,
      );
    }
  }
  const figures: [string, number][] = [
    ["provisioned TPS", s.provisionedTps],
    ["TPS per worker", s.perWorkerTps],
    ["processing time", s.expectedProcessingSeconds],
    ["start-up time", s.startupSeconds],
  ];
  for (const [what, value] of figures) {
    if (!(Number.isFinite(value) && value >= 0)) {
      problems.push(`the plan computed a ${what} of ${value}: check tpsPerUnit and startupMinutes`);
    }
  }

  if (pending > 0) {
    const runSeconds = s.startupSeconds + s.expectedProcessingSeconds;
    if (!(runSeconds <= PLAN_LIMITS.runSeconds)) {
      problems.push(
        `the run would take about ${describeDuration(runSeconds)} (startupMinutes plus ${pending.toLocaleString("en-US")} images at ` +
          `${number.format(s.provisionedTps)} calls per second from ${s.units} unit(s) x tpsPerUnit ${number.format(s.tpsPerUnit)}), ` +
          `more than the ${describeDuration(PLAN_LIMITS.runSeconds)} a weekly run may take: raise maxUnits, check tpsPerUnit, ` +
          "or split the backlog with imagesPrefix",
      );
    }

    const chosen = cost.chosen.cost;
    if (!(Number.isFinite(chosen) && chosen <= PLAN_LIMITS.cost)) {
      problems.push(
        `the run's estimated cost, ${number.format(chosen)} USD for ${number.format(cost.chosen.inferenceHours)} inference-unit hours at ` +
          `pricePerUnitHour ${number.format(cost.pricePerUnitHour)}, is more than the ${number.format(PLAN_LIMITS.cost)} USD a run may cost: ` +
          "check pricePerUnitHour, tpsPerUnit and minUnits",
      );
    } else if (
      cost.options.some((o) => !Number.isFinite(o.cost) || !Number.isFinite(o.durationSeconds))
    ) {
      problems.push(
        "the cost table has a figure that is not finite: check pricePerUnitHour and tpsPerUnit",
      );
    }

    if (s.concurrency > PLAN_LIMITS.concurrencyPerWorker) {
      problems.push(
        `each worker would keep ${s.concurrency.toLocaleString("en-US")} calls in flight (${number.format(s.perWorkerTps)} calls per second ` +
          `at expectedLatencyMs ${number.format(s.expectedLatencyMs)}), more than the ${PLAN_LIMITS.concurrencyPerWorker.toLocaleString("en-US")} ` +
          "one Lambda can hold open: raise maxWorkers, or check tpsPerUnit and expectedLatencyMs",
      );
    }

    // Sizing keeps a batch within this share of the timeout; when even one
    // image cannot fit, every batch would time out.
    const batchBudget = input.lambdaTimeoutSeconds * SIZING_RULES.batchTimeShare;
    const imageSeconds = (s.expectedLatencyMs + SIZING_RULES.perImageS3Ms) / 1000;
    const batchSeconds = s.batchSize / s.perWorkerTps;
    if (imageSeconds > batchBudget) {
      problems.push(
        `one image takes about ${number.format(imageSeconds)} s (expectedLatencyMs plus the S3 reads and writes), ` +
          `more than the ${number.format(batchBudget)} s a batch may take (half of lambdaTimeoutSeconds ${input.lambdaTimeoutSeconds}): ` +
          "raise lambdaTimeoutSeconds or check expectedLatencyMs",
      );
    } else if (!(batchSeconds <= batchBudget)) {
      problems.push(
        `a batch of ${s.batchSize} image(s) at ${number.format(s.perWorkerTps)} calls per second per worker takes about ` +
          `${number.format(batchSeconds)} s, more than the ${number.format(batchBudget)} s a batch may take ` +
          `(half of lambdaTimeoutSeconds ${input.lambdaTimeoutSeconds}): raise lambdaTimeoutSeconds, lower maxWorkers, or check tpsPerUnit`,
      );
    }
  }
  return problems;
}

/** Throws `InvalidRunInputError` listing every problem of `planLimitProblems`. */
export function assertPlanWithinLimits(opts: Parameters<typeof planLimitProblems>[0]): void {
  const problems = planLimitProblems(opts);
  if (problems.length > 0) {
    throw new InvalidRunInputError(`Invalid run input:\n${problems.join("\n")}`);
  }
}
