/** Reaper: hourly; stops a model whose lease belongs to an execution that is no longer running, or has expired. */
import { createHandler } from "../src/lambda-handler.ts";
import { reaperStep } from "../src/workflow-steps.ts";

export const handler = createHandler("reaper", reaperStep);
