import { describe, expect, it } from "vitest";
import { InvalidRunInputError } from "../../src/errors.ts";
import { parseRunInput } from "../../src/run-input.ts";

const ARN =
  "arn:aws:rekognition:eu-west-1:111122223333:project/shelf/version/shelf.v1/1767225600000";
const OTHER_ARN =
  "arn:aws:rekognition:eu-west-1:111122223333:project/shelf/version/shelf.v2/1767225600001";

/** The environment serverless.yml gives the Lambdas. */
const DEPLOYED = {
  DEPLOYED_IAM_SCOPE: "true",
  PROJECT_VERSION_ARN: ARN,
  IMAGES_BUCKET: "photos",
  IMAGES_PREFIX: "incoming/",
  RESULTS_BUCKET: "photos",
  RESULTS_PREFIX: "rekognition-results/",
};

function problemOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidRunInputError);
    return (error as Error).message;
  }
  throw new Error("expected InvalidRunInputError");
}

describe("execution-input overrides in a deployed run", () => {
  it.each([
    ["imagesBucket", "other-photos"],
    ["resultsBucket", "other-results"],
    ["resultsPrefix", "elsewhere/"],
    ["projectVersionArn", OTHER_ARN],
    ["imagesPrefix", "archive/"],
    ["imagesPrefix", ""],
  ])("refuses %s=%s, outside the IAM scope, saying why and how to change it", (name, value) => {
    const message = problemOf(() => parseRunInput({ [name]: value }, DEPLOYED));
    expect(message).toContain(
      `${name} (${JSON.stringify(value)}) is outside this deployment's IAM scope`,
    );
    expect(message).toContain("AccessDenied");
    expect(message).toContain(`redeploy with --param="${name}=${value}"`);
  });

  it("accepts the deployed values, a narrower images prefix, and other fields", () => {
    const input = parseRunInput(
      {
        imagesBucket: "photos",
        resultsBucket: "photos",
        resultsPrefix: "rekognition-results",
        projectVersionArn: ARN,
        imagesPrefix: "incoming/2026/week-02/",
        maxWorkers: 3,
      },
      DEPLOYED,
    );
    expect(input.imagesPrefix).toBe("incoming/2026/week-02/");
    expect(input.maxWorkers).toBe(3);
    expect(
      parseRunInput({ imagesPrefix: "anything/" }, { ...DEPLOYED, IMAGES_PREFIX: "" }),
    ).toMatchObject({
      imagesPrefix: "anything/",
    });
  });

  it("takes the images bucket as the deployed results bucket when none was deployed", () => {
    const env = { ...DEPLOYED, RESULTS_BUCKET: "" };
    expect(parseRunInput({ resultsBucket: "photos" }, env).resultsBucket).toBe("photos");
    expect(problemOf(() => parseRunInput({ resultsBucket: "other" }, env))).toContain(
      'the deployed "photos"',
    );
  });

  it("allows any override where no deployment scope is declared (the operator's CLI)", () => {
    const { DEPLOYED_IAM_SCOPE: _, ...env } = DEPLOYED;
    expect(parseRunInput({ imagesBucket: "other-photos" }, env).imagesBucket).toBe("other-photos");
  });
});
