import { PutObjectCommand } from "@aws-sdk/client-s3";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as checkModel from "../../../functions/check-model.ts";
import * as ensureModelRunning from "../../../functions/ensure-model-running.ts";
import * as plan from "../../../functions/plan.ts";
import * as processBatch from "../../../functions/process-batch.ts";
import * as reaper from "../../../functions/reaper.ts";
import * as report from "../../../functions/report.ts";
import * as safetyStop from "../../../functions/safety-stop.ts";
import * as stopModel from "../../../functions/stop-model.ts";
import { localDeploymentEnvironment } from "../../../harness/local/local-job.ts";
import { RUN_INPUT_ENV } from "../../../src/run-input.ts";
import type { Plan } from "../../../src/shapes.ts";
import {
  type FaultStack,
  modelStatus,
  seedImages,
  startFaultStack,
} from "../../support/fault-harness.ts";
import { runnerErrorNames } from "../../support/runner-errors.ts";

/**
 * Bad input, property-based: every invalid execution input is refused by the
 * Plan Lambda with InvalidRunInput naming the field, before the model is
 * touched; and no garbage event makes any Lambda throw an unnamed error.
 */

let fixture: FaultStack;
let restore: () => void;
let initialStatus: string;

beforeAll(async () => {
  fixture = await startFaultStack();
  restore = fixture.stack.applyEnvironment({
    ...localDeploymentEnvironment(fixture.stack),
    LOG_LEVEL: "silent",
  });
  initialStatus = modelStatus(fixture);
});

afterAll(async () => {
  restore?.();
  await fixture?.close();
});

const FIELDS = Object.keys(RUN_INPUT_ENV);
const NUMERIC_FIELDS = [
  "targetWindowMinutes",
  "tpsPerUnit",
  "minUnits",
  "maxUnits",
  "maxInferenceUnits",
  "maxResults",
  "expectedLatencyMs",
  "lambdaTimeoutSeconds",
  "maxWorkers",
  "planShardObjects",
];

/** Values no field accepts (null is "not given", so never generated). */
const neverValid = fc.oneof(
  fc.boolean(),
  fc.array(fc.anything()),
  fc.dictionary(fc.string(), fc.anything()),
);

/** Values every numeric field refuses: zero or negative, non-finite, or text that is no number. */
const badNumber = fc.oneof(
  fc.double({ max: 0, noNaN: true }),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, "", "ten", "1e", "0x10"),
  fc.string().filter((text) => !/^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(text)),
);

/** Numbers far beyond every numeric field's range (each used to pass Plan, then fail or bill). */
const absurdNumber = fc.oneof(
  fc.constantFrom(1e308, 1e12, "1e300", Number.MAX_VALUE),
  fc.double({ min: 1e7, noNaN: true, noDefaultInfinity: true }),
);

/** One invalid field (name and value) of the execution input. */
const invalidField: fc.Arbitrary<[string, unknown]> = fc.oneof(
  fc.tuple(fc.constantFrom(...FIELDS), neverValid),
  fc.tuple(fc.constantFrom(...NUMERIC_FIELDS), badNumber),
  fc.tuple(
    fc.constantFrom(...NUMERIC_FIELDS, "minConfidence", "pricePerUnitHour", "startupMinutes"),
    absurdNumber,
  ),
  fc.tuple(
    fc.constant("toleratedFailurePercentage"),
    fc.double({ min: 0, max: 100, noNaN: true }).filter((n) => !Number.isInteger(n)),
  ),
  fc.tuple(
    fc.constantFrom("imagesBucket", "resultsBucket"),
    fc.oneof(fc.constantFrom("A", "ab", "-bucket", "bucket_", "1.2.3.4"), fc.integer()),
  ),
  fc.tuple(
    fc.constant("projectVersionArn"),
    fc.string().filter((text) => !text.startsWith("arn:aws")),
  ),
  fc.tuple(
    fc.constant("imageMode"),
    fc.string().filter((text) => text !== "S3Object" && text !== "Bytes"),
  ),
  fc.tuple(fc.constantFrom("imagesPrefix", "resultsPrefix"), fc.constant("x".repeat(513))),
  fc.tuple(
    fc.oneof(
      fc.constantFrom("__proto__", "constructor", "prototype"),
      fc.string({ minLength: 1 }).filter((name) => !FIELDS.includes(name)),
    ),
    fc.anything().filter((value) => value !== null),
  ),
);

async function errorOf(run: () => unknown): Promise<Error | undefined> {
  try {
    await run();
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

describe("bad input", () => {
  it("every invalid execution input is refused with InvalidRunInput naming the field, before anything is started", async () => {
    await fc.assert(
      fc.asyncProperty(invalidField, async ([field, value]) => {
        const error = await errorOf(() =>
          plan.handler({ input: { [field]: value }, executionId: "property-test" }, {} as never),
        );
        expect(error?.name).toBe("InvalidRunInput");
        expect(error?.message).toContain(FIELDS.includes(field) ? field : JSON.stringify(field));
      }),
      { numRuns: 150 },
    );
    expect(modelStatus(fixture)).toBe(initialStatus);
    expect(fixture.stack.emulator.admin.billing(fixture.arn).sessions).toHaveLength(0);
  });

  it.each<[string, unknown]>([
    ["expectedLatencyMs", 1e308],
    ["tpsPerUnit", 1e-300],
    ["tpsPerUnit", 1e9],
    ["startupMinutes", 1e12],
    ["pricePerUnitHour", 1e308],
    ["toleratedFailurePercentage", 2.5],
  ])("refuses %s = %s in Plan, naming it, with nothing started or billed", async (field, value) => {
    const error = await errorOf(() =>
      plan.handler({ input: { [field]: value }, executionId: "absurd" }, {} as never),
    );
    expect(error?.name).toBe("InvalidRunInput");
    expect(error?.message).toMatch(new RegExp(`^Invalid run input:\\n${field} must be `));
    expect(modelStatus(fixture)).toBe(initialStatus);
    expect(fixture.stack.emulator.admin.billing(fixture.arn).sessions).toHaveLength(0);
  });

  it("refuses a __proto__ key in the execution input as it arrives (parsed JSON)", async () => {
    const input = JSON.parse('{"__proto__": {"minUnits": 3}}');
    const error = await errorOf(() => plan.handler({ input, executionId: "proto" }, {} as never));
    expect(error?.name).toBe("InvalidRunInput");
    expect(error?.message).toContain('"__proto__" is not a run input field');
  });

  it("refuses a plan no run can mean after sizing, before anything is started", async () => {
    await seedImages(fixture.stack, 3, { prefix: "incoming/absurd-plan/" });
    const error = await errorOf(() =>
      plan.handler(
        {
          input: {
            imagesPrefix: "incoming/absurd-plan/",
            lambdaTimeoutSeconds: 1,
            expectedLatencyMs: 2000,
          },
          executionId: "absurd-plan",
        },
        {} as never,
      ),
    );
    expect(error?.name).toBe("InvalidRunInput");
    expect(error?.message).toMatch(
      /^Invalid run input:\none image takes about 2.15 s .* \(half of lambdaTimeoutSeconds 1\)/,
    );
    expect(modelStatus(fixture)).toBe(initialStatus);
    expect(fixture.stack.emulator.admin.billing(fixture.arn).sessions).toHaveLength(0);
  });

  it("sizes with the default, not a learned TPS outside tpsPerUnit's range", async () => {
    await seedImages(fixture.stack, 2, { prefix: "incoming/learned/" });
    const env = localDeploymentEnvironment(fixture.stack);
    await fixture.stack.s3.send(
      new PutObjectCommand({
        Bucket: env.RESULTS_BUCKET,
        Key: `${env.RESULTS_PREFIX}state/learned-tps.json`,
        Body: JSON.stringify({
          tpsPerUnit: 1e-300,
          measuredAt: "2026-01-05T07:00:00.000Z",
          runId: "r",
        }),
      }),
    );
    // The deployment's TPS_PER_UNIT would win over a learned figure: unset it for this run.
    const unset = fixture.stack.applyEnvironment({ TPS_PER_UNIT: "" });
    try {
      const output = (await plan.handler(
        { input: { imagesPrefix: "incoming/learned/" }, executionId: "learned-tps" },
        {} as never,
      )) as { plan: Plan };
      expect(output.plan.sizing).toMatchObject({ tpsSource: "default", tpsPerUnit: 5 });
      expect(Number.isFinite(output.plan.cost.chosen.cost)).toBe(true);
    } finally {
      unset();
    }
  });

  it("no Lambda throws anything but a named workflow error, whatever the event", async () => {
    const handlers = [
      plan,
      ensureModelRunning,
      checkModel,
      processBatch,
      stopModel,
      report,
      safetyStop,
      reaper,
    ].map((module) => module.handler as (event: unknown, context: never) => Promise<unknown>);
    const names = new Set<string>(runnerErrorNames);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...handlers),
        fc.oneof(fc.anything(), fc.record({ plan: fc.anything(), Items: fc.anything() })),
        async (handler, event) => {
          const error = await errorOf(() => handler(event, {} as never));
          if (error) expect(names.has(error.name), `${error.name}: ${error.message}`).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
    expect(modelStatus(fixture)).toBe(initialStatus);
    expect(fixture.stack.emulator.admin.billing(fixture.arn).sessions).toHaveLength(0);
  });
});
