/**
 * The Plan step (and MergePlan, which ends a sharded Plan): what their Lambdas
 * do between parsing the event and returning the plan the workflow runs.
 */
import { ListExecutionsCommand, type SFNClient } from "@aws-sdk/client-sfn";
import { ConcurrentExecutionError, InvalidRunInputError } from "./errors.ts";
import type { HandlerTools } from "./lambda-handler.ts";
import { publishPlanMetrics } from "./metrics.ts";
import { mapPlanErrors, planRun } from "./plan.ts";
import {
  mergePlanStep as mergeShardedPlan,
  type ShardedPlanJob,
  startShardedPlan,
} from "./plan-shard-steps.ts";
import {
  PlanShardBudgetExceeded,
  type ShardDecision,
  shardsFromFolders,
  shardsFromSnapshot,
} from "./plan-shards.ts";
import { checkRegions } from "./region-check.ts";
import { firstRounds, type RoundsState } from "./rounds.ts";
import { parseRunInput, type RunInput } from "./run-input.ts";
import type { Plan } from "./shapes.ts";

/**
 * Refuses to run beside another execution of the same state machine. Enabled
 * when `STATE_MACHINE_ARN` is set (always, when deployed).
 */
export async function assertNoConcurrentExecution(opts: {
  sfn: SFNClient;
  stateMachineArn: string;
  executionId: string;
}): Promise<void> {
  let nextToken: string | undefined;
  do {
    const page = await opts.sfn.send(
      new ListExecutionsCommand({
        stateMachineArn: opts.stateMachineArn,
        statusFilter: "RUNNING",
        nextToken,
      }),
    );
    const other = page.executions?.find((e) => e.executionArn !== opts.executionId);
    if (other) {
      throw new ConcurrentExecutionError(
        `another execution of this workflow is running (${other.executionArn}, started ${other.startDate?.toISOString()}); this one refused to start before touching the model`,
      );
    }
    nextToken = page.nextToken;
  } while (nextToken);
}

export interface PlanEvent {
  input?: unknown;
  executionId: string;
  executionStartTime?: string;
}

/** The Plan step's output when one Plan listed the backlog: the plan, and the rounds to run. */
export interface PlannedState {
  plan: Plan;
  execution: { StartTime?: string };
  rounds: RoundsState;
}

/**
 * The Plan step: validates the input, refuses a concurrent run, and either
 * plans the run (one Plan lists everything, the usual case) or, when the
 * backlog is larger than one Plan shard takes (`planShardObjects`, by the
 * last snapshot's stats, or found while listing), writes the shards' ranges
 * and returns `shardPlan`: the workflow then runs the PlanShards Map and
 * MergePlan, which returns what this step returns otherwise.
 */
export async function planStep(
  event: PlanEvent,
  { clients, clock, logger }: HandlerTools,
): Promise<PlannedState | { shardPlan: ShardedPlanJob; execution: { StartTime?: string } }> {
  const input = parseRunInput(event.input);
  if (typeof event.executionId !== "string" || event.executionId === "") {
    throw new InvalidRunInputError("executionId must be the execution's id, got nothing");
  }
  const stateMachineArn = process.env.STATE_MACHINE_ARN;
  if (stateMachineArn) {
    await assertNoConcurrentExecution({
      sfn: clients.sfn,
      stateMachineArn,
      executionId: event.executionId,
    });
  } else {
    logger.warn("STATE_MACHINE_ARN is not set: the concurrent-execution check is off");
  }
  const execution = event.executionStartTime ? { StartTime: event.executionStartTime } : {};
  const s3 = clients.s3;
  const shardedBy = async (decision: ShardDecision) => {
    await checkRegions({ s3, input, region: await s3.config.region() });
    return startShardedPlan({ s3, input, executionId: event.executionId, clock, decision });
  };
  // A large ledger says so in its snapshot's stats: shards at once, nothing listed here.
  let sharded = await mapPlanErrors(input, async () => {
    const decision = await shardsFromSnapshot({ s3, input, logger });
    return decision ? shardedBy(decision) : undefined;
  });
  if (!sharded) {
    try {
      // Today's single Plan, stopped as soon as it lists more than one shard takes.
      const plan = await planRun({
        s3,
        input,
        executionId: event.executionId,
        clock,
        logger,
        maxListedObjects: input.planShardObjects,
      });
      return plannedState(plan, execution, logger);
    } catch (error) {
      if (!(error instanceof PlanShardBudgetExceeded)) throw error;
    }
    const decision = await mapPlanErrors(input, () => shardsFromFolders({ s3, input, logger }));
    if (decision.boundaries.length === 0) {
      const plan = await planRun({ s3, input, executionId: event.executionId, clock, logger });
      return plannedState(plan, execution, logger);
    }
    sharded = await mapPlanErrors(input, () => shardedBy(decision));
  }
  logger.info("the backlog is listed by plan shards", {
    runId: sharded.runId,
    shards: sharded.shards,
    reason: sharded.reason,
  });
  return { shardPlan: sharded, execution };
}

/** The planned run as the rest of the workflow reads it (after one Plan, or after MergePlan). */
export function plannedState(
  plan: Plan,
  execution: { StartTime?: string },
  logger: HandlerTools["logger"],
): PlannedState {
  logger.info("plan", {
    runId: plan.runId,
    counts: plan.counts,
    units: plan.sizing.units,
    workers: plan.sizing.workers,
    batchSize: plan.sizing.batchSize,
    estimatedCost: plan.cost.chosen.cost,
  });
  publishPlanMetrics(plan, logger);
  return { plan, execution, rounds: firstRounds(plan) };
}

/** MergePlan: after the PlanShards Map, the one plan, exactly as a single Plan returns it. */
export async function mergePlanStep(
  event: { shardPlan: ShardedPlanJob; execution?: { StartTime?: string } },
  tools: HandlerTools,
): Promise<PlannedState> {
  const input = event.shardPlan?.input as RunInput;
  const plan = await mapPlanErrors(input, () => mergeShardedPlan(event, tools));
  return plannedState(plan, event.execution ?? {}, tools.logger);
}
