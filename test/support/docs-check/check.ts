/**
 * The docs check: every command the README and docs/ show is accounted for
 * (see classify.ts), the flags shown for the project's own command lines are
 * ones their `--help` lists, the commands that can run offline and quickly
 * are run, and their output is compared with the output the page shows.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pMap from "p-map";
import {
  type CliRef,
  classify,
  flagsInHelp,
  flagsOf,
  listsSubcommand,
  type Project,
} from "./classify.ts";
import { compareOutput } from "./compare.ts";
import { type DocCommand, type DocOutput, type DocProblem, extractDoc } from "./extract.ts";
import { tokenize } from "./shell-words.ts";

export interface RunResult {
  code: number | null;
  output: string;
}

export type RunFn = (argv: string[], env?: Record<string, string>) => Promise<RunResult>;

/**
 * Runs a command with no way to reach AWS: no credentials, and every AWS
 * endpoint pointed at a closed local port, so a command that should be
 * offline and is not fails instead of calling an account.
 */
export function offlineRunner(cwd: string, timeoutMs = 120_000): RunFn {
  const cache = new Map<string, Promise<RunResult>>();
  return (argv, env = {}) => {
    const key = JSON.stringify([argv, env]);
    let result = cache.get(key);
    if (!result) {
      result = spawnCollect(argv, cwd, offlineEnv(env), timeoutMs);
      cache.set(key, result);
    }
    return result;
  };
}

function offlineEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^AWS_/.test(name)) env[name] = value;
  }
  return {
    ...env,
    AWS_REGION: "us-east-1",
    AWS_ENDPOINT_URL: "http://127.0.0.1:9",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_CONFIG_FILE: join(tmpdir(), "docs-check-no-aws-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(tmpdir(), "docs-check-no-aws-credentials"),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    NO_COLOR: "1",
    ...extra,
  };
}

function spawnCollect(argv: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number) {
  return new Promise<RunResult>((resolve) => {
    const [program = "", ...args] = argv;
    const child = spawn(program, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      resolve({ code: null, output: `${output}\n${error.message}` });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/**
 * Commands that run offline in seconds. Each names the extra arguments that
 * keep it away from the working tree's data and small enough to be quick.
 */
interface Runnable {
  matches(command: DocCommand, project: Project): boolean;
  argv(command: DocCommand, sandbox: string, project: Project): string[];
  /** Text of the real output to replace before comparing ([from, to]). */
  replacements(sandbox: string): [string, string][];
}

const RUNNABLE: Runnable[] = [
  {
    // The quick start: a whole local run, on a fresh data folder with a few images.
    matches: (c) => c.argv.join(" ") === "npm run local",
    argv: (_c, sandbox) => [
      "npm",
      "run",
      "-s",
      "local",
      "--",
      "--data",
      join(sandbox, "data"),
      "--images",
      "12",
    ],
    replacements: (sandbox) => [[join(sandbox, "data"), ".local-data"]],
  },
  {
    // Sizing for a given count at a given TPS per unit calls no AWS API.
    matches: (c, project) =>
      c.argv[0] === "npx" &&
      (c.argv[1] ?? "") in project.bins &&
      c.argv[2] === "plan" &&
      c.argv.includes("--images") &&
      c.argv.includes("--tps-per-unit") &&
      !c.argv.includes("--local"),
    argv: (c) => c.argv,
    replacements: () => [],
  },
  {
    // Help of one of the project's command lines.
    matches: (c, project) => {
      const verdict = classify(c, project);
      return (
        verdict.kind === "cli" && (verdict.flags.includes("--help") || verdict.flags.includes("-h"))
      );
    },
    // The help command the flag check runs (and caches) for it.
    argv: (c, _sandbox, project) => {
      const verdict = classify(c, project);
      return verdict.kind === "cli" ? (verdict.cli.helpCommands.at(-1) ?? c.argv) : c.argv;
    },
    replacements: () => [],
  },
];

export interface Page {
  path: string;
  text: string;
}

export interface DocsReport {
  problems: DocProblem[];
  counted: { commands: number; run: number; parsed: number; allowed: number; plain: number };
}

export async function checkDocs(pages: Page[], project: Project, run: RunFn): Promise<DocsReport> {
  const problems: DocProblem[] = [];
  const commands: DocCommand[] = [];
  const outputs: DocOutput[] = [];
  for (const page of pages) {
    const doc = extractDoc(page.path, page.text);
    problems.push(...doc.problems);
    commands.push(...doc.commands);
    outputs.push(...doc.outputs);
  }
  const counted = { commands: commands.length, run: 0, parsed: 0, allowed: 0, plain: 0 };
  const sandbox = mkdtempSync(join(tmpdir(), "docs-check-"));
  try {
    const helpOf = (cli: CliRef) => Promise.all(cli.helpCommands.map((argv) => run(argv)));

    // (a) and (b): every command is a known script, a parsed CLI call, or allow-listed.
    await pMap(
      commands,
      async (command) => {
        const verdict = classify(command, project);
        const at = { file: command.file, line: command.line };
        if (verdict.kind === "problem") problems.push({ ...at, message: verdict.message });
        else if (verdict.kind === "allowed") counted.allowed++;
        else if (verdict.kind === "nothing-to-check" || verdict.kind === "script") counted.plain++;
        else {
          counted.parsed++;
          problems.push(...(await checkFlags(verdict.cli, verdict.flags, helpOf, run, command)));
        }
      },
      { concurrency: 2 },
    );

    // (c): run what can run offline; compare with the output shown for it.
    const toRun = new Map<string, { command: DocCommand; runnable: Runnable }>();
    for (const command of commands) {
      const runnable = RUNNABLE.find((r) => r.matches(command, project));
      if (runnable) toRun.set(command.argv.join(" "), { command, runnable });
    }
    const results = new Map<string, RunResult>();
    await pMap(
      [...toRun],
      async ([key, { command, runnable }]) => {
        const result = await run(runnable.argv(command, sandbox, project), command.env);
        results.set(key, result);
        counted.run++;
        if (result.code !== 0) {
          problems.push({
            file: command.file,
            line: command.line,
            message: `\`${command.text}\` exited ${result.code}:\n${tail(result.output)}`,
          });
        }
      },
      { concurrency: 1 },
    );

    for (const output of outputs) {
      problems.push(
        ...(await checkOutput(output, commands, project, results, toRun, sandbox, helpOf)),
      );
    }
  } finally {
    rmSync(sandbox, { recursive: true, force: true });
  }
  return { problems, counted };
}

async function checkFlags(
  cli: CliRef,
  flags: string[],
  helpOf: (cli: CliRef) => Promise<RunResult[]>,
  run: RunFn,
  command: DocCommand,
): Promise<DocProblem[]> {
  const at = { file: command.file, line: command.line };
  if (cli.subcommand) {
    const root = await run(cli.subcommand.rootHelp);
    if (!listsSubcommand(root.output, cli.subcommand.name)) {
      return [
        {
          ...at,
          message: `\`${command.text}\`: the help does not list a command "${cli.subcommand.name}"`,
        },
      ];
    }
  }
  const helps = await helpOf(cli);
  const failed = helps.find((h) => h.code !== 0);
  if (failed) {
    return [
      { ...at, message: `\`${cli.name} --help\` exited ${failed.code}:\n${tail(failed.output)}` },
    ];
  }
  const accepted = new Set(helps.flatMap((h) => [...flagsInHelp(h.output)]));
  return flags
    .filter((flag) => !accepted.has(flag))
    .map((flag) => ({
      ...at,
      message: `\`${command.text}\`: ${cli.name} does not accept ${flag} (not in its --help)`,
    }));
}

async function checkOutput(
  output: DocOutput,
  commands: DocCommand[],
  project: Project,
  results: Map<string, RunResult>,
  toRun: Map<string, { command: DocCommand; runnable: Runnable }>,
  sandbox: string,
  helpOf: (cli: CliRef) => Promise<RunResult[]>,
): Promise<DocProblem[]> {
  const at = { file: output.file, line: output.line };
  const words = tokenize(output.command)[0] ?? [];
  if (output.kind === "help-of") {
    const asHelp = words[0] === "npm" ? [...words, "--", "--help"] : [...words, "--help"];
    const verdict = classify({ ...at, text: output.command, argv: asHelp, env: {} }, project);
    if (verdict.kind !== "cli") {
      return [
        {
          ...at,
          message: `help-of: \`${output.command}\` is not one of the project's command lines`,
        },
      ];
    }
    const helps = await helpOf(verdict.cli);
    const accepted = new Set(helps.flatMap((h) => [...flagsInHelp(h.output)]));
    const shown = flagsOf(output.lines.flatMap((line) => line.split(/[\s,/]+/)));
    return shown
      .filter((flag) => !accepted.has(flag))
      .map((flag) => ({
        ...at,
        message: `the help shown for \`${output.command}\` lists ${flag}, which it no longer accepts`,
      }));
  }
  const key = words.join(" ");
  const shownHere = commands.some((c) => c.file === output.file && c.argv.join(" ") === key);
  const entry = toRun.get(key);
  const result = results.get(key);
  if (!shownHere || !entry || !result) {
    return [
      {
        ...at,
        message: `output-of: \`${output.command}\` must be a command shown on the same page that the docs check can run (test/support/docs-check/check.ts RUNNABLE)`,
      },
    ];
  }
  const mismatch = compareOutput(output.lines, result.output, entry.runnable.replacements(sandbox));
  if (!mismatch) return [];
  return [
    {
      file: output.file,
      line: output.line + 1 + mismatch.lineIndex,
      message: `\`${output.command}\` no longer prints a line like\n  ${mismatch.missing}\nIt printed:\n${tail(result.output)}`,
    },
  ];
}

function tail(text: string, lines = 30): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}
