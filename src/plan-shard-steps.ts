/**
 * The sharded Plan's states: the Plan step decides the shards and writes
 * their ranges (`startShardedPlan`), the `PlanShards` Distributed Map runs one
 * `planShard` Lambda per range, and `mergePlan` joins them into the plan the
 * rest of the workflow reads, exactly as a single Plan writes it.
 */
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { InvalidRunInputError } from "./errors.ts";
import type { HandlerTools } from "./lambda-handler.ts";
import { assertRunId, newRunId } from "./plan.ts";
import { mergePlanShards, runPlanShard } from "./plan-shard.ts";
import { isSafeBoundary, type PlanShard, type ShardDecision, shardRanges } from "./plan-shards.ts";
import { runFiles } from "./result-keys.ts";
import { parseRunInput, type RunInput } from "./run-input.ts";
import type { Clock } from "./runtime.ts";
import { compareKeys } from "./s3-listing.ts";

/** What the Plan step hands the shard Map and the merge step when it shards. */
export interface ShardedPlanJob {
  runId: string;
  executionId: string;
  plannedAt: string;
  /** The run input as the Plan step parsed and checked it. */
  input: RunInput;
  shards: number;
  /** The shards' ranges, a JSON array the Map's ItemReader reads. */
  shardList: { bucket: string; key: string };
  reason: string;
}

/** Writes the shards' ranges and returns the job the shard Map and the merge step share. */
export async function startShardedPlan(opts: {
  s3: S3Client;
  input: RunInput;
  executionId: string;
  clock: Clock;
  decision: ShardDecision;
}): Promise<ShardedPlanJob> {
  const { s3, input, clock, decision } = opts;
  const runId = newRunId(clock.now());
  const shards = shardRanges(decision.boundaries);
  const shardList = {
    bucket: input.resultsBucket,
    key: runFiles.planShards(input.resultsPrefix, runId),
  };
  await s3.send(
    new PutObjectCommand({
      Bucket: shardList.bucket,
      Key: shardList.key,
      Body: `${JSON.stringify(shards)}\n`,
      ContentType: "application/json",
    }),
  );
  return {
    runId,
    executionId: opts.executionId,
    plannedAt: new Date(clock.now()).toISOString(),
    input,
    shards: shards.length,
    shardList,
    reason: decision.reason,
  };
}

/** The job as the Map and the merge step receive it, checked again (it crossed the state machine). */
function parseJob(job: ShardedPlanJob | undefined): ShardedPlanJob {
  if (!job || typeof job !== "object") {
    throw new InvalidRunInputError("the sharded plan's job is missing from the event");
  }
  assertRunId(job.runId);
  if (!Number.isInteger(job.shards) || job.shards < 1) {
    throw new InvalidRunInputError(`shards must be a whole number from 1, got ${job.shards}`);
  }
  // Checked as deployed values only: the Plan step checked the execution's overrides.
  return { ...job, input: parseRunInput(job.input, {}) };
}

function parseShard(shard: PlanShard | undefined, shards: number): PlanShard {
  const index = shard?.index;
  if (!shard || !Number.isInteger(index) || (index as number) < 0 || (index as number) >= shards) {
    throw new InvalidRunInputError(
      `a plan shard's index must be 0 to ${shards - 1}, got ${JSON.stringify(shard)}`,
    );
  }
  for (const end of [shard.after, shard.upTo]) {
    if (end !== undefined && !isSafeBoundary(end)) {
      throw new InvalidRunInputError(
        `plan shard ${index} has an unsafe boundary ${JSON.stringify(end)}`,
      );
    }
  }
  if (
    shard.after !== undefined &&
    shard.upTo !== undefined &&
    compareKeys(shard.after, shard.upTo) >= 0
  ) {
    throw new InvalidRunInputError(`plan shard ${index}'s range is empty or reversed`);
  }
  return shard;
}

/** One item of the PlanShards Map: lists its range, writes its parts. A small output (the Map's results add up). */
export async function planShardStep(
  event: { job: ShardedPlanJob; shard: PlanShard },
  { clients, clock, logger }: HandlerTools,
): Promise<{ index: number; listed: number; seconds: number }> {
  const job = parseJob(event.job);
  const shard = parseShard(event.shard, job.shards);
  const summary = await runPlanShard({
    s3: clients.s3,
    input: job.input,
    runId: job.runId,
    shard,
    clock,
    logger,
  });
  return { index: summary.index, listed: summary.counts.listed, seconds: summary.seconds };
}

/** After the PlanShards Map: the one plan (see `workflow-steps.ts`'s `mergePlanStep`). */
export async function mergePlanStep(
  event: { shardPlan: ShardedPlanJob },
  { clients, logger }: HandlerTools,
) {
  const job = parseJob(event.shardPlan);
  return mergePlanShards({
    s3: clients.s3,
    input: job.input,
    runId: job.runId,
    executionId: job.executionId,
    plannedAt: job.plannedAt,
    shards: job.shards,
    logger,
  });
}
