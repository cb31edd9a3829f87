import * as errors from "../../src/errors.ts";

type RunnerErrorClass = (new (message: string) => errors.RunnerError) & { readonly name: string };

/**
 * Every error class the workflow can route on, read from the module's exports
 * rather than listed by hand: a new class is covered the day it is added.
 */
export const runnerErrorClasses = (Object.values(errors) as unknown[]).filter(
  (value): value is RunnerErrorClass =>
    typeof value === "function" && value.prototype instanceof errors.RunnerError,
);

/** The names those classes throw under. */
export const runnerErrorNames: string[] = runnerErrorClasses.map((errorClass) => errorClass.name);
