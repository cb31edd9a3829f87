import { describe, expect, it } from "vitest";
import * as errors from "../../src/errors.ts";
import { RUNNER_ERROR_NAMES, RunnerError } from "../../src/errors.ts";

/**
 * The workflow routes on an error's name. AWS's Lambda runtime reports
 * `error.name`; `osls invoke local` reports `error.constructor.name`. Both
 * must be the routed name, for every error class.
 */
describe("error names", () => {
  const classes = Object.values(errors).filter(
    (value): value is typeof RunnerError =>
      typeof value === "function" && value.prototype instanceof RunnerError,
  );

  it("covers every routed name", () => {
    expect(classes.map((errorClass) => new errorClass("m").name).sort()).toEqual(
      [...RUNNER_ERROR_NAMES].sort(),
    );
  });

  it.each(classes.map((errorClass) => [new errorClass("m").name, errorClass] as const))(
    "%s: the class name osls prints is the name the workflow routes on",
    (name, errorClass) => {
      const error = new errorClass("m");
      expect(error.constructor.name).toBe(name);
      expect(RUNNER_ERROR_NAMES).toContain(error.constructor.name);
    },
  );
});
