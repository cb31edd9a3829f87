import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";

const require = createRequire(import.meta.url);
const definition = require("../../statemachines/weekly-batch.definition.cjs") as ((opts: {
  resolveVariable: (name: string) => Promise<unknown>;
}) => Promise<Record<string, unknown>>) & { workflowTimeoutSeconds: (raw: unknown) => number };

describe("the workflow timeout (workflowTimeoutHours)", () => {
  it("turns the parameter, a string from --param, into integer seconds", () => {
    expect(definition.workflowTimeoutSeconds("24")).toBe(86_400);
    expect(definition.workflowTimeoutSeconds(" 1.5 ")).toBe(5_400);
    expect(definition.workflowTimeoutSeconds(6)).toBe(21_600);
  });

  it.each(["", "0", "-3", "abc", "8761", undefined])(
    "refuses %j with a message naming the parameter",
    (raw) => {
      expect(() => definition.workflowTimeoutSeconds(raw)).toThrow(/workflowTimeoutHours must be/);
    },
  );

  it("is the ASL definition with TimeoutSeconds added at the top", async () => {
    const deployed = await definition({
      resolveVariable: async (name) => (name === "param:workflowTimeoutHours" ? "48" : undefined),
    });
    expect(deployed.TimeoutSeconds).toBe(172_800);
    expect(Object.keys(deployed).slice(0, 3)).toEqual(["Comment", "StartAt", "TimeoutSeconds"]);
    expect(Object.keys(deployed.States as object)).toContain("ProcessImages");
  });
});

describe("the service integrations' partition", () => {
  const deployedIn = (region: string | undefined) =>
    definition({
      resolveVariable: async (name) =>
        name === "param:workflowTimeoutHours"
          ? "24"
          : name === "self:provider.region"
            ? region
            : undefined,
    });
  const integrations = (deployed: Record<string, unknown>) =>
    (JSON.stringify(deployed).match(/arn:[a-z-]+:states:::[\w:.-]+/g) ?? []).sort();

  it.each([
    ["cn-north-1", "aws-cn"],
    ["us-gov-west-1", "aws-us-gov"],
    ["eu-west-1", "aws"],
    [undefined, "aws"],
  ])("in %s names every integration in the %s partition", async (region, partition) => {
    const found = integrations(await deployedIn(region));
    expect(found.length).toBeGreaterThan(3);
    for (const arn of found) expect(arn.startsWith(`arn:${partition}:states:::`), arn).toBe(true);
  });
});
