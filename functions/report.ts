/** Report / ReportFailure: summary JSON, HTML report, learned TPS. */
import { createHandler } from "../src/lambda-handler.ts";
import { reportStep } from "../src/workflow-steps.ts";

export const handler = createHandler("report", reportStep);
