/**
 * What the docs check does with each command a page shows. Every command is
 * one of: a shell built-in or npm's own command (nothing to check), an npm
 * script (it must exist), one of the project's own command lines (every flag
 * shown must be one its `--help` lists), or an entry of the allow-list, with
 * the reason it is not run here. Anything else is a problem: a page may not
 * show a command the check cannot account for.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { DocCommand } from "./extract.ts";

export interface AllowEntry {
  /** Matches a command whose words, joined by single spaces, start with this. */
  prefix: string;
  reason: string;
}

/** Commands that need AWS, a running server or another tool: shown, but not run here. */
export const ALLOW_LIST: AllowEntry[] = [
  { prefix: "npx osls deploy", reason: "deploys to an AWS account" },
  { prefix: "npx osls remove", reason: "removes a stack from an AWS account" },
  {
    prefix: "npx osls invoke local",
    reason: "needs `npm run local:stack` running; test/integration/invoke-local.test.ts runs it",
  },
  {
    prefix: "npx osls package",
    reason: "takes seconds per template; test/integration/package.test.ts packages and lints it",
  },
  {
    prefix: "npm run package",
    reason: "osls package; test/integration/package.test.ts packages and lints it",
  },
  { prefix: "npm run deploy", reason: "osls deploy: deploys to an AWS account" },
  { prefix: "aws ", reason: "the AWS CLI: needs an AWS account or a local server started by hand" },
  { prefix: "zcat ", reason: "reads result parts that an `aws s3 cp` before it downloaded" },
  { prefix: "jq ", reason: "filters the JSON Lines a `zcat` before it prints" },
  { prefix: "set -a", reason: "shell: export what the next line sources" },
  { prefix: "set +a", reason: "shell: stop exporting" },
  { prefix: ". .local-data/invoke.env", reason: "shell: loads the environment local:stack wrote" },
];

export interface Project {
  root: string;
  scripts: Record<string, string>;
  bins: Record<string, string>;
}

export function readProject(root: string): Project {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    name: string;
    scripts?: Record<string, string>;
    bin?: string | Record<string, string>;
  };
  const bins = typeof pkg.bin === "string" ? { [pkg.name]: pkg.bin } : (pkg.bin ?? {});
  return { root, scripts: pkg.scripts ?? {}, bins };
}

/** One of the project's command lines, and how to ask it for its help. */
export interface CliRef {
  /** e.g. `npm run local`, `npx rekognition-weekly-batch plan`. */
  name: string;
  /** Help commands whose flags together are what the command accepts. */
  helpCommands: string[][];
  /** A subcommand that the root help must list. */
  subcommand?: { name: string; rootHelp: string[] };
}

export type Verdict =
  | { kind: "nothing-to-check"; why: string }
  | { kind: "script"; script: string }
  | { kind: "cli"; cli: CliRef; flags: string[] }
  | { kind: "allowed"; reason: string }
  | { kind: "problem"; message: string };

const NPM_BUILTINS = new Set(["ci", "install", "i", "prune", "pack"]);
const SHELL_BUILTINS = new Set(["export", "cd"]);

export function classify(command: DocCommand, project: Project): Verdict {
  const { argv } = command;
  const [program, ...args] = argv;
  if (program === undefined) return { kind: "nothing-to-check", why: "a variable assignment" };
  if (SHELL_BUILTINS.has(program)) return { kind: "nothing-to-check", why: `shell ${program}` };
  const words = argv.join(" ");
  const allowed = ALLOW_LIST.find((entry) => `${words} `.startsWith(entry.prefix));

  if (program === "npm") {
    const [sub, ...rest] = args;
    if (sub && NPM_BUILTINS.has(sub)) return { kind: "nothing-to-check", why: `npm ${sub}` };
    if (sub === "test" || sub === "t") {
      return project.scripts.test
        ? { kind: "script", script: "test" }
        : { kind: "problem", message: "`npm test`: package.json has no test script" };
    }
    if (sub === "run" || sub === "run-script") {
      const at = rest.findIndex((word) => !word.startsWith("-"));
      const script = rest[at];
      if (at < 0 || script === undefined)
        return { kind: "problem", message: "`npm run` without a script name" };
      if (!(script in project.scripts)) {
        return {
          kind: "problem",
          message: `\`npm run ${script}\`: package.json has no script "${script}"`,
        };
      }
      const after = rest.slice(at + 1);
      if (after.length > 0 && after[0] !== "--") {
        return {
          kind: "problem",
          message: `\`${words}\`: arguments after the script name go to npm, not the script; put \`--\` before them`,
        };
      }
      const scriptArgs = after.slice(1);
      if (scriptArgs.length === 0) return { kind: "script", script };
      const cli = scriptCli(project, script);
      if (cli) return { kind: "cli", cli, flags: flagsOf(scriptArgs) };
      if (allowed) return { kind: "allowed", reason: allowed.reason };
      return {
        kind: "problem",
        message: `\`${words}\`: arguments to "${script}" (${project.scripts[script]}) cannot be checked; add an allow-list entry with the reason`,
      };
    }
    return { kind: "problem", message: `\`${words}\`: unknown npm command` };
  }

  if (program === "npx" && args[0] !== undefined && args[0] in project.bins) {
    const [bin = "", ...binArgs] = args;
    const sub = binArgs.find((word) => !word.startsWith("-"));
    // What npx runs for the project's own bin, without npx's start-up.
    const base = [process.execPath, join(project.root, project.bins[bin] ?? "")];
    if (sub === undefined || isPlaceholder(sub)) {
      return {
        kind: "cli",
        cli: { name: `npx ${bin}`, helpCommands: [[...base, "--help"]] },
        flags: flagsOf(binArgs),
      };
    }
    return {
      kind: "cli",
      cli: {
        name: `npx ${bin} ${sub}`,
        helpCommands: [
          [...base, "--help"],
          [...base, sub, "--help"],
        ],
        subcommand: { name: sub, rootHelp: [...base, "--help"] },
      },
      flags: flagsOf(binArgs),
    };
  }

  if (allowed) return { kind: "allowed", reason: allowed.reason };
  return {
    kind: "problem",
    message: `\`${words}\` is neither run, parsed nor allow-listed by the docs check (test/support/docs-check/classify.ts)`,
  };
}

/**
 * An npm script that runs one of the project's own files (`tsx harness/x.ts`,
 * `node dist/y.js`) is a command line of the project; its flags are checked.
 */
function scriptCli(project: Project, script: string): CliRef | undefined {
  const body = project.scripts[script] ?? "";
  const match = /^(?:tsx|node)\s+(?:--\S+\s+)*(\S+\.(?:ts|js|mjs|cjs))\b/.exec(body);
  if (!match || !existsSync(join(project.root, match[1] ?? ""))) return undefined;
  return {
    name: `npm run ${script}`,
    helpCommands: [["npm", "run", "-s", script, "--", "--help"]],
  };
}

/** `--flag`, `--flag=value` and `-f` words; values and placeholders are not flags. */
export function flagsOf(words: string[]): string[] {
  return words.filter((word) => /^--?[A-Za-z]/.test(word)).map((word) => word.replace(/=.*$/, ""));
}

/** Every flag a help text names, in its option list or its prose. */
export function flagsInHelp(help: string): Set<string> {
  return new Set(help.match(/(?<![\w-])--?[A-Za-z][\w-]*/g) ?? []);
}

/** Whether a root help lists `name` as a command (an indented line starting with it). */
export function listsSubcommand(rootHelp: string, name: string): boolean {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^\\s+${escaped}(\\s|$|\\[)`, "m").test(rootHelp);
}

function isPlaceholder(word: string): boolean {
  return /^<.*>$/.test(word) || word.includes("...");
}
