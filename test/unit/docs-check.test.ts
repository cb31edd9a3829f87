import { describe, expect, it } from "vitest";
import { compareOutput, normaliseLine } from "../support/docs-check/compare.ts";
import { extractDoc } from "../support/docs-check/extract.ts";
import { tokenize } from "../support/docs-check/shell-words.ts";

describe("shell words", () => {
  it("splits commands and keeps quoted words whole", () => {
    expect(tokenize(`set -a; . .env; npx x --param="a=b c" '{"k":1}' # comment`)).toEqual([
      ["set", "-a"],
      [".", ".env"],
      ["npx", "x", "--param=a=b c", '{"k":1}'],
    ]);
    expect(tokenize("a && b | c")).toEqual([["a"], ["b"], ["c"]]);
  });
});

describe("extracting commands from Markdown", () => {
  it("takes shell blocks, continuations, exports and inline npm/npx spans; ignores other blocks", () => {
    const doc = extractDoc(
      "x.md",
      [
        "Try `npm run local -- --fresh` or `--fresh` alone.",
        "```sh",
        "export A=1 B=2",
        "npx tool plan \\",
        "  --images 3   # sized",
        "```",
        "```json",
        '{ "npm": "run" }',
        "```",
      ].join("\n"),
    );
    expect(doc.problems).toEqual([]);
    expect(doc.commands.map((c) => c.argv.join(" "))).toEqual([
      "npm run local -- --fresh",
      "export A=1 B=2",
      "npx tool plan --images 3",
    ]);
    expect(doc.commands[2]?.env).toEqual({ A: "1", B: "2" });
  });

  it("reads an output block by its marker and refuses commands in untagged blocks", () => {
    const doc = extractDoc(
      "x.md",
      [
        "<!-- docs-check output-of: npm run local -->",
        "```",
        "Execution   SUCCEEDED",
        "```",
        "```",
        "npx tool",
        "```",
      ].join("\n"),
    );
    expect(doc.outputs).toEqual([
      expect.objectContaining({
        kind: "output-of",
        command: "npm run local",
        lines: ["Execution   SUCCEEDED"],
      }),
    ]);
    expect(doc.problems).toEqual([
      expect.objectContaining({ line: 6, message: expect.stringContaining("not tagged sh") }),
    ]);
  });
});

describe("comparing shown output with real output", () => {
  const real = [
    "[Plan] progress",
    "Execution   SUCCEEDED",
    "Images      17 listed = 15 pending + 2 skipped + 0 already done",
    "Labels      white 6, black 5",
    "Duration    1 min 07 s",
    "Report      /tmp/d/reports/2026-11-29T17-43-21Z-eda3.html",
  ].join("\n");

  it("accepts other figures, durations, run ids and label lists", () => {
    const shown = [
      "Execution   SUCCEEDED",
      "Images      205 listed = 203 pending + 2 skipped + 0 already done",
      "Labels      black 68, white 66, green 61",
      "Duration    14.3 s",
      "Report      .local-data/reports/2026-11-29T17-14-06Z-3fe7.html",
    ];
    expect(compareOutput(shown, real, [["/tmp/d", ".local-data"]])).toBeUndefined();
  });

  it("names the first shown line the program no longer prints, and order matters", () => {
    expect(compareOutput(["Execution   SUCCEEDED", "Lease       replaced"], real)).toEqual({
      missing: "Lease       replaced",
      lineIndex: 1,
    });
    expect(compareOutput(["Labels  red 1", "Execution SUCCEEDED"], real)?.missing).toBe(
      "Execution SUCCEEDED",
    );
    expect(normaliseLine("Results     200 succeeded, 3 failed")).toBe(
      "Results # succeeded, # failed",
    );
  });
});
