/** CheckModel: one status check for the wait-until-RUNNING loop. */
import { createHandler } from "../src/lambda-handler.ts";
import { checkModelStep } from "../src/workflow-steps.ts";

export const handler = createHandler("check-model", checkModelStep);
