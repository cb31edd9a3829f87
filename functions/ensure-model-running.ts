/** EnsureModelRunning: start the model (recording ownership) or adopt a running one. */
import { createHandler } from "../src/lambda-handler.ts";
import { ensureModelRunningStep } from "../src/workflow-steps.ts";

export const handler = createHandler("ensure-model-running", ensureModelRunningStep);
