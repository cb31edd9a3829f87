import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  ListExecutionsCommand,
  ListMapRunsCommand,
  SFNClient,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { assertValidOverrides, parseCommandArgs, UsageError } from "../../src/cli/args.ts";
import type { CliIo } from "../../src/cli/context.ts";
import { describeFailure, runCli } from "../../src/cli/main.ts";
import { progressLine } from "../../src/cli/start.ts";

/** The CLI's argument layer, exit codes, and its Step Functions calls (mocked at the SDK). */

const STATE_MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:weekly";
const sfn = mockClient(SFNClient);

function io(env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const value: CliIo = {
    stdout: { write: (text: string) => out.push(text) },
    stderr: { write: (text: string) => err.push(text) },
    env: {
      AWS_REGION: "eu-west-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      ...env,
    },
  };
  return { io: value, out: () => out.join(""), err: () => err.join("") };
}

beforeEach(() => sfn.reset());
afterEach(() => sfn.reset());

describe("arguments", () => {
  it("turns every run input field into a --kebab-case flag and checks values one by one", () => {
    const { overrides } = parseCommandArgs([
      "--images-prefix",
      "photos/",
      "--target-window-minutes",
      "90",
    ]);
    expect(overrides).toEqual({ imagesPrefix: "photos/", targetWindowMinutes: "90" });
    expect(() => assertValidOverrides({ minUnits: "0", imageMode: "Jpeg" })).toThrow(
      /--min-units must be an integer from 1 to 1000 \(inference units, billed by the hour each\), got "0"\n--image-mode must be "S3Object" or "Bytes"/,
    );
    expect(() => parseCommandArgs(["--nope"])).toThrow(UsageError);
  });

  it("maps failures to exit codes: usage 2, not found and other failures 1", () => {
    expect(describeFailure(new UsageError("x")).exitCode).toBe(2);
    const notFound = Object.assign(new Error("State Machine Does Not Exist"), {
      name: "StateMachineDoesNotExist",
    });
    expect(describeFailure(notFound)).toMatchObject({
      exitCode: 1,
      message: expect.stringContaining("STATE_MACHINE_ARN"),
    });
    const noCredentials = Object.assign(
      new Error("Could not load credentials from any providers"),
      {
        name: "CredentialsProviderError",
      },
    );
    expect(describeFailure(noCredentials).message).toMatch(/no AWS credentials.*AWS_PROFILE/);
  });

  it("draws the progress line from the Map Run's item counts and the model", () => {
    const line = progressLine(
      {
        status: "RUNNING",
        items: {
          total: 40,
          succeeded: 9,
          failed: 1,
          pending: 30,
          running: 0,
          timedOut: 0,
          aborted: 0,
          resultsWritten: 10,
        },
        model: { status: "RUNNING", minInferenceUnits: 2, maxInferenceUnits: 4 },
      },
      12.4,
    );
    expect(line).toBe(
      "[######------------------] 10/40 images, 1 failed | model RUNNING, 2-4 unit(s) | 12 s",
    );
  });
});

describe("the command line", () => {
  it("prints help with exit code 0, and exit code 2 for no or an unknown command", async () => {
    const help = io();
    expect(await runCli(["--help"], help.io)).toBe(0);
    expect(help.out()).toContain("calibrate");
    expect(await runCli([], io().io)).toBe(2);
    const unknown = io();
    expect(await runCli(["launch"], unknown.io)).toBe(2);
    expect(unknown.err()).toContain("unknown command 'launch'");
  });

  it("start: a usage error (2) without a state machine, and for a bad override", async () => {
    const missing = io();
    expect(await runCli(["start"], missing.io)).toBe(2);
    expect(missing.err()).toContain("STATE_MACHINE_ARN");
    const bad = io({ STATE_MACHINE_ARN: STATE_MACHINE });
    expect(await runCli(["start", "--max-units", "many"], bad.io)).toBe(2);
    expect(bad.err()).toContain(
      "option '--max-units <value>' argument 'many' is invalid. It must be an integer from 1 to 1000",
    );
    expect(sfn.calls()).toHaveLength(0);
  });

  it("start: starts an execution with the flags as its input", async () => {
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
    sfn.on(StartExecutionCommand).resolves({
      executionArn: `${STATE_MACHINE.replace("stateMachine", "execution")}:manual`,
      startDate: new Date("2026-11-25T10:00:00Z"),
    });
    const run = io({ STATE_MACHINE_ARN: STATE_MACHINE });
    expect(
      await runCli(
        ["start", "--json", "--target-window-minutes", "120", "--name", "manual"],
        run.io,
      ),
    ).toBe(0);
    const start = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    expect(start).toEqual({
      stateMachineArn: STATE_MACHINE,
      input: JSON.stringify({ targetWindowMinutes: "120" }),
      name: "manual",
    });
    expect(JSON.parse(run.out())).toMatchObject({
      started: true,
      executionArn: expect.stringContaining(":manual"),
    });
  });

  it("start: refuses (exit 1) while another execution runs, without starting one", async () => {
    sfn.on(ListExecutionsCommand).resolves({
      executions: [
        {
          executionArn: `${STATE_MACHINE}:other`,
          stateMachineArn: STATE_MACHINE,
          name: "other",
          status: "RUNNING",
          startDate: new Date(),
        },
      ],
    });
    const run = io({ STATE_MACHINE_ARN: STATE_MACHINE });
    expect(await runCli(["start"], run.io)).toBe(1);
    expect(run.err()).toContain("another execution is running");
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it("start --follow: exit 1 when the execution fails, with its error; JSON errors for a missing state machine", async () => {
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
    sfn.on(StartExecutionCommand).resolves({ executionArn: "arn:x", startDate: new Date() });
    sfn.on(ListMapRunsCommand).resolves({ mapRuns: [] });
    sfn.on(DescribeMapRunCommand).rejects(new Error("not called"));
    sfn
      .on(DescribeExecutionCommand)
      .resolvesOnce({
        executionArn: "arn:x",
        status: "RUNNING",
        stateMachineArn: STATE_MACHINE,
        startDate: new Date(),
      })
      .resolves({
        executionArn: "arn:x",
        status: "FAILED",
        stateMachineArn: STATE_MACHINE,
        startDate: new Date(),
        error: "ModelStartFailed",
        cause: "the model failed to start",
      });
    const run = io({ STATE_MACHINE_ARN: STATE_MACHINE });
    expect(await runCli(["start", "--follow", "--poll-seconds", "0.01"], run.io)).toBe(1);
    expect(run.err()).toContain("Execution   FAILED: ModelStartFailed");
    expect(run.err()).toContain("execution RUNNING");

    sfn.reset();
    sfn.on(ListExecutionsCommand).rejects(
      Object.assign(new Error("State Machine Does Not Exist: 'x'"), {
        name: "StateMachineDoesNotExist",
      }),
    );
    const missing = io({ STATE_MACHINE_ARN: STATE_MACHINE });
    expect(await runCli(["start", "--json"], missing.io)).toBe(1);
    expect(JSON.parse(missing.out())).toMatchObject({ error: "StateMachineDoesNotExist" });
    expect(missing.err()).toContain("state machine not found");
  });
});
