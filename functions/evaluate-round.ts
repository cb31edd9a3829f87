/** EvaluateRound: after each round of the Map, records it and decides on a restart with more units. */
import { createHandler } from "../src/lambda-handler.ts";
import { evaluateRoundStep } from "../src/workflow-steps.ts";

export const handler = createHandler("evaluate-round", evaluateRoundStep);
