import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { COMMANDS } from "../../src/cli/commands.ts";
import type { CliIo } from "../../src/cli/context.ts";
import { runCli } from "../../src/cli/main.ts";

/** The command line's grammar: generated help, bad flags named, `--local` without the harness, offline plans. */

const s3 = mockClient(S3Client);
afterEach(() => s3.reset());

const MODEL = "arn:aws:rekognition:eu-west-1:123456789012:project/p/version/v/1";

async function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: { write: (text: string) => out.push(text) },
    stderr: { write: (text: string) => err.push(text) },
    env: {
      AWS_REGION: "eu-west-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      ...env,
    },
  };
  const code = await runCli(argv, io);
  return { code, out: out.join(""), err: err.join("") };
}

describe("help", () => {
  it("lists every command, and each command's help lists its own, the common and the run input options", async () => {
    const top = await run(["--help"]);
    expect(top.code).toBe(0);
    for (const command of COMMANDS) expect(top.out).toContain(command.name);
    expect(top.out).toContain("local");

    for (const command of COMMANDS) {
      const help = await run([command.name, "--help"]);
      expect({ command: command.name, code: help.code }).toEqual({
        command: command.name,
        code: 0,
      });
      expect(help.out).toContain(`Usage: rekognition-weekly-batch ${command.name} [options]`);
      expect(help.out).toMatch(/Common options:\n {2}--json/);
      expect(help.out).toContain("--data <dir>");
      expect(help.out).toContain("--images-bucket <value>");
      expect(help.out).toContain("(env TARGET_WINDOW_MINUTES)");
    }
    expect((await run(["help", "stop"])).out).toContain("-y, --yes");
    // A command's own option wins over the run input flag of the same name.
    const results = (await run(["results", "--help"])).out;
    expect(results).toContain("--min-confidence <n>");
    expect(results).not.toContain("--min-confidence <value>");
  });

  it("prints the help with exit code 2 when no command is given", async () => {
    const none = await run([]);
    expect(none.code).toBe(2);
    expect(none.out).toContain("Usage: rekognition-weekly-batch <command> [options]");
  });
});

describe("bad flags and values", () => {
  it("exit with code 2 and a message naming the flag and the value", async () => {
    const cases: [string[], RegExp][] = [
      [["plan", "--bogus"], /unknown option '--bogus'/],
      [
        ["calibrate", "--max-calls", "1.5"],
        /'--max-calls <n>' argument '1.5' is invalid. It must be a positive integer/,
      ],
      [["start", "--poll-seconds", "-1"], /'--poll-seconds <s>' argument '-1' is invalid/],
      [
        ["start", "--min-units", "0"],
        /'--min-units <value>' argument '0' is invalid. It must be an integer from 1 to 1000/,
      ],
      [["status", "--image-mode", "Jpeg"], /'--image-mode <value>' argument 'Jpeg' is invalid/],
      [["plna"], /unknown command 'plna'/],
      [["status", "--data", "elsewhere"], /--data is the local data folder: it goes with --local/],
    ];
    for (const [argv, message] of cases) {
      const result = await run(argv);
      expect({ argv, code: result.code, err: result.err }).toMatchObject({
        code: 2,
        err: expect.stringMatching(message),
      });
    }
  });

  it("answers in JSON with --json, usage errors too", async () => {
    const result = await run(["plan", "--json", "--images", "none"]);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.out)).toMatchObject({
      error: "UsageError",
      message: expect.stringContaining("--images"),
    });
  });
});

describe("without the development install", () => {
  it("--local and local say they need it", async () => {
    for (const argv of [["status", "--local"], ["plan", "--local", "--images", "5"], ["local"]]) {
      const result = await run(argv);
      expect({ argv, code: result.code }).toEqual({ argv, code: 2 });
      expect(result.err).toContain("needs the development install");
      expect(result.err).not.toContain("--help");
    }
  });

  it("local refuses --json and says which command gives the same job in JSON", async () => {
    const result = await run(["local", "--json"]);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.out).message).toContain("start --local --follow --json");
  });
});

describe("plan --images, offline", () => {
  it("needs no bucket, model or AWS call, and says the TPS is the default and why", async () => {
    const result = await run(["plan", "--images", "900", "--json"]);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.out);
    expect(report).toMatchObject({
      assumedCount: true,
      counts: { pending: 900 },
      sizing: { tpsSource: "default", tpsPerUnit: 5 },
      tpsNote: expect.stringContaining("IMAGES_BUCKET and PROJECT_VERSION_ARN"),
    });
    expect(s3.calls()).toHaveLength(0);
    const text = await run(["plan", "--images", "900"]);
    expect(text.out).toMatch(/TPS\/unit {4}5 \(the default; .*\n {12}no learned figure looked up/);
  });

  it("uses --tps-per-unit as given", async () => {
    const result = await run(["plan", "--images", "900", "--tps-per-unit", "8", "--json"]);
    expect(JSON.parse(result.out).sizing).toMatchObject({ tpsSource: "input", tpsPerUnit: 8 });
    expect(s3.calls()).toHaveLength(0);
  });

  it("uses the learned figure when the bucket and model are known, and the default with the reason when it cannot be read", async () => {
    const env = { IMAGES_BUCKET: "images", PROJECT_VERSION_ARN: MODEL };
    s3.on(GetObjectCommand).resolves({
      Body: {
        transformToString: async () =>
          JSON.stringify({
            tpsPerUnit: 7,
            measuredAt: "2026-01-01T00:00:00Z",
            runId: "r1",
            projectVersionArn: MODEL,
          }),
      } as never,
    });
    const learned = await run(["plan", "--images", "900", "--json"], env);
    expect(JSON.parse(learned.out).sizing).toMatchObject({ tpsSource: "learned", tpsPerUnit: 7 });

    s3.reset();
    s3.on(GetObjectCommand).rejects(
      Object.assign(new Error("Access Denied"), { name: "AccessDenied" }),
    );
    const denied = await run(["plan", "--images", "900", "--json"], env);
    expect(denied.code).toBe(0);
    expect(JSON.parse(denied.out)).toMatchObject({
      sizing: { tpsSource: "default", tpsPerUnit: 5 },
      tpsNote: "the learned figure could not be read (AccessDenied: Access Denied)",
    });
  });
});
