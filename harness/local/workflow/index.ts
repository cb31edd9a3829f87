/** The local Step Functions engine: run a definition with local handlers and a Distributed Map adapter. */
export {
  type AslDefinition,
  type JsonValue,
  loadDefinition,
  parseDefinition,
  WorkflowDefinitionError,
} from "./asl.ts";
export type { ChildRef, MapRunCounts, WorkflowEvent, WorkflowEventListener } from "./events.ts";
export type {
  HandlerBinding,
  HandlerMap,
  LocalHandler,
  LocalLambdaContext,
} from "./lambda-binding.ts";
export { type RunWorkflowOptions, runWorkflow, type WorkflowResult } from "./run-workflow.ts";
