/**
 * Every command shown in README.md and docs/*.md is checked: npm scripts
 * exist, the flags shown for the project's command lines are ones they
 * accept, what runs offline is run and its output compared with the output
 * shown, and whatever needs AWS is on an explicit allow-list. A stale example
 * fails here.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadDefinition } from "../../harness/local/workflow/asl.ts";
import { checkDocs, offlineRunner, type Page } from "../support/docs-check/check.ts";
import { readProject } from "../support/docs-check/classify.ts";

const root = join(import.meta.dirname, "..", "..");
const project = readProject(root);
// One runner for the whole file: each --help is run once, whichever test asks first.
const run = offlineRunner(root);

function documentationPages(): Page[] {
  const docs = readdirSync(join(root, "docs"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => join("docs", name));
  return ["README.md", ...docs].map((path) => ({
    path,
    text: readFileSync(join(root, path), "utf8"),
  }));
}

const snippet = (text: string): Page[] => [{ path: "snippet.md", text }];

describe("the commands in README.md and docs/", () => {
  it("are all scripts that exist, accepted flags, offline runs that print what is shown, or allow-listed", async () => {
    const report = await checkDocs(documentationPages(), project, run);
    const described = report.problems.map((p) => `${p.file}:${p.line}: ${p.message}`).join("\n\n");
    expect(described).toBe("");
    // The check really saw and ran something: the quick start, help texts, the offline plan.
    expect(report.counted.commands).toBeGreaterThan(40);
    expect(report.counted.parsed).toBeGreaterThan(10);
    expect(report.counted.run).toBeGreaterThanOrEqual(3);
  }, 300_000);
});

describe("the README's workflow diagram", () => {
  it("names only states the state machine has", async () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const section = readme.split("## How a run works")[1]?.split("\n## ")[0] ?? "";
    const definition = await loadDefinition(join(root, "statemachines", "weekly-batch.asl.yml"));
    const states = new Set(Object.keys(definition.States));
    // CamelCase words outside parentheses in the diagram, and bold ones in the steps.
    const diagram = (section.split("```")[1] ?? "").replace(/\([^)]*\)/g, "");
    const named = [
      ...(diagram.match(/\b[A-Z][a-z]+[A-Za-z]*\b/g) ?? []),
      ...[...section.matchAll(/\*\*([A-Z][A-Za-z]+)\*\*/g)].map((m) => m[1] ?? ""),
    ];
    expect(named.length).toBeGreaterThan(10);
    expect(named.filter((name) => !states.has(name))).toEqual([]);
  });
});

describe("the docs check fails on a stale example", () => {
  it("a flag the command line does not accept", async () => {
    const report = await checkDocs(
      snippet("```sh\nnpm run local -- --fresh --no-such-flag 3\n```\n"),
      project,
      run,
    );
    expect(report.problems.map((p) => p.message)).toEqual([
      expect.stringContaining("does not accept --no-such-flag"),
    ]);
  }, 120_000);

  it("a flag of the operator's CLI it does not accept, and a command it does not have", async () => {
    const report = await checkDocs(
      snippet(
        "Run `npx rekognition-weekly-batch plan --no-such-option 1`.\n\n```sh\nnpx rekognition-weekly-batch no-such-command\n```\n",
      ),
      project,
      run,
    );
    const messages = report.problems.map((p) => p.message).join("\n");
    expect(messages).toContain("does not accept --no-such-option");
    expect(messages).toContain('does not list a command "no-such-command"');
  }, 120_000);

  it("an npm script that does not exist, and script arguments without --", async () => {
    const report = await checkDocs(
      snippet("```sh\nnpm run no-such-script\nnpm run local --fresh\n```\n"),
      project,
      run,
    );
    const messages = report.problems.map((p) => p.message).join("\n");
    expect(messages).toContain('package.json has no script "no-such-script"');
    expect(messages).toContain("put `--` before them");
  });

  it("a command it neither runs, parses nor allow-lists, and a command hidden in an untagged block", async () => {
    const report = await checkDocs(
      snippet("```sh\ncurl http://127.0.0.1:9/\n```\n\n```\nnpm run local -- --fresh\n```\n"),
      project,
      run,
    );
    const messages = report.problems.map((p) => p.message).join("\n");
    expect(messages).toContain("neither run, parsed nor allow-listed");
    expect(messages).toContain("not tagged sh");
  });

  it("help shown with a flag the command line no longer has", async () => {
    const report = await checkDocs(
      snippet(
        "```sh\nnpm run emulator -- --help\n```\n\n<!-- docs-check help-of: npm run emulator -->\n```\n  --port <n>        port\n  --warp-speed <n>  gone\n```\n",
      ),
      project,
      run,
    );
    expect(report.problems.map((p) => p.message)).toEqual([
      expect.stringContaining("lists --warp-speed"),
    ]);
  }, 120_000);

  it("output shown for a command the check cannot run", async () => {
    const report = await checkDocs(
      snippet(
        "```sh\nnpm run soak\n```\n\n<!-- docs-check output-of: npm run soak -->\n```\nSoak passed\n```\n",
      ),
      project,
      run,
    );
    expect(report.problems.map((p) => p.message)).toEqual([
      expect.stringContaining("that the docs check can run"),
    ]);
  });
});

describe("the README", () => {
  it("stays under 20 KB: what a user needs first, the details in docs/", () => {
    const bytes = Buffer.byteLength(readFileSync(join(root, "README.md"), "utf8"), "utf8");
    expect(bytes).toBeLessThan(20_000);
  });
});
