/** ProcessBatch: one Distributed Map child; analyses a batch at its share of the provisioned TPS. */
import { createHandler } from "../src/lambda-handler.ts";
import { processBatchStep } from "../src/workflow-steps.ts";

export const handler = createHandler("process-batch", processBatchStep);
