import { estimateCost } from "../../src/cost.ts";
import { PLAN_STEP_LIMITS } from "../../src/plan-limits.ts";
import { DEFAULT_PLAN_SHARD_OBJECTS, MAX_PLAN_SHARDS } from "../../src/plan-shards.ts";
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
  /** planShard and mergePlan have the Plan's timeout and memory (serverless.yml). */
  planShards: MAX_PLAN_SHARDS,
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
  /** Listed objects per Plan shard (the run input `planShardObjects`, default). */
  planShardObjects: DEFAULT_PLAN_SHARD_OBJECTS,
  /** The PlanShards Map's MaxConcurrency (statemachines/weekly-batch.asl.yml). */
  planShardConcurrency: 40,
  /**
   * Seconds per 1,000 snapshot entries a shard reads before its range (the
   * snapshot is one object read from its start: the last shard reads it all).
   * `npm run bench:plan -- --shards 8` at 100,000 images: 0.20 to 0.31
   * CPU-s for the 50,000-entry snapshot, so at most 0.006 CPU-s per 1,000,
   * scaled to a 1 GB Lambda's vCPU share like `planSecondsPerThousand`.
   */
  snapshotSkipSecondsPerThousand: 0.006 / (1024 / 1769),
  /**
   * Bytes per entry of the gzip snapshot: 26.8 measured with the bench's
   * 40-character keys; longer keys compress less, hence 40.
   */
  snapshotBytesPerEntry: 40,
  /**
   * MergePlan's streaming copy (GET into a multipart upload) through a 1 GB
   * Lambda, MB/s. UNCONFIRMED: a conservative figure for S3 within a Region.
   */
  mergeCopyMbPerSecond: 50,
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
  plan: {
    listedObjects: number;
    /** The Plan step: everything (one shard), or only deciding the shards. */
    seconds: number;
    memoryMb: number;
    shards: number;
    /** Each shard's Lambda: its listing, plus the snapshot it reads past before its range. */
    shardSeconds: number;
    /** MergePlan: joining the manifest and the snapshot. */
    mergeSeconds: number;
    /** Plan, then the shards in waves of the Map's concurrency, then MergePlan. */
    wallSeconds: number;
  };
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
 *   per batch, stop, report; a sharded Plan adds its shards and the merge.
 * - S3: per image the GET Rekognition makes of the image (S3Object mode) and
 *   one PUT of the result; per batch a HEAD and a PUT of its started mark (a
 *   first attempt looks no image up in the ledger); LIST pages of
 *   1,000 over the images and the results prefix; a handful of run files.
 * - Plan: one Lambda lists the images and the ledger's results
 *   (`ledgerResultsPerImage` per image) at `planSecondsPerThousand` up to
 *   `planShardObjects`; past it, Plan shards list a share each, and MergePlan
 *   joins their parts (`paperPlan`). Memory stays `planMemoryMb` whatever the
 *   count, in every one of them.
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
  const ledgerResults = Math.round(images * settings.ledgerResultsPerImage);
  const plan = paperPlan(images, ledgerResults, settings);
  const planSeconds = plan.seconds;
  // A sharded Plan adds one planShard per shard and one mergePlan.
  const shardInvocations = plan.shards > 1 ? plan.shards + 1 : 0;
  const invocations = 2 + checks + batches + 2 + shardInvocations;
  const gbSeconds =
    batches * batchSeconds * settings.batchMemoryGb +
    planSeconds +
    (invocations - batches - 1 - shardInvocations) * settings.otherLambdaSeconds +
    (plan.shards > 1 ? plan.shards * plan.shardSeconds + plan.mergeSeconds : 0);
  const lists = Math.ceil(images / 1000) + Math.ceil(ledgerResults / 1000);
  const reads = images + 2 * batches;
  const runFiles = 10;
  const writes = images + batches + runFiles;
  const parentStates = 12 + 3 * checks + (plan.shards > 1 ? 3 : 0);
  const transitions = parentStates + 3 * batches + (plan.shards > 1 ? 3 * plan.shards : 0);
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
    plan,
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
      limit("plan shards", plan.shards, SERVICE_LIMITS.planShards),
      limit("plan shard seconds", plan.shardSeconds, SERVICE_LIMITS.planSeconds),
      limit("plan shard memory MB", settings.planMemoryMb, SERVICE_LIMITS.planMemoryMb),
      limit("merge plan seconds", plan.mergeSeconds, SERVICE_LIMITS.planSeconds),
    ],
  };
}

function limit(name: string, value: number, max: number) {
  return { name, value, limit: max, ok: value <= max };
}

/** How many Plan shards list `objects` (images plus results): one per `planShardObjects`. */
export function planShardCount(objects: number, settings = AWS_SETTINGS): number {
  if (objects <= settings.planShardObjects) return 1;
  return Math.min(MAX_PLAN_SHARDS, Math.ceil(objects / settings.planShardObjects));
}

/**
 * The Plan's time, one Lambda or sharded (see `plan-shards.ts`). One shard:
 * the Plan lists everything. Several: the Plan only decides (on a first run
 * it lists `planShardObjects` before it stops and shards; later runs read the
 * snapshot's stats), each shard lists its share and reads the
 * snapshot up to its range's end (the last one all of it), and MergePlan
 * copies the shards' manifest and snapshot parts into one of each.
 */
export function paperPlan(
  images: number,
  ledgerResults: number,
  settings = AWS_SETTINGS,
): PaperRun["plan"] {
  const listedObjects = images + ledgerResults;
  const shards = planShardCount(listedObjects, settings);
  const perThousand = settings.planSecondsPerThousand;
  if (shards === 1) {
    const seconds = settings.otherLambdaSeconds + (listedObjects / 1000) * perThousand;
    return {
      listedObjects,
      seconds,
      memoryMb: settings.planMemoryMb,
      shards,
      shardSeconds: 0,
      mergeSeconds: 0,
      wallSeconds: seconds,
    };
  }
  const seconds = settings.otherLambdaSeconds + (settings.planShardObjects / 1000) * perThousand;
  const shardSeconds =
    settings.otherLambdaSeconds +
    (listedObjects / shards / 1000) * perThousand +
    (ledgerResults / 1000) * settings.snapshotSkipSecondsPerThousand;
  const copiedMb =
    (images * settings.itemBytes + ledgerResults * settings.snapshotBytesPerEntry) / 1e6;
  const mergeSeconds = settings.otherLambdaSeconds + copiedMb / settings.mergeCopyMbPerSecond;
  const waves = Math.ceil(shards / settings.planShardConcurrency);
  return {
    listedObjects,
    seconds,
    memoryMb: settings.planMemoryMb,
    shards,
    shardSeconds,
    mergeSeconds,
    wallSeconds: seconds + waves * shardSeconds + mergeSeconds,
  };
}

/** The backlog sizes scenario 5 works out. */
export const PAPER_SIZES = [100_000, 1_000_000, 10_000_000] as const;

/**
 * The most backlog images one Plan (or one Plan shard) lists within its
 * timeout on these settings (with `ledgerResultsPerImage` results each): the
 * wall a single Plan met before the listing was sharded.
 */
export function planListingCapacity(settings = AWS_SETTINGS): number {
  const budget = SERVICE_LIMITS.planSeconds - settings.otherLambdaSeconds;
  const perImage = ((1 + settings.ledgerResultsPerImage) / 1000) * settings.planSecondsPerThousand;
  return Math.floor(budget / perImage);
}
