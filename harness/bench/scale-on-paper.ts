import { estimateCost } from "../../src/cost.ts";
import { PLAN_STEP_LIMITS } from "../../src/plan-limits.ts";
import { MAX_MAP_CONCURRENCY } from "../../src/run-input.ts";
import { SIZING_RULES, type SizingInput, sizeRun } from "../../src/sizing.ts";
import { MODEL_WAIT_SECONDS } from "../../src/workflow-steps.ts";

/**
 * Scenario 5: what the planner does with a large backlog on real AWS
 * settings, worked out on paper (no servers): units, duration, batches,
 * Lambda, S3 and Step Functions usage, a cost breakdown, and each service
 * limit checked.
 */

/**
 * List prices, us-east-1, USD. All are UNCONFIRMED here (they change and
 * vary by Region): check the pricing pages named before relying on them.
 */
export const PRICING = {
  /** Rekognition Custom Labels, per inference-unit hour (aws.amazon.com/rekognition/pricing). */
  inferenceUnitHour: 4.0,
  /** Lambda x86, per GB-second (aws.amazon.com/lambda/pricing). */
  lambdaGbSecond: 0.0000166667,
  /** Lambda, per request. */
  lambdaRequest: 0.2 / 1_000_000,
  /** S3 Standard PUT, COPY, POST, LIST, per request (aws.amazon.com/s3/pricing). */
  s3WriteOrList: 0.005 / 1000,
  /** S3 Standard GET, HEAD and other reads, per request. */
  s3Read: 0.0004 / 1000,
  /** Step Functions Standard, per state transition (aws.amazon.com/step-functions/pricing). */
  stateTransition: 0.025 / 1000,
} as const;

/** Service limits from the project's facts (Step Functions, Lambda). */
export const SERVICE_LIMITS = {
  batchBytes: 256 * 1024,
  mapConcurrency: MAX_MAP_CONCURRENCY,
  historyEvents: 25_000,
  lambdaTimeoutSeconds: 900,
  /** The Plan Lambda's timeout and memory (serverless.yml). */
  planSeconds: PLAN_STEP_LIMITS.timeoutSeconds,
  planMemoryMb: PLAN_STEP_LIMITS.memoryMb,
} as const;

/** Realistic AWS settings for the paper scenarios. */
export const AWS_SETTINGS = {
  tpsPerUnit: 5,
  input: {
    targetWindowMinutes: 60,
    minUnits: 1,
    /** The per-model unit quota samples assume (UNCONFIRMED). */
    maxUnits: 5,
    startupMinutes: 15,
    stopMinutes: 1,
    expectedLatencyMs: 100,
    lambdaTimeoutSeconds: 900,
    maxWorkers: 50,
  } satisfies SizingInput,
  /** A typical item: `{"key":"<80 characters>","etag":"...","size":...}`-sized. */
  itemBytes: 160,
  /** The BatchContext every batch carries. */
  contextBytes: 600,
  /** Memory of processBatch (serverless.yml), GB. */
  batchMemoryGb: 1,
  /** The other Lambdas: assumed seconds each at 1 GB (plan scales with listing). */
  otherLambdaSeconds: 2,
  /**
   * Results already in the ledger per backlog image: the Plan lists them too
   * (a bucket analysed for weeks holds more results than new images; 1 is
   * the "10 M images plus 10 M results" case).
   */
  ledgerResultsPerImage: 1,
  /**
   * Seconds of Plan time per 1,000 listed objects (images or results): one
   * LIST page on AWS (about 0.1 s, UNCONFIRMED: S3 does not publish it) plus
   * the CPU the Plan spent per 1,000 listed objects in `npm run bench:plan`
   * at 100,000 images (0.167 CPU-s, embedded S3 included: an upper bound),
   * at the 0.58 vCPU a 1 GB Lambda gets (1 vCPU at 1,769 MB).
   */
  planSecondsPerThousand: 0.1 + 0.167 / (1024 / 1769),
  /**
   * The Plan's peak memory, MB. It does not grow with the number of results
   * (the listings are merge-joined as they stream; the three uploads buffer
   * at most 4 parts of 5 MB each). Measured at 100,000 images and 50,000
   * results with `npm run bench:plan`: 314 MB for the whole process, embedded
   * S3 included.
   */
  planMemoryMb: 320,
} as const;

export interface PaperRun {
  images: number;
  units: number;
  provisionedTps: number;
  workers: number;
  perWorkerTps: number;
  batchSize: number;
  batches: number;
  concurrency: number;
  startupSeconds: number;
  processingSeconds: number;
  durationSeconds: number;
  batchSeconds: number;
  batchBytes: number;
  plan: { listedObjects: number; seconds: number; memoryMb: number };
  lambda: { invocations: number; gbSeconds: number };
  s3: { lists: number; reads: number; writes: number };
  stepFunctions: { transitions: number; parentHistoryEvents: number };
  cost: {
    rekognition: number;
    lambda: number;
    s3: number;
    stepFunctions: number;
    total: number;
  };
  limits: { name: string; value: number; limit: number; ok: boolean }[];
}

/**
 * Works out one backlog size. Counting rules (so the figures can be checked):
 * - Lambda: plan, start, one check per MODEL_WAIT_SECONDS of start-up, one
 *   per batch, stop, report.
 * - S3: per image the GET Rekognition makes of the image (S3Object mode) and
 *   one PUT of the result; per batch a HEAD and a PUT of its started mark (a
 *   first attempt looks no image up in the ledger); LIST pages of
 *   1,000 over the images and the results prefix; a handful of run files.
 * - Plan: one Lambda lists the images and the ledger's results
 *   (`ledgerResultsPerImage` per image) at `planSecondsPerThousand`; its
 *   memory stays `planMemoryMb` whatever the count.
 * - Step Functions: the parent's states (about 12 plus 3 per wait loop) and,
 *   per child execution, its start, one Task and its end (3 transitions).
 * - Parent history: the Distributed Map keeps children out of the parent's
 *   history; about 5 events per parent state.
 */
export function paperRun(images: number, settings = AWS_SETTINGS): PaperRun {
  const sizing = sizeRun({
    pending: { count: images, maxItemBytes: settings.itemBytes },
    input: settings.input,
    tpsPerUnit: settings.tpsPerUnit,
    tpsSource: "input",
    contextBytes: settings.contextBytes,
  });
  const cost = estimateCost({
    sizing,
    pending: images,
    input: { ...settings.input, pricePerUnitHour: PRICING.inferenceUnitHour },
  });
  const batches = Math.ceil(images / sizing.batchSize);
  const batchSeconds = sizing.batchSize / sizing.perWorkerTps;
  const startupSeconds = sizing.startupSeconds;
  const processingSeconds = sizing.expectedProcessingSeconds;
  const checks = Math.ceil(startupSeconds / MODEL_WAIT_SECONDS);
  const invocations = 2 + checks + batches + 2;
  const ledgerResults = Math.round(images * settings.ledgerResultsPerImage);
  const planSeconds =
    settings.otherLambdaSeconds +
    ((images + ledgerResults) / 1000) * settings.planSecondsPerThousand;
  const gbSeconds =
    batches * batchSeconds * settings.batchMemoryGb +
    planSeconds +
    (invocations - batches - 1) * settings.otherLambdaSeconds;
  const lists = Math.ceil(images / 1000) + Math.ceil(ledgerResults / 1000);
  const reads = images + 2 * batches;
  const runFiles = 10;
  const writes = images + batches + runFiles;
  const parentStates = 12 + 3 * checks;
  const transitions = parentStates + 3 * batches;
  const parentHistoryEvents = 5 * parentStates;
  const batchBytes =
    sizing.batchSize * settings.itemBytes + settings.contextBytes + SIZING_RULES.batchEnvelopeBytes;

  const rekognition = cost.chosen.cost;
  const lambda = gbSeconds * PRICING.lambdaGbSecond + invocations * PRICING.lambdaRequest;
  const s3 = (lists + writes) * PRICING.s3WriteOrList + reads * PRICING.s3Read;
  const stepFunctions = transitions * PRICING.stateTransition;
  return {
    images,
    units: sizing.units,
    provisionedTps: sizing.provisionedTps,
    workers: sizing.workers,
    perWorkerTps: sizing.perWorkerTps,
    batchSize: sizing.batchSize,
    batches,
    concurrency: sizing.concurrency,
    startupSeconds,
    processingSeconds,
    durationSeconds: startupSeconds + processingSeconds,
    batchSeconds,
    batchBytes,
    plan: {
      listedObjects: images + ledgerResults,
      seconds: planSeconds,
      memoryMb: settings.planMemoryMb,
    },
    lambda: { invocations, gbSeconds },
    s3: { lists, reads, writes },
    stepFunctions: { transitions, parentHistoryEvents },
    cost: {
      rekognition,
      lambda,
      s3,
      stepFunctions,
      total: rekognition + lambda + s3 + stepFunctions,
    },
    limits: [
      limit("batch bytes", batchBytes, SERVICE_LIMITS.batchBytes),
      limit("map concurrency", sizing.workers, SERVICE_LIMITS.mapConcurrency),
      limit("parent history events", parentHistoryEvents, SERVICE_LIMITS.historyEvents),
      limit("batch seconds", batchSeconds, SERVICE_LIMITS.lambdaTimeoutSeconds),
      limit("plan seconds", planSeconds, SERVICE_LIMITS.planSeconds),
      limit("plan memory MB", settings.planMemoryMb, SERVICE_LIMITS.planMemoryMb),
    ],
  };
}

function limit(name: string, value: number, max: number) {
  return { name, value, limit: max, ok: value <= max };
}

/** The backlog sizes scenario 5 works out. */
export const PAPER_SIZES = [100_000, 1_000_000, 10_000_000] as const;

/**
 * The most backlog images one Plan lists within its timeout on these
 * settings (with `ledgerResultsPerImage` results each): the wall a single
 * Plan meets.
 */
export function planListingCapacity(settings = AWS_SETTINGS): number {
  const budget = SERVICE_LIMITS.planSeconds - settings.otherLambdaSeconds;
  const perImage = ((1 + settings.ledgerResultsPerImage) / 1000) * settings.planSecondsPerThousand;
  return Math.floor(budget / perImage);
}
