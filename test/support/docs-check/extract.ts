/**
 * Finds the commands a Markdown page shows: every line of a fenced shell
 * block (```sh, ```bash, ```shell, ```console), and inline code spans in the
 * prose that start with `npm ` or `npx `. A fenced block without a shell tag
 * may show a command's output; a `<!-- docs-check output-of: <command> -->`
 * or `<!-- docs-check help-of: <command> -->` comment right above it says
 * whose. An untagged block that holds `npm`/`npx` lines and no such comment is
 * reported, so that no command can hide from the check in an output block.
 */
import { tokenize } from "./shell-words.ts";

export interface DocCommand {
  file: string;
  line: number;
  /** The command as written (continuation lines joined). */
  text: string;
  /** Its words, leading `VAR=value` assignments removed. */
  argv: string[];
  /** `VAR=value` pairs set before the command: by `export` lines above it in the block, or inline. */
  env: Record<string, string>;
}

export interface DocOutput {
  file: string;
  line: number;
  kind: "output-of" | "help-of";
  /** The command whose output this is, as written in the comment. */
  command: string;
  lines: string[];
}

export interface DocProblem {
  file: string;
  line: number;
  message: string;
}

export interface ExtractedDoc {
  commands: DocCommand[];
  outputs: DocOutput[];
  problems: DocProblem[];
}

const SHELL_TAGS = new Set(["sh", "bash", "shell", "console", "zsh"]);
const MARKER = /^<!--\s*docs-check\s+(output-of|help-of):\s*(.+?)\s*-->$/;
const COMMAND_START = /^(npm|npx)\s/;

export function extractDoc(file: string, markdown: string): ExtractedDoc {
  const lines = markdown.split("\n");
  const result: ExtractedDoc = { commands: [], outputs: [], problems: [] };
  let marker: { kind: DocOutput["kind"]; command: string; line: number } | undefined;

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const fence = /^\s*(```+|~~~+)\s*([\w-]*)/.exec(line);
    if (!fence) {
      const markerMatch = MARKER.exec(line.trim());
      if (markerMatch) {
        marker = {
          kind: markerMatch[1] as DocOutput["kind"],
          command: markerMatch[2] ?? "",
          line: i + 1,
        };
      } else if (line.trim() !== "") {
        if (marker) {
          result.problems.push({
            file,
            line: marker.line,
            message: "a docs-check comment must sit right above the fenced block it describes",
          });
          marker = undefined;
        }
        result.commands.push(...inlineCommands(file, i + 1, line));
      }
      continue;
    }
    const [, ticks = "```", tag = ""] = fence;
    const body: string[] = [];
    const start = i + 1;
    for (i++; i < lines.length && !(lines[i] ?? "").trim().startsWith(ticks); i++) {
      body.push(lines[i] ?? "");
    }
    if (SHELL_TAGS.has(tag)) {
      if (marker) {
        result.problems.push({
          file,
          line: marker.line,
          message: "a docs-check output comment must describe an output block, not a shell block",
        });
      }
      result.commands.push(...blockCommands(file, start + 1, body, result.problems));
    } else if (marker) {
      result.outputs.push({
        file,
        line: start,
        kind: marker.kind,
        command: marker.command,
        lines: body,
      });
    } else if (tag === "" || tag === "text") {
      const hidden = body.findIndex((l) => COMMAND_START.test(l.trim()));
      if (hidden >= 0) {
        result.problems.push({
          file,
          line: start + 1 + hidden,
          message:
            "a command in a fenced block that is not tagged sh: tag the block ```sh, or mark it as output with <!-- docs-check output-of: ... -->",
        });
      }
    }
    marker = undefined;
  }
  return result;
}

/** Code spans in a prose line that read as commands. */
function inlineCommands(file: string, line: number, text: string): DocCommand[] {
  const out: DocCommand[] = [];
  for (const match of text.matchAll(/`([^`]+)`/g)) {
    const span = (match[1] ?? "").trim();
    if (!COMMAND_START.test(span)) continue;
    for (const segment of tokenize(span)) out.push(toCommand(file, line, span, segment, {}));
  }
  return out;
}

/** Every command of a shell block: `\` continuations joined, `$ ` prompts and comments dropped. */
function blockCommands(
  file: string,
  firstLine: number,
  body: string[],
  problems: DocProblem[],
): DocCommand[] {
  const out: DocCommand[] = [];
  const env: Record<string, string> = {};
  for (let i = 0; i < body.length; i++) {
    const line = i + firstLine;
    let text = (body[i] ?? "").trim();
    while (text.endsWith("\\") && i + 1 < body.length) {
      i++;
      text = `${text.slice(0, -1).trimEnd()} ${(body[i] ?? "").trim()}`;
    }
    text = text.replace(/^\$\s+/, "");
    if (text === "" || text.startsWith("#")) continue;
    let segments: string[][];
    try {
      segments = tokenize(text);
    } catch (error) {
      problems.push({
        file,
        line,
        message: `cannot read the command: ${(error as Error).message}`,
      });
      continue;
    }
    for (const segment of segments) {
      const command = toCommand(file, line, text, segment, env);
      if (command.argv[0] === "export") {
        for (const word of command.argv.slice(1)) {
          const eq = word.indexOf("=");
          if (eq > 0) env[word.slice(0, eq)] = word.slice(eq + 1);
        }
      }
      out.push(command);
    }
  }
  return out;
}

function toCommand(
  file: string,
  line: number,
  text: string,
  words: string[],
  blockEnv: Record<string, string>,
): DocCommand {
  const env = { ...blockEnv };
  let k = 0;
  for (; k < words.length; k++) {
    const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(words[k] ?? "");
    if (!assignment) break;
    env[assignment[1] ?? ""] = assignment[2] ?? "";
  }
  return { file, line, text, argv: words.slice(k), env };
}
