import { CloudWatchClient, GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createHandler, type HandlerTools } from "../../src/lambda-handler.ts";
import { silentLogger } from "../../src/runtime.ts";
import type { Plan } from "../../src/shapes.ts";
import { jsonBytes, STATE_PAYLOAD_LIMIT_BYTES } from "../../src/state-limits.ts";
import {
  checkModelStep,
  ensureModelRunningStep,
  planStep,
  reportStep,
  stopModelStep,
} from "../../src/workflow-steps.ts";
import {
  EXECUTION_ARN,
  type FakeAws,
  fakeAws,
  type ManualClock,
  MODEL_ARN,
  manualClock,
  RESULTS_BUCKET,
  RESULTS_PREFIX,
} from "../support/model-fakes.ts";

/**
 * Every state of statemachines/weekly-batch.asl.yml, at its worst: what each
 * Lambda returns (ResultPath merges it into the state), what a Catch puts in
 * `$.error`, and the whole state the Report steps receive, each far under
 * Step Functions' 256 KiB (States.DataLimitExceeded is caught by nothing).
 * The batch output has its own test (batch-output-bounds.test.ts).
 */

const WITH_MARGIN = STATE_PAYLOAD_LIMIT_BYTES - 32 * 1024;
/** 300,000 characters of a multi-byte script: what an unbounded message could be. */
const HUGE = "检查对象".repeat(75_000);
/** A prefix at the input's limit (512 bytes), of 2-byte characters. */
const LONG_PREFIX = `${"é".repeat(255)}/`;

let aws: FakeAws;
let clock: ManualClock;

/** CloudWatch with no datapoints for the model (the report falls back to its estimate). */
function noMetricsYet(): CloudWatchClient {
  const cloudwatch = new CloudWatchClient({
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  mockClient(cloudwatch).on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
  return cloudwatch;
}
let tools: HandlerTools;

beforeEach(() => {
  aws = fakeAws("STOPPED");
  clock = manualClock();
  tools = {
    clients: {
      rekognition: aws.rekognition,
      modelControl: aws.rekognition,
      s3: aws.s3,
      sfn: aws.sfn,
      cloudwatch: noMetricsYet(),
    },
    clock,
    logger: silentLogger,
    signal: new AbortController().signal,
    context: {},
  };
  vi.stubEnv("RESULTS_BUCKET", RESULTS_BUCKET);
  vi.stubEnv("RESULTS_PREFIX", RESULTS_PREFIX);
  vi.stubEnv("STATE_MACHINE_ARN", "");
  vi.stubEnv("LOG_LEVEL", "silent");
  vi.stubEnv("POWERTOOLS_METRICS_DISABLED", "true");
  vi.stubEnv("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:weekly-batch-alerts");
});
afterEach(() => {
  aws.restore();
  vi.unstubAllEnvs();
});

/** A plan made by the real Plan step from the longest input it accepts. */
async function worstPlan(): Promise<{ plan: Plan; execution: { StartTime?: string } }> {
  const imagesPrefix = LONG_PREFIX;
  aws.s3Mock.on(ListObjectsV2Command).callsFake((input) => ({
    Contents:
      input.Prefix === imagesPrefix
        ? // As S3 lists: in key order ("10-" before "9-"), zero-padded here to keep it simple.
          Array.from({ length: 50 }, (_, i) => ({
            Key: `${imagesPrefix}${String(i).padStart(2, "0")}-${"ß".repeat(250)}.jpg`,
            Size: 1000,
            ETag: `"${"0".repeat(32)}"`,
            LastModified: new Date("2025-01-01T00:00:00Z"),
          }))
        : [],
    IsTruncated: false,
  }));
  const output = await planStep(
    {
      input: {
        projectVersionArn: MODEL_ARN,
        imagesBucket: "i".repeat(63),
        imagesPrefix,
        resultsBucket: RESULTS_BUCKET,
        resultsPrefix: `${"ü".repeat(255)}/`,
        targetWindowMinutes: 1,
        maxUnits: 100,
      },
      executionId: `${EXECUTION_ARN}-${"x".repeat(40)}`,
      executionStartTime: "2025-01-06T02:00:00.000Z",
    },
    tools,
  );
  if (!("plan" in output)) throw new Error("50 images must be planned by one Plan");
  return output;
}

describe("every state's output stays far under 256 KiB", () => {
  it("Plan, with the longest prefixes, bucket and ids the input accepts", async () => {
    const output = await worstPlan();
    expect(output.plan.counts.pending).toBe(50);
    expect(jsonBytes(output)).toBeLessThan(16 * 1024);
  });

  it("EnsureModelRunning and CheckModel, when the model's status message is huge", async () => {
    const { plan } = await worstPlan();
    aws.model.status = "RUNNING";
    aws.model.statusMessage = HUGE;
    const ensured = await ensureModelRunningStep({ plan }, tools);
    expect(ensured.action).toBe("adopted");
    expect(jsonBytes(ensured)).toBeLessThan(16 * 1024);

    aws.model.status = "FAILED";
    const check = await checkModelStep({ plan, attempt: 3 }, tools);
    expect(check.failed).toBe(true);
    expect(check.message).toContain("FAILED");
    expect(jsonBytes(check)).toBeLessThan(16 * 1024);
  });

  it("StopModel", async () => {
    const { plan } = await worstPlan();
    const stop = await stopModelStep(
      { plan, executionId: plan.executionId, reason: "completed" },
      tools,
    );
    expect(jsonBytes(stop)).toBeLessThan(16 * 1024);
  });

  it("what a Catch puts in $.error: a Lambda's error with a huge message is cut, stack included", async () => {
    const handler = createHandler("plan", async () => {
      throw new Error(`Access Denied for s3://bucket/${HUGE}`);
    });
    const error = await handler({}, {} as never).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    if (!(error instanceof Error)) return;
    expect(error.name).toBe("Internal");
    expect(error.message).toContain("Access Denied for s3://bucket/");
    // As AWS builds the Cause: message, type and stack trace.
    const cause = JSON.stringify({
      errorType: error.name,
      errorMessage: error.message,
      trace: error.stack?.split("\n"),
    });
    expect(jsonBytes({ Error: error.name, Cause: cause })).toBeLessThan(40 * 1024);
  });

  it("Report, with a huge failure cause in its notification, and the whole state it returns into", async () => {
    const { plan, execution } = await worstPlan();
    aws.model.statusMessage = HUGE;
    aws.model.status = "STOPPED";
    const model = await ensureModelRunningStep({ plan }, tools);
    aws.model.status = "FAILED";
    const check = await checkModelStep({ plan, attempt: 40 }, tools);
    const stop = await stopModelStep(
      { plan, executionId: plan.executionId, reason: "failure" },
      tools,
    );
    const error = { Error: "Internal", Cause: HUGE.slice(0, 32_768) };
    // The fake store keeps streamed uploads unreadable; none was skipped, so no list is the same.
    for (const key of aws.objects.keys())
      if (key.endsWith("skipped.jsonl")) aws.objects.delete(key);
    const state = { plan, execution, model, check, stop, error };
    const report = await reportStep(state, tools);
    expect(report.notification?.message).toContain("FAILED");
    // SNS takes at most 256 KiB per message.
    expect(jsonBytes(report.notification)).toBeLessThan(64 * 1024);
    expect(jsonBytes(report)).toBeLessThan(80 * 1024);
    // ReportFailure's output: every earlier result plus the report.
    expect(jsonBytes({ ...state, report })).toBeLessThan(WITH_MARGIN);
  });
});
