import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidRunInputError } from "../../src/errors.ts";
import { parseRunInput, RUN_INPUT_ENV, type RunInput } from "../../src/run-input.ts";

const ARN =
  "arn:aws:rekognition:eu-west-1:123456789012:project/cats/version/cats.2026/1700000000000";
const VALID = { imagesBucket: "photos", imagesPrefix: "in/", projectVersionArn: ARN };

/** The message of the InvalidRunInputError that `fn` throws (fails the test otherwise). */
function problemOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidRunInputError);
    expect((error as Error).name).toBe("InvalidRunInput");
    return (error as Error).message;
  }
  throw new Error("expected parseRunInput to throw");
}

describe("parseRunInput defaults and layering", () => {
  it("fills every default from a minimal input", () => {
    expect(parseRunInput(VALID, {})).toEqual<RunInput>({
      imagesBucket: "photos",
      imagesPrefix: "in/",
      resultsBucket: "photos",
      resultsPrefix: "rekognition-results/",
      projectVersionArn: ARN,
      targetWindowMinutes: 60,
      minUnits: 1,
      maxUnits: 5,
      imageMode: "S3Object",
      pricePerUnitHour: 4,
      toleratedFailurePercentage: 5,
      startupMinutes: 10,
      stopMinutes: 1,
      expectedLatencyMs: 100,
      lambdaTimeoutSeconds: 900,
      maxWorkers: 50,
      rescale: "never",
      planShardObjects: 500_000,
    });
  });

  it("takes every field from its env var, coercing numbers", () => {
    const env = {
      IMAGES_BUCKET: "env-images",
      IMAGES_PREFIX: "incoming/",
      RESULTS_BUCKET: "env-results",
      RESULTS_PREFIX: "out",
      PROJECT_VERSION_ARN: ARN,
      TARGET_WINDOW_MINUTES: "240",
      TPS_PER_UNIT: "7.5",
      MIN_UNITS: "2",
      MAX_UNITS: "8",
      MAX_INFERENCE_UNITS: "6",
      MIN_CONFIDENCE: "55.5",
      MAX_RESULTS: "10",
      IMAGE_MODE: "Bytes",
      PRICE_PER_UNIT_HOUR: "4.25",
      TOLERATED_FAILURE_PERCENTAGE: "0",
      STARTUP_MINUTES: "20",
      STOP_MINUTES: "2",
      EXPECTED_LATENCY_MS: "250",
      LAMBDA_TIMEOUT_SECONDS: "600",
      MAX_WORKERS: "200",
      RESCALE: "restart",
      PLAN_SHARD_OBJECTS: "1000",
    };
    expect(Object.keys(env).sort()).toEqual(Object.values(RUN_INPUT_ENV).sort());
    expect(parseRunInput({}, env)).toEqual<RunInput>({
      imagesBucket: "env-images",
      imagesPrefix: "incoming/",
      resultsBucket: "env-results",
      resultsPrefix: "out/",
      projectVersionArn: ARN,
      targetWindowMinutes: 240,
      tpsPerUnit: 7.5,
      minUnits: 2,
      maxUnits: 8,
      maxInferenceUnits: 6,
      minConfidence: 55.5,
      maxResults: 10,
      imageMode: "Bytes",
      pricePerUnitHour: 4.25,
      toleratedFailurePercentage: 0,
      startupMinutes: 20,
      stopMinutes: 2,
      expectedLatencyMs: 250,
      lambdaTimeoutSeconds: 600,
      maxWorkers: 200,
      rescale: "restart",
      planShardObjects: 1000,
    });
  });

  it("lets the execution input override the environment, field by field", () => {
    const env = {
      IMAGES_BUCKET: "env-images",
      PROJECT_VERSION_ARN: ARN,
      TARGET_WINDOW_MINUTES: "240",
    };
    const input = parseRunInput({ imagesPrefix: "x/", targetWindowMinutes: 30 }, env);
    expect(input.imagesBucket).toBe("env-images");
    expect(input.targetWindowMinutes).toBe(30);
  });

  it("treats an empty env var and a null input field as unset", () => {
    const input = parseRunInput(
      { ...VALID, maxWorkers: null },
      { MAX_WORKERS: "", TPS_PER_UNIT: "" },
    );
    expect(input.maxWorkers).toBe(50);
    expect(input.tpsPerUnit).toBeUndefined();
  });

  it("accepts numeric strings in the execution input", () => {
    expect(
      parseRunInput({ ...VALID, targetWindowMinutes: " 90 ", minConfidence: "1e1" }, {}),
    ).toMatchObject({
      targetWindowMinutes: 90,
      minConfidence: 10,
    });
  });

  it("reads numeric strings the way the CLI and the console send them", () => {
    expect(
      parseRunInput(
        { ...VALID, tpsPerUnit: " 7.5 ", maxWorkers: "+20", minConfidence: ".5", maxUnits: "5e0" },
        {},
      ),
    ).toMatchObject({ tpsPerUnit: 7.5, maxWorkers: 20, minConfidence: 0.5, maxUnits: 5 });
  });

  // A plain z.coerce.number() would read each of these as a number.
  it.each<[string, unknown, string]>([
    ["maxWorkers", true, "got true"],
    ["maxWorkers", [20], "got [20]"],
    ["maxWorkers", "", 'got ""'],
    ["maxWorkers", "0x10", 'got "0x10"'],
    ["maxWorkers", "Infinity", 'got "Infinity"'],
    ["tpsPerUnit", "1e400", 'got "1e400"'],
    ["tpsPerUnit", { value: 5 }, 'got {"value":5}'],
    ["startupMinutes", "ten", 'got "ten"'],
  ])("refuses %s = %j, which only looks like a number", (field, value, shown) => {
    const text = problemOf(() => parseRunInput({ ...VALID, [field]: value }, {}));
    const line = text.split("\n").find((l) => l.startsWith(`${field} must be `));
    expect(line).toBeDefined();
    expect(line?.endsWith(shown)).toBe(true);
  });

  it("reports one problem per field, however many of its checks fail", () => {
    // -1.5 is neither whole nor in range; "A" is too short and not lowercase: one line each.
    const text = problemOf(() =>
      parseRunInput({ ...VALID, minUnits: -1.5, imagesBucket: "A" }, {}),
    );
    expect(text.split("\n").filter((l) => l.startsWith("minUnits "))).toEqual([
      "minUnits must be an integer from 1 to 1000 (inference units, billed by the hour each), got -1.5",
    ]);
    expect(text.split("\n").filter((l) => l.startsWith("imagesBucket "))).toHaveLength(1);
  });

  it("refuses wrong types for the string fields, naming the field", () => {
    const text = problemOf(() =>
      parseRunInput(
        { ...VALID, imagesBucket: 7, resultsPrefix: false, projectVersionArn: {}, imageMode: 1 },
        {},
      ),
    );
    expect(text).toContain(
      "imagesBucket must be an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens), got 7",
    );
    expect(text).toContain("resultsPrefix must be a string of at most 512 bytes, got false");
    expect(text).toContain("projectVersionArn must be a model version ARN like");
    expect(text).toContain('imageMode must be "S3Object" or "Bytes", got 1');
  });

  it("measures the 512-byte prefix limit in bytes, not characters", () => {
    expect(
      parseRunInput({ ...VALID, imagesPrefix: "é".repeat(256) }, {}).imagesPrefix,
    ).toHaveLength(256);
    expect(
      problemOf(() => parseRunInput({ ...VALID, imagesPrefix: "é".repeat(257) }, {})),
    ).toContain("imagesPrefix must be a string of at most 512 bytes");
  });

  it("refuses a bucket name with consecutive dots or shaped like an IP address", () => {
    for (const bucket of ["my..bucket", "192.168.1.1"]) {
      expect(problemOf(() => parseRunInput({ ...VALID, imagesBucket: bucket }, {}))).toContain(
        `imagesBucket must be an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens), got "${bucket}"`,
      );
    }
  });

  it("accepts an absent execution input when the environment has the required fields", () => {
    const env = { IMAGES_BUCKET: "photos", IMAGES_PREFIX: "in/", PROJECT_VERSION_ARN: ARN };
    expect(parseRunInput(undefined, env).imagesBucket).toBe("photos");
    expect(parseRunInput(null, env).imagesBucket).toBe("photos");
  });

  it("accepts ARNs of other partitions", () => {
    const arn = "arn:aws-cn:rekognition:cn-north-1:123456789012:project/p/version/v/1";
    expect(parseRunInput({ ...VALID, projectVersionArn: arn }, {}).projectVersionArn).toBe(arn);
  });
});

describe("parseRunInput problems name the field and the value", () => {
  const cases: [string, unknown, string][] = [
    [
      "imagesBucket",
      "My_Bucket",
      'imagesBucket must be an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens), got "My_Bucket"',
    ],
    ["imagesPrefix", 42, "imagesPrefix must be a string of at most 512 bytes, got 42"],
    [
      "resultsBucket",
      "ab",
      'resultsBucket must be an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens), got "ab"',
    ],
    ["resultsPrefix", ["x"], 'resultsPrefix must be a string of at most 512 bytes, got ["x"]'],
    [
      "projectVersionArn",
      "arn:aws:rekognition:us-east-1:123456789012:project/p",
      'projectVersionArn must be a model version ARN like arn:aws:rekognition:<region>:<account>:project/<project>/version/<version>/<digits>, got "arn:aws:rekognition:us-east-1:123456789012:project/p"',
    ],
    [
      "targetWindowMinutes",
      0,
      "targetWindowMinutes must be a positive number of at most 10080 (one week: the job runs weekly), got 0",
    ],
    [
      "tpsPerUnit",
      -3,
      "tpsPerUnit must be a number from 0.1 to 1000 (calls per second one inference unit serves), got -3",
    ],
    [
      "minUnits",
      1.5,
      "minUnits must be an integer from 1 to 1000 (inference units, billed by the hour each), got 1.5",
    ],
    [
      "maxUnits",
      "five",
      'maxUnits must be an integer from 1 to 1000 (inference units, billed by the hour each), got "five"',
    ],
    [
      "maxInferenceUnits",
      0,
      "maxInferenceUnits must be an integer from 1 to 1000 (inference units, billed by the hour each), got 0",
    ],
    ["minConfidence", 101, "minConfidence must be a number from 0 to 100, got 101"],
    [
      "maxResults",
      -1,
      "maxResults must be an integer from 1 to 1000 (labels kept per image), got -1",
    ],
    ["imageMode", "bytes", 'imageMode must be "S3Object" or "Bytes", got "bytes"'],
    [
      "pricePerUnitHour",
      -0.01,
      "pricePerUnitHour must be a number from 0 to 1000 (USD per inference-unit hour), got -0.01",
    ],
    [
      "toleratedFailurePercentage",
      150,
      "toleratedFailurePercentage must be an integer from 0 to 100 (Step Functions takes a whole percentage), got 150",
    ],
    [
      "startupMinutes",
      true,
      "startupMinutes must be a number from 0 to 240 (model start-up; the workflow waits up to three times this), got true",
    ],
    [
      "stopMinutes",
      61,
      "stopMinutes must be a number from 0 to 60 (model stop, billed until STOPPED), got 61",
    ],
    [
      "expectedLatencyMs",
      0,
      "expectedLatencyMs must be a positive number of at most 60000 (one DetectCustomLabels call), got 0",
    ],
    [
      "lambdaTimeoutSeconds",
      901,
      "lambdaTimeoutSeconds must be an integer from 1 to 900 (Lambda's longest timeout), got 901",
    ],
    [
      "maxWorkers",
      10_001,
      "maxWorkers must be an integer from 1 to 10000 (Distributed Map's MaxConcurrency limit), got 10001",
    ],
    ["rescale", "always", 'rescale must be "never" or "restart", got "always"'],
    [
      "planShardObjects",
      5,
      "planShardObjects must be an integer from 10 to 2000000 (listed objects per Plan shard; a shard must finish within a Lambda's 900 s), got 5",
    ],
  ];

  it.each(cases)("%s = %j", (field, value, message) => {
    const text = problemOf(() => parseRunInput({ ...VALID, [field]: value }, {}));
    expect(text.split("\n")).toContain(message);
  });

  it("covers every field", () => {
    expect(cases.map(([field]) => field).sort()).toEqual(Object.keys(RUN_INPUT_ENV).sort());
  });

  it("names the env var when the bad value came from the environment", () => {
    const text = problemOf(() => parseRunInput(VALID, { TPS_PER_UNIT: "-3", MAX_WORKERS: "lots" }));
    expect(text).toContain(
      'env var TPS_PER_UNIT (tpsPerUnit) must be a number from 0.1 to 1000 (calls per second one inference unit serves), got "-3"',
    );
    expect(text).toContain(
      `env var MAX_WORKERS (maxWorkers) must be an integer from 1 to 10000 (Distributed Map's MaxConcurrency limit), got "lots"`,
    );
  });

  it("says where a missing required field can be set", () => {
    const text = problemOf(() => parseRunInput({}, {}));
    expect(text).toContain(
      "imagesBucket is required: set it in the execution input or the IMAGES_BUCKET env var",
    );
    expect(text).toContain(
      "projectVersionArn is required: set it in the execution input or the PROJECT_VERSION_ARN env var",
    );
  });

  it("refuses unknown fields", () => {
    const text = problemOf(() => parseRunInput({ ...VALID, tpsPerUnits: 5 }, {}));
    expect(text).toContain('"tpsPerUnits" is not a run input field');
  });

  // Each of these passed Plan once: the model started and was billed, then
  // the run failed late, or the plan computed an absurd duration or cost.
  it.each<[string, unknown, string]>([
    ["expectedLatencyMs", 1e308, "expectedLatencyMs must be a positive number of at most 60000"],
    ["tpsPerUnit", 1e-300, "tpsPerUnit must be a number from 0.1 to 1000"],
    ["tpsPerUnit", 1e9, "tpsPerUnit must be a number from 0.1 to 1000"],
    ["startupMinutes", 1e12, "startupMinutes must be a number from 0 to 240"],
    ["pricePerUnitHour", 1e308, "pricePerUnitHour must be a number from 0 to 1000"],
    ["targetWindowMinutes", 525_600, "targetWindowMinutes must be a positive number of at most"],
    ["maxUnits", 1e12, "maxUnits must be an integer from 1 to 1000"],
    ["maxResults", 1e300, "maxResults must be an integer from 1 to 1000"],
    ["toleratedFailurePercentage", 2.5, "toleratedFailurePercentage must be an integer"],
    ["toleratedFailurePercentage", "2.5", "toleratedFailurePercentage must be an integer"],
  ])("refuses %s = %s, a figure no run can mean", (field, value, message) => {
    const text = problemOf(() => parseRunInput({ ...VALID, [field]: value }, {}));
    expect(text.split("\n").some((line) => line.startsWith(message))).toBe(true);
  });

  it("says why a fractional toleratedFailurePercentage is refused", () => {
    expect(
      problemOf(() => parseRunInput({ ...VALID, toleratedFailurePercentage: 2.5 }, {})),
    ).toContain(
      "toleratedFailurePercentage must be an integer from 0 to 100 (Step Functions takes a whole percentage), got 2.5",
    );
  });

  it("refuses a __proto__ key as an unknown field, and it changes nothing", () => {
    // JSON.parse makes "__proto__" an own property, as an execution input arrives.
    const input = JSON.parse(JSON.stringify(VALID).replace(/^{/, '{"__proto__":{"minUnits":3},'));
    expect(Object.keys(input)).toContain("__proto__");
    expect(problemOf(() => parseRunInput(input, {}))).toContain(
      '"__proto__" is not a run input field',
    );
    const nested = JSON.parse('{"__proto__":{"__proto__":{"minUnits":3}}}');
    expect(problemOf(() => parseRunInput({ ...VALID, ...nested }, {}))).toContain(
      '"__proto__" is not a run input field',
    );
  });

  it.each(["constructor", "prototype", "toString", "hasOwnProperty"])(
    "refuses %s as an unknown field",
    (key) => {
      const input = JSON.parse(`{"${key}":{"minUnits":3}}`);
      expect(problemOf(() => parseRunInput({ ...VALID, ...input }, {}))).toContain(
        `"${key}" is not a run input field`,
      );
    },
  );

  it("takes only the input's and the environment's own values, never inherited ones", () => {
    const input = Object.assign(Object.create({ minUnits: 3, maxUnits: 9 }), VALID);
    const env = Object.assign(Object.create({ MIN_UNITS: "3" }), { MAX_UNITS: "4" });
    const parsed = parseRunInput(input, env);
    expect(parsed.minUnits).toBe(1);
    expect(parsed.maxUnits).toBe(4);
  });

  it("refuses an execution input that is not an object", () => {
    expect(problemOf(() => parseRunInput("go", {}))).toBe(
      'the execution input must be a JSON object, got "go"',
    );
    expect(problemOf(() => parseRunInput([VALID], {}))).toContain("must be a JSON object");
  });

  it("collects every problem, one per line", () => {
    const text = problemOf(() =>
      parseRunInput({ ...VALID, tpsPerUnit: 0, minConfidence: -1, extra: 1 }, { MAX_UNITS: "x" }),
    );
    const lines = text.split("\n");
    expect(lines[0]).toBe("Invalid run input:");
    expect(lines.slice(1)).toHaveLength(4);
  });

  it("checks minUnits <= maxUnits", () => {
    expect(problemOf(() => parseRunInput({ ...VALID, minUnits: 6 }, {}))).toContain(
      "minUnits (6) must not be more than maxUnits (5)",
    );
  });

  it("checks maxInferenceUnits against minUnits and the quota", () => {
    expect(
      problemOf(() => parseRunInput({ ...VALID, minUnits: 3, maxInferenceUnits: 2 }, {})),
    ).toContain("maxInferenceUnits (2) must be at least minUnits (3)");
    expect(problemOf(() => parseRunInput({ ...VALID, maxInferenceUnits: 6 }, {}))).toContain(
      "maxInferenceUnits (6) must not be more than maxUnits (5, the unit quota)",
    );
    expect(
      parseRunInput({ ...VALID, minUnits: 2, maxInferenceUnits: 4 }, {}).maxInferenceUnits,
    ).toBe(4);
  });

  it("accepts images that contain the job's folders, and refuses images inside one, naming both fields", () => {
    // The documented default: images at the bucket root, results in the same bucket.
    expect(parseRunInput({ ...VALID, imagesPrefix: "" }, {}).resultsPrefix).toBe(
      "rekognition-results/",
    );
    expect(parseRunInput({ ...VALID, imagesPrefix: "", resultsPrefix: "" }, {}).resultsPrefix).toBe(
      "",
    );
    expect(
      parseRunInput({ ...VALID, imagesPrefix: "data/", resultsPrefix: "data" }, {}).resultsPrefix,
    ).toBe("data/");
    expect(
      problemOf(() =>
        parseRunInput({ ...VALID, imagesPrefix: "data/results/x/", resultsPrefix: "data" }, {}),
      ),
    ).toContain(
      'imagesPrefix ("data/results/x/") lies inside "data/results/", a folder the job writes under resultsPrefix ("data/")',
    );
    expect(
      problemOf(() => parseRunInput({ ...VALID, imagesPrefix: "state/", resultsPrefix: "" }, {})),
    ).toContain('choose an imagesPrefix outside "results/", "runs/", "state/"');
    // Another bucket, or disjoint prefixes, are fine.
    expect(
      parseRunInput(
        { ...VALID, imagesPrefix: "runs/", resultsPrefix: "", resultsBucket: "res" },
        {},
      ).resultsBucket,
    ).toBe("res");
    expect(
      parseRunInput({ ...VALID, imagesPrefix: "data/images/", resultsPrefix: "data/results/" }, {})
        .resultsPrefix,
    ).toBe("data/results/");
  });
});

describe("parseRunInput property: one bad field", () => {
  const notNumber = fc.oneof(
    fc.boolean(),
    fc.string().filter((s) => !/^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(s)),
    fc.array(fc.integer(), { maxLength: 2 }),
    fc.dictionary(fc.string(), fc.integer(), { maxKeys: 2 }),
    fc.constant(Number.NaN),
    fc.constant(Number.POSITIVE_INFINITY),
  );
  const notString = fc.oneof(fc.integer(), fc.boolean(), fc.array(fc.string(), { maxLength: 2 }));
  const outside = (min: number, max: number) =>
    fc.oneof(
      fc.double({ max: min, maxExcluded: true, noNaN: true }).filter((n) => n < min),
      fc.double({ min: max, minExcluded: true, noNaN: true }).filter((n) => n > max),
    );
  const above = (max: number) =>
    fc.oneof(
      fc.double({ min: max, minExcluded: true, noNaN: true }).filter((n) => n > max),
      fc.constantFrom(1e308, String(max * 10)),
    );
  const notWhole = (min: number, max: number) =>
    fc.double({ min, max, noNaN: true }).filter((n) => !Number.isInteger(n));
  const notPositive = fc.double({ max: 0, noNaN: true });
  const notPositiveInteger = fc.oneof(
    fc.integer({ max: 0 }),
    fc.double({ min: 0.01, max: 1e6, noNaN: true }).filter((n) => !Number.isInteger(n)),
  );
  const badBucket = fc.oneof(
    notString,
    fc.string().filter((s) => !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(s) || s.includes("..")),
  );

  const badValues: Record<keyof typeof RUN_INPUT_ENV, fc.Arbitrary<unknown>> = {
    imagesBucket: badBucket,
    imagesPrefix: fc.oneof(notString, fc.string({ minLength: 513, maxLength: 600 })),
    resultsBucket: badBucket,
    resultsPrefix: fc.oneof(notString, fc.string({ minLength: 513, maxLength: 600 })),
    projectVersionArn: fc.oneof(notString, fc.string()),
    targetWindowMinutes: fc.oneof(notNumber, notPositive, above(10_080)),
    tpsPerUnit: fc.oneof(notNumber, outside(0.1, 1000)),
    minUnits: fc.oneof(notNumber, notPositiveInteger, above(1000)),
    maxUnits: fc.oneof(notNumber, notPositiveInteger, above(1000)),
    maxInferenceUnits: fc.oneof(notNumber, notPositiveInteger, above(1000)),
    minConfidence: fc.oneof(notNumber, outside(0, 100)),
    maxResults: fc.oneof(notNumber, notPositiveInteger, above(1000)),
    imageMode: fc.oneof(
      notString,
      fc.string().filter((s) => s !== "S3Object" && s !== "Bytes"),
    ),
    pricePerUnitHour: fc.oneof(notNumber, outside(0, 1000)),
    toleratedFailurePercentage: fc.oneof(notNumber, outside(0, 100), notWhole(0, 100)),
    startupMinutes: fc.oneof(notNumber, outside(0, 240)),
    stopMinutes: fc.oneof(notNumber, outside(0, 60)),
    expectedLatencyMs: fc.oneof(notNumber, notPositive, above(60_000)),
    lambdaTimeoutSeconds: fc.oneof(notNumber, outside(1, 900), fc.constant(1.5)),
    maxWorkers: fc.oneof(notNumber, outside(1, 10_000), fc.constant(2.5)),
    planShardObjects: fc.oneof(notNumber, outside(10, 2_000_000), fc.constant(100.5)),
    rescale: fc.oneof(
      notString,
      fc.string().filter((s) => s !== "never" && s !== "restart"),
    ),
  };

  const oneBadField = fc
    .constantFrom(...(Object.keys(badValues) as (keyof typeof badValues)[]))
    .chain((field) => badValues[field].map((value) => ({ field, value })));

  it("fails with InvalidRunInputError naming that field", () => {
    fc.assert(
      fc.property(oneBadField, ({ field, value }) => {
        const text = problemOf(() => parseRunInput({ ...VALID, [field]: value }, {}));
        expect(text.split("\n").some((line) => line.startsWith(`${field} `))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("never throws anything but InvalidRunInputError, whatever the input", () => {
    fc.assert(
      fc.property(fc.anything(), (input) => {
        try {
          parseRunInput(input, {});
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidRunInputError);
        }
      }),
      { numRuns: 300 },
    );
  });
});
