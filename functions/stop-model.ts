/** StopModel / StopAfterFailure: stop the model if this execution started it. */
import { createHandler } from "../src/lambda-handler.ts";
import { stopModelStep } from "../src/workflow-steps.ts";

export const handler = createHandler("stop-model", stopModelStep);
