import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { estimateCost } from "../../src/cost.ts";
import { InvalidRunInputError } from "../../src/errors.ts";
import {
  assertPlanWithinLimits,
  PLAN_LIMITS,
  PLAN_STEP_LIMITS,
  planLimitProblems,
  planListingNote,
} from "../../src/plan-limits.ts";
import {
  DEFAULT_TPS_PER_UNIT,
  MAX_MAP_CONCURRENCY,
  parseRunInput,
  type RunInput,
} from "../../src/run-input.ts";
import type { Plan } from "../../src/shapes.ts";
import { SIZING_RULES, sizeRun } from "../../src/sizing.ts";
import { maxRunMs } from "../../src/workflow-steps.ts";

const ARN = "arn:aws:rekognition:us-east-1:123456789012:project/p/version/v1/1700000000000";
const REQUIRED = { imagesBucket: "images", imagesPrefix: "in/", projectVersionArn: ARN };
/** About what the Plan step measures for a BatchContext. */
const CONTEXT_BYTES = 700;
/** A 40-character key's item in a batch. */
const ITEM_BYTES = 160;
/** Step Functions ends a Standard execution after a year. */
const ONE_YEAR_MS = 365 * 24 * 3600 * 1000;

function planFor(input: RunInput, pending: number, maxItemBytes = ITEM_BYTES) {
  const tpsPerUnit = input.tpsPerUnit ?? DEFAULT_TPS_PER_UNIT;
  const sizing = sizeRun({
    pending: { count: pending, maxItemBytes },
    input,
    tpsPerUnit,
    tpsSource: input.tpsPerUnit === undefined ? "default" : "input",
    contextBytes: CONTEXT_BYTES,
  });
  const cost = estimateCost({ sizing, pending, input });
  return { sizing, cost, problems: planLimitProblems({ sizing, cost, pending, input }) };
}

function problemsFor(overrides: Record<string, unknown>, pending: number): string[] {
  return planFor(parseRunInput({ ...REQUIRED, ...overrides }, {}), pending).problems;
}

describe("planLimitProblems", () => {
  it("passes the default plan and an empty backlog", () => {
    expect(problemsFor({}, 6_000)).toEqual([]);
    expect(problemsFor({ tpsPerUnit: 0.1, lambdaTimeoutSeconds: 1 }, 0)).toEqual([]);
  });

  it("refuses a run that would outlast a month", () => {
    // 300,000 images at 0.1 TPS from one unit: about 34.7 days.
    const problems = problemsFor({ tpsPerUnit: 0.1, maxUnits: 1 }, 300_000);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^the run would take about 833.5 hours \(startupMinutes plus 300,000 images at 0.1 calls per second from 1 unit\(s\) x tpsPerUnit 0.1\), more than the 720 hours a weekly run may take/,
    );
  });

  it("refuses an astronomically expensive run", () => {
    const problems = problemsFor(
      { minUnits: 1000, maxUnits: 1000, pricePerUnitHour: 1000, startupMinutes: 240 },
      1_000,
    );
    expect(problems).toEqual([
      "the run's estimated cost, 4,017,000.54 USD for 4,017 inference-unit hours at pricePerUnitHour 1,000, is more than the 1,000,000 USD a run may cost: check pricePerUnitHour, tpsPerUnit and minUnits",
    ]);
  });

  it("refuses more in-flight calls per worker than one Lambda can hold", () => {
    const problems = problemsFor(
      { tpsPerUnit: 1000, minUnits: 5, maxUnits: 5, maxWorkers: 1, expectedLatencyMs: 1000 },
      100_000,
    );
    expect(problems).toEqual([
      "each worker would keep 11,500 calls in flight (5,000 calls per second at expectedLatencyMs 1,000), more than the 1,000 one Lambda can hold open: raise maxWorkers, or check tpsPerUnit and expectedLatencyMs",
    ]);
  });

  it("refuses a call that cannot fit in a batch's share of the Lambda timeout", () => {
    expect(problemsFor({ lambdaTimeoutSeconds: 1, expectedLatencyMs: 1000 }, 10)).toEqual([
      "one image takes about 1.15 s (expectedLatencyMs plus the S3 reads and writes), more than the 0.5 s a batch may take (half of lambdaTimeoutSeconds 1): raise lambdaTimeoutSeconds or check expectedLatencyMs",
    ]);
  });

  it("refuses a worker rate so slow that one image outlasts the batch's share of the timeout", () => {
    // One call every 10 s per worker; half of a 10 s timeout is 5 s.
    expect(problemsFor({ tpsPerUnit: 0.1, maxUnits: 1, lambdaTimeoutSeconds: 10 }, 10)).toEqual([
      "a batch of 1 image(s) at 0.1 calls per second per worker takes about 10 s, more than the 5 s a batch may take (half of lambdaTimeoutSeconds 10): raise lambdaTimeoutSeconds, lower maxWorkers, or check tpsPerUnit",
    ]);
  });

  it("refuses a sizing that Step Functions or the batch Lambda would reject", () => {
    const { sizing, cost } = planFor(parseRunInput(REQUIRED, {}), 100);
    const broken = { ...sizing, workers: 10_001, batchSize: 2.5, concurrency: Number.NaN };
    const problems = planLimitProblems({
      sizing: broken,
      cost,
      pending: 100,
      input: { lambdaTimeoutSeconds: 900 },
    });
    expect(problems.join("\n")).toContain(
      "the plan sized workers (the Map's MaxConcurrency) as 10001, not a whole number from 1 to 10000",
    );
    expect(problems.join("\n")).toContain(
      "the plan sized batchSize (the Map's MaxItemsPerBatch) as 2.5",
    );
    expect(problems.join("\n")).toContain("the plan sized in-flight calls per worker as NaN");
  });

  it("throws InvalidRunInputError in the run input's message style", () => {
    const { sizing, cost } = planFor(
      parseRunInput({ ...REQUIRED, lambdaTimeoutSeconds: 1, expectedLatencyMs: 1000 }, {}),
      10,
    );
    let error: unknown;
    try {
      assertPlanWithinLimits({ sizing, cost, pending: 10, input: { lambdaTimeoutSeconds: 1 } });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidRunInputError);
    expect((error as Error).message).toMatch(/^Invalid run input:\none image takes about 1.15 s/);
  });
});

describe("property: whatever run input the parser accepts, the plan is sound or refused", () => {
  /** Mostly figures in range (bounds included), sometimes any number at all. */
  const numberIn = (min: number, max: number, integer = false) =>
    fc.oneof(
      {
        weight: 4,
        arbitrary: integer ? fc.integer({ min, max }) : fc.double({ min, max, noNaN: true }),
      },
      { weight: 1, arbitrary: fc.constantFrom(min, max) },
      {
        weight: 1,
        arbitrary: fc.oneof(fc.double(), fc.integer(), fc.constantFrom(1e308, 1e-300, 2.5)),
      },
    );
  const runInput = fc.record(
    {
      targetWindowMinutes: numberIn(0.001, 10_080),
      tpsPerUnit: numberIn(0.1, 1000),
      minUnits: numberIn(1, 1000, true),
      maxUnits: numberIn(1, 1000, true),
      maxInferenceUnits: numberIn(1, 1000, true),
      minConfidence: numberIn(0, 100),
      maxResults: numberIn(1, 1000, true),
      pricePerUnitHour: numberIn(0, 1000),
      toleratedFailurePercentage: numberIn(0, 100, true),
      startupMinutes: numberIn(0, 240),
      expectedLatencyMs: numberIn(0.001, 60_000),
      lambdaTimeoutSeconds: numberIn(1, 900, true),
      maxWorkers: numberIn(1, MAX_MAP_CONCURRENCY, true),
    },
    { requiredKeys: [] },
  );
  /** Up to a billion pending images, small backlogs more often; keys up to 1,024 bytes, escaped. */
  const pending = fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 1e9 }));
  const itemBytes = fc.integer({ min: 100, max: 6_500 });

  function accepted(fields: Record<string, unknown>): RunInput | undefined {
    try {
      return parseRunInput({ ...REQUIRED, ...fields }, {});
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidRunInputError);
      return undefined;
    }
  }

  it("sizes with finite whole numbers and Step Functions-valid values, and valid dates", () => {
    fc.assert(
      fc.property(runInput, pending, itemBytes, (fields, count, maxItemBytes) => {
        const input = accepted(fields);
        fc.pre(input !== undefined);
        if (input === undefined) return;
        const { sizing: s, cost, problems } = planFor(input, count, maxItemBytes);

        // Step Functions' integer rules: MaxConcurrency 1-10,000,
        // MaxItemsPerBatch >= 1, ToleratedFailurePercentage 0-100.
        expect(Number.isInteger(s.workers) && s.workers >= 1).toBe(true);
        expect(s.workers).toBeLessThanOrEqual(MAX_MAP_CONCURRENCY);
        expect(Number.isInteger(s.batchSize) && s.batchSize >= 1).toBe(true);
        expect(Number.isInteger(input.toleratedFailurePercentage)).toBe(true);
        expect(input.toleratedFailurePercentage).toBeGreaterThanOrEqual(0);
        expect(input.toleratedFailurePercentage).toBeLessThanOrEqual(100);
        // Whole numbers the model and the batch Lambda take.
        expect(Number.isInteger(s.units) && s.units >= 1).toBe(true);
        expect(Number.isInteger(s.concurrency) && s.concurrency >= 1).toBe(true);
        for (const figure of [
          s.provisionedTps,
          s.perWorkerTps,
          s.expectedProcessingSeconds,
          s.startupSeconds,
          ...cost.options.flatMap((o) => [o.cost, o.durationSeconds, o.inferenceHours]),
        ]) {
          expect(Number.isFinite(figure)).toBe(true);
        }
        // The lease's expiry is a valid date.
        const runMs = maxRunMs({ sizing: s } as Plan);
        const now = Date.UTC(2026, 10, 30);
        expect(() => new Date(now + runMs).toISOString()).not.toThrow();

        if (problems.length > 0) return; // refused: nothing starts
        expect(runMs).toBeLessThanOrEqual(ONE_YEAR_MS);
        expect(cost.chosen.cost).toBeLessThanOrEqual(PLAN_LIMITS.cost);
        if (count > 0) {
          expect(s.concurrency).toBeLessThanOrEqual(PLAN_LIMITS.concurrencyPerWorker);
          expect(s.batchSize / s.perWorkerTps).toBeLessThanOrEqual(
            input.lambdaTimeoutSeconds * SIZING_RULES.batchTimeShare,
          );
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("the Plan step's own budget", () => {
  it("is the plan Lambda's timeout and memory in serverless.yml", () => {
    const root = join(import.meta.dirname, "..", "..");
    const serverless = parseYaml(readFileSync(join(root, "serverless.yml"), "utf8"));
    expect(serverless.functions.plan.timeout).toBe(PLAN_STEP_LIMITS.timeoutSeconds);
    expect(serverless.functions.plan.memorySize).toBe(PLAN_STEP_LIMITS.memoryMb);
  });

  it("warns past half the timeout, saying where the Plan would time out", () => {
    expect(planListingNote({ listingSeconds: 450, listedObjects: 1_000_000 })).toBeUndefined();
    expect(planListingNote({ listingSeconds: 600, listedObjects: 2_000_000 })).toBe(
      "the Plan listed 2,000,000 objects (images and results) in 600 s, more than 50 % of its 900 s timeout: " +
        "at this rate it times out at about 3,000,000 objects; lower planShardObjects so that Plan " +
        "shards list it in parallel (or split the backlog with imagesPrefix) before it grows that far",
    );
  });
});
