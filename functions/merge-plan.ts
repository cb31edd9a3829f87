/** MergePlan: joins the plan shards' lists and counts into the run's one manifest and plan. */
import { createHandler } from "../src/lambda-handler.ts";
import { mergePlanStep } from "../src/plan-step.ts";

export const handler = createHandler("mergePlan", mergePlanStep);
