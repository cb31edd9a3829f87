import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalJobResult, runLocalJob } from "../../harness/local/local-job.ts";
import { type LocalStack, startLocalStack } from "../../harness/local/local-stack.ts";
import { writeSampleImages } from "../../harness/local/sample-images.ts";
import { createAwsClients } from "../../src/clients.ts";
import { readUnitMetrics } from "../../src/model-metrics.ts";
import { unitsLine } from "../../src/report/end-of-run.ts";

/**
 * The model's unit metrics locally: a run's Report reads them with
 * GetMetricData from the local stack's CloudWatch endpoint (reached through
 * AWS_ENDPOINT_URL_CLOUDWATCH, as on AWS), and the AWS CLI can query the same
 * endpoint.
 */

const run = promisify(execFile);
const UNITS = 2;
let dataDirectory: string;
let stack: LocalStack;
let result: LocalJobResult;
let meterUnitSeconds: number;

async function awsCliAvailable(): Promise<boolean> {
  try {
    await run("aws", ["--version"]);
    return true;
  } catch {
    return false;
  }
}
const hasAws = await awsCliAvailable();

function modelStatus(): string {
  return (
    stack.emulator.admin.state().models.find((m) => m.arn === stack.projectVersionArn)?.status ??
    "missing"
  );
}

beforeAll(async () => {
  dataDirectory = await mkdtemp(join(tmpdir(), "local-cloudwatch-"));
  stack = await startLocalStack({
    dataDirectory,
    emulator: { startDelayMs: 300, stopDelayMs: 100, latencyMs: 20, tpsPerUnit: 10 },
  });
  process.env.LOG_LEVEL = "silent";
  await writeSampleImages({
    s3: stack.s3,
    bucket: stack.imagesBucket,
    prefix: "incoming/",
    count: 80,
    largeImages: 0,
  });
  result = await runLocalJob({ stack, input: { minUnits: UNITS } });
  const deadline = Date.now() + 20_000;
  while (modelStatus() !== "STOPPED" && Date.now() < deadline) {
    await new Promise((done) => setTimeout(done, 50));
  }
  meterUnitSeconds = stack.emulator.admin.billing(stack.projectVersionArn).unitSeconds;
}, 120_000);

afterAll(async () => {
  await stack?.close();
  await rm(dataDirectory, { recursive: true, force: true });
});

describe("the model's metrics in a local run", () => {
  it("the report charts units from GetMetricData and measures the hours the emulator's meter billed", async () => {
    expect(result.execution.status).toBe("SUCCEEDED");
    expect(modelStatus()).toBe("STOPPED");
    const summary = result.summary;
    if (!summary) throw new Error("no summary");
    expect(summary.units.source).toBe("cloudwatch");
    expect(summary.units.metrics.status).toBe("read");
    expect(summary.units.timeline.length).toBeGreaterThan(3);
    expect(Math.max(...summary.units.timeline.map((p) => p.units))).toBe(UNITS);
    expect(unitsLine(summary)).toBe(`${UNITS} in service`);

    const measured = summary.billing.measured;
    expect(measured).toMatchObject({ status: "measured", periodSeconds: 1, complete: true });
    // Per-second datapoints: at most about a second of units at each end differs.
    const measuredUnitSeconds = (measured.inferenceHours ?? 0) * 3600;
    expect(meterUnitSeconds).toBeGreaterThan(4 * UNITS);
    expect(Math.abs(measuredUnitSeconds - meterUnitSeconds)).toBeLessThanOrEqual(2 * UNITS);

    const page = await stack.s3.send(
      new GetObjectCommand({
        Bucket: result.report?.bucket,
        Key: result.report?.reportKey,
      }),
    );
    const html = (await page.Body?.transformToString()) ?? "";
    expect(html).toContain("as the model reported them to CloudWatch");
    expect(html).toContain('class="units"');
    expect(html).toContain("Measured (CloudWatch)");
  });

  it("the SDK reaches the endpoint through AWS_ENDPOINT_URL_CLOUDWATCH", async () => {
    const restore = stack.applyEnvironment();
    const clients = createAwsClients(process.env);
    try {
      const summary = result.summary;
      const reading = await readUnitMetrics({
        cloudwatch: clients.cloudwatch,
        projectVersionArn: stack.projectVersionArn,
        fromMs: Date.parse(summary?.billing.from ?? "") - 5000,
        toMs: Date.now(),
        periodSeconds: 1,
      });
      expect(reading.series.min.every((p) => p.value === UNITS)).toBe(true);
      expect(reading.series.max.every((p) => p.value === UNITS)).toBe(true);
      expect(reading.series.inService.length).toBeGreaterThan(3);
    } finally {
      for (const client of Object.values(clients)) client.destroy();
      restore();
    }
  });

  it.skipIf(!hasAws)(
    "aws cloudwatch get-metric-data works against the local endpoint",
    async () => {
      const { ProjectName, VersionName } = { ProjectName: "local-demo", VersionName: "v1" };
      const from = Math.floor(Date.parse(result.summary?.billing.from ?? "") / 1000) - 5;
      const to = Math.ceil(Date.now() / 1000) + 1;
      const query = (id: string, name: string) => ({
        Id: id,
        MetricStat: {
          Metric: {
            Namespace: "AWS/Rekognition",
            MetricName: name,
            Dimensions: [
              { Name: "ProjectName", Value: ProjectName },
              { Name: "VersionName", Value: VersionName },
            ],
          },
          Period: 1,
          Stat: "Average",
        },
      });
      const { stdout } = await run(
        "aws",
        [
          "cloudwatch",
          "get-metric-data",
          "--endpoint-url",
          stack.cloudwatch.endpoint,
          "--output",
          "json",
          "--metric-data-queries",
          JSON.stringify([
            query("inservice", "InServiceInferenceUnits"),
            query("desired", "DesiredInferenceUnits"),
          ]),
          "--start-time",
          String(from),
          "--end-time",
          String(to),
          "--scan-by",
          "TimestampAscending",
        ],
        {
          env: {
            ...process.env,
            AWS_ACCESS_KEY_ID: "local",
            AWS_SECRET_ACCESS_KEY: "local",
            AWS_DEFAULT_REGION: "us-east-1",
            AWS_CONFIG_FILE: "/dev/null",
            AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
            AWS_PAGER: "",
            AWS_MAX_ATTEMPTS: "1",
          },
        },
      );
      const output = JSON.parse(stdout) as {
        MetricDataResults: {
          Id: string;
          Timestamps: string[];
          Values: number[];
          StatusCode: string;
        }[];
      };
      const inService = output.MetricDataResults.find((r) => r.Id === "inservice");
      expect(inService?.StatusCode).toBe("Complete");
      // What the CLI gets is what the report measured: the same datapoints.
      const sum = (inService?.Values ?? []).reduce((n, v) => n + v, 0);
      expect(sum / 3600).toBeCloseTo(result.summary?.billing.measured.inferenceHours ?? -1, 6);
      expect(inService?.Timestamps.length).toBe(inService?.Values.length);
      // The CLI prints timestamps as ISO text or epoch seconds, depending on its settings.
      const first = inService?.Timestamps[0];
      const firstMs = typeof first === "number" ? first * 1000 : Date.parse(first ?? "");
      expect(firstMs).toBeGreaterThanOrEqual(from * 1000);

      // A bad request gets CloudWatch's error, which the CLI shows by name.
      const failure = await run(
        "aws",
        [
          "cloudwatch",
          "get-metric-data",
          "--endpoint-url",
          stack.cloudwatch.endpoint,
          "--metric-data-queries",
          JSON.stringify([
            {
              ...query("m1", "InServiceInferenceUnits"),
              MetricStat: { ...query("m1", "x").MetricStat, Period: 45 },
            },
          ]),
          "--start-time",
          String(from),
          "--end-time",
          String(to),
        ],
        {
          env: {
            ...process.env,
            AWS_ACCESS_KEY_ID: "l",
            AWS_SECRET_ACCESS_KEY: "l",
            AWS_DEFAULT_REGION: "us-east-1",
            AWS_MAX_ATTEMPTS: "1",
          },
        },
      ).then(
        () => "",
        (error: { stderr?: string }) => error.stderr ?? "",
      );
      expect(failure).toMatch(
        /InvalidParameterValue.*Period must be 1, 5, 10, 30 or a multiple of 60, got 45/,
      );
    },
  );
});
