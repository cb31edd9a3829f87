/**
 * The sample events in `events/`: one per function, shaped as the workflow
 * (or EventBridge) sends them, for `npx osls invoke local -f <fn> -p events/<fn>.json`.
 * The follow-on events are built from a real Plan output, so they agree with
 * what the local stack holds (manifest, model ARN, buckets). Also the
 * environment file `npm run local:stack` writes and `local:events` reads.
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

/** Reads `KEY=value` lines (values optionally JSON-quoted), as local:stack writes them. */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = /^([A-Za-z_]\w*)=(.*)$/.exec(line.trim());
    if (!match) continue;
    const [, name, raw = ""] = match;
    env[name as string] = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
  }
  return env;
}

/** `KEY=value` lines a shell can source (`set -a; . file; set +a`) and dotenv tools can read. */
export function envFileText(environment: Record<string, string>): string {
  return `${Object.entries(environment)
    .map(
      ([name, value]) => `${name}=${/^[\w.:/@+-]*$/.test(value) ? value : JSON.stringify(value)}`,
    )
    .join("\n")}\n`;
}
