/** SafetyStop: EventBridge sends FAILED, TIMED_OUT and ABORTED executions here; stops the model if that execution owned it. */
import { createHandler } from "../src/lambda-handler.ts";
import { safetyStopStep } from "../src/workflow-steps.ts";

export const handler = createHandler("safety-stop", safetyStopStep);
