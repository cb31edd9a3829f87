/** Plan: validate the input, refuse a concurrent run, list and size the backlog, write the manifest. */
import { createHandler } from "../src/lambda-handler.ts";
import { planStep } from "../src/plan-step.ts";

export const handler = createHandler("plan", planStep);
