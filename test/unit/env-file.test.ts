import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseEnv, promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { envFileText } from "../../harness/local/sample-events.ts";

/**
 * The env file `npm run local:stack` writes is read two ways: a shell sources
 * it before `osls invoke local`, and `npm run local:events` reads it with
 * Node's `util.parseEnv`. Both must get back the values written.
 */

const run = promisify(execFile);
const VALUES = {
  PLAIN: "http://127.0.0.1:4569",
  SPACES: "two words",
  QUOTES_AND_ESCAPES: 'say "hi" \\n back\\slash',
  SHELL_SIGNS: "$HOME `date` # not a comment; & |",
  EMPTY: "",
};

let directory: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "env-file-"));
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe("the local stack's env file", () => {
  it("reads back the same values with util.parseEnv", () => {
    expect(parseEnv(envFileText(VALUES))).toEqual(VALUES);
  });

  it("reads back the same values when a shell sources it", async () => {
    const file = join(directory, "invoke.env");
    await writeFile(file, envFileText(VALUES));
    const script = `set -a; . "${file}"; set +a; node -e 'const n=process.argv.slice(1); console.log(JSON.stringify(Object.fromEntries(n.map((k)=>[k,process.env[k]]))))' ${Object.keys(VALUES).join(" ")}`;
    const { stdout } = await run("sh", ["-c", script], { env: { PATH: process.env.PATH } });
    expect(JSON.parse(stdout)).toEqual(VALUES);
  });

  it("refuses a value neither reader could get back", () => {
    expect(() => envFileText({ LINES: "one\ntwo" })).toThrow(/LINES/);
    expect(() => envFileText({ QUOTE: "it's" })).toThrow(/QUOTE/);
  });
});
