/** PlanShard: one item of the PlanShards Map; lists one key range of the backlog and writes its part of the lists. */
import { createHandler } from "../src/lambda-handler.ts";
import { planShardStep } from "../src/plan-shard-steps.ts";

export const handler = createHandler("planShard", planShardStep);
