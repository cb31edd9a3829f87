import { describe, expect, it } from "vitest";
import { emulatorCommand, parseCommandLine } from "../../harness/local/emulator/command-line.ts";
import { DEFAULT_SETTINGS, emulatorConfigSchema } from "../../harness/local/emulator/settings.ts";

/** Every emulator setting is also a flag: the config file's key in kebab case. */

const OWN_FLAGS = new Set(["models", "controlPlaneFaults"]);
const SETTINGS = Object.keys(emulatorConfigSchema.shape).filter((key) => !OWN_FLAGS.has(key));
const flagOf = (key: string) => key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);

/** A valid value of each setting: its default, or an example where it has none. */
function sample(key: string): string | number {
  const value = (DEFAULT_SETTINGS as unknown as Record<string, string | number | undefined>)[key];
  return value ?? "http://127.0.0.1:4569";
}

describe("npm run emulator's flags", () => {
  it.each(SETTINGS)("%s has a flag that sets it", (key) => {
    const value = sample(key);
    const options = parseCommandLine([`--${flagOf(key)}`, String(value)]) as Record<
      string,
      unknown
    >;
    expect(options[key]).toEqual(value);
  });

  it("the help lists every setting's flag", () => {
    const help = emulatorCommand().helpInformation();
    for (const key of SETTINGS) expect(help).toContain(`--${flagOf(key)} `);
  });

  it("a value the config file would refuse is refused, naming the flag", () => {
    expect(() => parseCommandLine(["--account-id", "12"])).toThrow(/--account-id/);
    expect(() => parseCommandLine(["--tick-ms", "0"])).toThrow(/--tick-ms/);
    expect(() => parseCommandLine(["--demand-window-ms", "soon"])).toThrow(
      '--demand-window-ms must be a number, got "soon"',
    );
  });

  it("--model is repeatable", () => {
    expect(
      parseCommandLine(["--model", "a/v1", "--model", "b/v2:OBJECT_DETECTION"]).models,
    ).toEqual([
      { project: "a", version: "v1" },
      { project: "b", version: "v2", feature: "OBJECT_DETECTION" },
    ]);
  });
});
