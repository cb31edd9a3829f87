import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  LOCAL_NUMERIC_FLAGS,
  type LocalNumericFlag,
  parseLocalOptions,
  UsageError,
} from "../../harness/local/cli-options.ts";

const FLAGS = Object.keys(LOCAL_NUMERIC_FLAGS) as LocalNumericFlag[];

/** Text that is no plain decimal number. */
const notANumber = fc.oneof(
  fc.constantFrom(
    "",
    " ",
    "abc",
    "NaN",
    "Infinity",
    "-Infinity",
    "0x10",
    "1_000",
    "1e",
    "--1",
    "5s",
  ),
  fc.string().filter((text) => !/^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(text)),
);

function refusal(values: Record<string, unknown>): UsageError {
  try {
    parseLocalOptions(values);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error(`accepted ${JSON.stringify(values)}`);
}

describe("npm run local's flags", () => {
  it("property: a value that is no number is refused, naming the flag", () => {
    fc.assert(
      fc.property(fc.constantFrom(...FLAGS), notANumber, (flag, raw) => {
        expect(refusal({ [flag]: raw }).message).toContain(`--${flag} must be`);
      }),
    );
  });

  it("property: a number outside the flag's range is refused, naming the flag", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...FLAGS),
        fc.oneof(fc.double({ max: -Number.MIN_VALUE, noNaN: true }), fc.constant(1e300)),
        (flag, value) => {
          expect(refusal({ [flag]: String(value) }).message).toContain(`--${flag}`);
        },
      ),
    );
  });

  it("counts and units must be whole numbers; rates must be above zero", () => {
    for (const flag of ["images", "add-images", "min-units", "max-units", "max-inference-units"]) {
      expect(refusal({ [flag]: "1.5" }).message).toContain("whole number");
    }
    for (const flag of ["tps-per-unit", "plan-tps", "window", "min-units"]) {
      expect(refusal({ [flag]: "0" }).message).toContain(`--${flag}`);
    }
    expect(refusal({ "min-units": "3", "max-units": "2" }).message).toContain("--min-units");
  });

  it("an unknown feature is refused", () => {
    expect(refusal({ feature: "SEGMENTATION" }).message).toBe(
      '--feature must be CLASSIFICATION or OBJECT_DETECTION, got "SEGMENTATION"',
    );
  });

  it("--rescale takes never or restart, into the run input", () => {
    expect(refusal({ rescale: "always" }).message).toBe(
      '--rescale must be never or restart, got "always"',
    );
    expect(parseLocalOptions({ rescale: "restart" }).rescale).toBe("restart");
    expect("rescale" in parseLocalOptions({})).toBe(false);
  });

  it("good values pass through as numbers", () => {
    expect(
      parseLocalOptions({
        "lose-zone": "2.5",
        abort: "0",
        latency: "400",
        images: "10",
        "tps-per-unit": "0.5",
        feature: "OBJECT_DETECTION",
      }),
    ).toEqual({
      numbers: { "lose-zone": 2.5, abort: 0, latency: 400, images: 10, "tps-per-unit": 0.5 },
      feature: "OBJECT_DETECTION",
    });
  });
});
