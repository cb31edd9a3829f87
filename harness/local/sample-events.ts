/**
 * The sample events in `events/`: one per function, shaped as the workflow
 * (or EventBridge) sends them, for `npx osls invoke local -f <fn> -p events/<fn>.json`.
 * The follow-on events are built from a real Plan output, so they agree with
 * what the local stack holds (manifest, model ARN, buckets). Also the
 * environment file `npm run local:stack` writes and `local:events` reads
 * (with `util.parseEnv`).
 */
import type { ImageRef, Plan } from "../../src/shapes.ts";
import { LOCAL_STATE_MACHINE_NAME } from "./local-job.ts";

/** The execution the sample events pretend to be part of. */
export const SAMPLE_EXECUTION_ARN = `arn:aws:states:us-east-1:123456789012:execution:${LOCAL_STATE_MACHINE_NAME}:invoke-local`;

/** What the Plan state passes: the execution input, its id and start time. */
export function planEvent(startTime: Date): Record<string, unknown> {
  return {
    input: {},
    executionId: SAMPLE_EXECUTION_ARN,
    executionStartTime: startTime.toISOString(),
  };
}

/** Event file name (without `.json`) -> event, for every function after Plan. */
export function followOnEvents(plan: Plan, manifest: readonly ImageRef[]): Record<string, unknown> {
  const stateMachineArn = SAMPLE_EXECUTION_ARN.replace(
    /:execution:([^:]+):[^:]+$/,
    ":stateMachine:$1",
  );
  return {
    "ensure-model-running": { plan },
    "check-model": { plan, attempt: 0 },
    // One ItemBatcher batch: the first `batchSize` lines of the manifest.
    "process-batch": {
      BatchInput: { context: plan.context },
      Items: manifest.slice(0, Math.max(1, plan.sizing.batchSize)),
    },
    "stop-model": { plan, executionId: SAMPLE_EXECUTION_ARN, reason: "completed" },
    report: { plan, execution: { StartTime: plan.plannedAt } },
    "safety-stop": {
      version: "0",
      source: "aws.states",
      "detail-type": "Step Functions Execution Status Change",
      detail: { executionArn: SAMPLE_EXECUTION_ARN, stateMachineArn, status: "FAILED" },
    },
    reaper: {
      version: "0",
      source: "aws.events",
      "detail-type": "Scheduled Event",
      resources: [],
      detail: {},
    },
  };
}

/**
 * `KEY=value` lines that a shell sources (`set -a; . file; set +a`) and
 * Node's `util.parseEnv` reads to the same values: plain values bare, others
 * in single quotes, which both take literally.
 */
export function envFileText(environment: Record<string, string>): string {
  const line = ([name, value]: [string, string]) => {
    if (/^[\w.:/@+-]*$/.test(value)) return `${name}=${value}`;
    if (/['\n\r]/.test(value)) {
      throw new Error(
        `${name} cannot be written to an env file: its value holds a quote or a line break`,
      );
    }
    return `${name}='${value}'`;
  };
  return `${Object.entries(environment).map(line).join("\n")}\n`;
}
