import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  ListExecutionsCommand,
  ListMapRunsCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from "@aws-sdk/client-sfn";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../harness/local/local-stack.ts";
import { writeSampleImages } from "../../harness/local/sample-images.ts";
import { type LocalSfnApi, startLocalSfnApi } from "../../harness/local/sfn-api.ts";

/** The local Step Functions API, through the real SDK client, over a socket. */

let dataDirectory: string;
let stack: LocalStack;
let api: LocalSfnApi;
let sfn: SFNClient;

beforeEach(async () => {
  dataDirectory = await mkdtemp(join(tmpdir(), "sfn-api-"));
  stack = await startLocalStack({
    dataDirectory,
    emulator: { startDelayMs: 300, stopDelayMs: 100, latencyMs: 20, tpsPerUnit: 20 },
  });
  api = await startLocalSfnApi({ stack, job: { waitMs: 50 } });
  sfn = new SFNClient({
    endpoint: api.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  process.env.LOG_LEVEL = "silent";
});

afterEach(async () => {
  sfn.destroy();
  await api.close();
  await stack.close();
  await rm(dataDirectory, { recursive: true, force: true });
});

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}

function seed(count: number) {
  return writeSampleImages({
    s3: stack.s3,
    bucket: stack.imagesBucket,
    prefix: "incoming/",
    count,
    largeImages: 0,
  });
}

describe("the local Step Functions API", () => {
  it("runs an execution that is RUNNING under its own ARN, then SUCCEEDED with its Map Run's counts", async () => {
    await seed(12);
    const started = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: api.stateMachineArn,
        name: "first",
        input: JSON.stringify({ targetWindowMinutes: 30 }),
      }),
    );
    expect(started.executionArn).toBe(
      "arn:aws:states:us-east-1:000000000000:execution:rekognition-weekly-batch-local:first",
    );
    expect(started.startDate).toBeInstanceOf(Date);
    const running = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: api.stateMachineArn, statusFilter: "RUNNING" }),
    );
    expect(running.executions?.map((e) => e.executionArn)).toEqual([started.executionArn]);

    const mapRunArn = await until(async () => {
      const page = await sfn.send(new ListMapRunsCommand({ executionArn: started.executionArn }));
      return page.mapRuns?.[0]?.mapRunArn;
    }, "the Map Run");
    await api.waitForExecution(started.executionArn as string);

    const described = await sfn.send(
      new DescribeExecutionCommand({ executionArn: started.executionArn }),
    );
    expect(described.status).toBe("SUCCEEDED");
    expect(described.stopDate).toBeInstanceOf(Date);
    expect(JSON.parse(described.output ?? "{}").plan.counts.pending).toBe(12);
    const mapRun = await sfn.send(new DescribeMapRunCommand({ mapRunArn }));
    expect(mapRun.status).toBe("SUCCEEDED");
    expect(mapRun.itemCounts).toMatchObject({ total: 12, succeeded: 12, pending: 0, running: 0 });
    expect(mapRun.executionCounts?.succeeded).toBe(mapRun.executionCounts?.total);

    const succeeded = await sfn.send(
      new ListExecutionsCommand({
        stateMachineArn: api.stateMachineArn,
        statusFilter: "SUCCEEDED",
      }),
    );
    expect(succeeded.executions?.map((e) => e.name)).toEqual(["first"]);
  });

  it("refuses a second execution while one runs, with ConcurrentExecution, before the model is touched", async () => {
    await seed(6);
    // The first execution is held inside its first Task after its Plan, so
    // it is certainly RUNNING while the second one plans.
    let releaseFirst: () => void = () => {};
    const firstHeld = new Promise<void>((resolve) => {
      releaseFirst = resolve;
    });
    await api.close();
    const { WORKFLOW_HANDLERS } = await import("../../harness/local/local-job.ts");
    let holds = 0;
    api = await startLocalSfnApi({
      stack,
      job: {
        waitMs: 50,
        handlers: {
          ensureModelRunning: async (event, context) => {
            holds += 1;
            await firstHeld;
            return WORKFLOW_HANDLERS.ensureModelRunning?.(event, context);
          },
        },
      },
    });
    sfn.destroy();
    sfn = new SFNClient({
      endpoint: api.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    });

    const first = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: api.stateMachineArn, name: "one" }),
    );
    await until(async () => (holds > 0 ? true : undefined), "the first execution's model step");
    const second = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: api.stateMachineArn, name: "two" }),
    );
    await api.waitForExecution(second.executionArn as string);
    const refused = await sfn.send(
      new DescribeExecutionCommand({ executionArn: second.executionArn }),
    );
    expect(refused.status).toBe("FAILED");
    expect(refused.error).toBe("ConcurrentExecution");
    expect(refused.cause).toContain(first.executionArn);
    expect(holds).toBe(1);

    releaseFirst();
    await api.waitForExecution(first.executionArn as string);
    const done = await sfn.send(new DescribeExecutionCommand({ executionArn: first.executionArn }));
    expect(done.status).toBe("SUCCEEDED");
  });

  it("stops a running execution (ABORTED) and answers unknown ARNs with AWS error names", async () => {
    await seed(4);
    const started = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: api.stateMachineArn }),
    );
    const stopped = await sfn.send(
      new StopExecutionCommand({ executionArn: started.executionArn, cause: "operator" }),
    );
    expect(stopped.stopDate).toBeInstanceOf(Date);
    const described = await sfn.send(
      new DescribeExecutionCommand({ executionArn: started.executionArn }),
    );
    expect(described.status).toBe("ABORTED");
    await api.waitForExecution(started.executionArn as string);
    expect(
      (await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }))).status,
    ).toBe("ABORTED");

    await expect(
      sfn.send(
        new DescribeExecutionCommand({
          executionArn: `${api.stateMachineArn.replace(":stateMachine:", ":execution:")}:nope`,
        }),
      ),
    ).rejects.toMatchObject({ name: "ExecutionDoesNotExist" });
    await expect(
      sfn.send(
        new ListExecutionsCommand({
          stateMachineArn: "arn:aws:states:us-east-1:000000000000:stateMachine:other",
        }),
      ),
    ).rejects.toMatchObject({ name: "StateMachineDoesNotExist" });
    await expect(
      sfn.send(
        new StartExecutionCommand({ stateMachineArn: api.stateMachineArn, input: "not json" }),
      ),
    ).rejects.toMatchObject({ name: "InvalidExecutionInput" });
  });
});
