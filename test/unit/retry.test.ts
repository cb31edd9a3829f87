import { describe, expect, it } from "vitest";
import { RetriesExhaustedError } from "../../src/errors.ts";
import { backoffDelay, withRetry } from "../../src/retry.ts";
import { FakeClock, settle } from "../support/fake-clock.ts";

const transient = () => Object.assign(new Error("busy"), { name: "ThrottlingException" });
const always = () => true;

describe("backoffDelay", () => {
  const policy = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1000 };

  it("doubles the cap per retry up to the maximum, with full jitter", () => {
    const top = () => 0.999999;
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, policy, top))).toEqual([
      99, 199, 399, 799, 999, 999,
    ]);
    expect(backoffDelay(4, policy, () => 0)).toBe(0);
    expect(backoffDelay(4, policy, () => 0.5)).toBe(400);
  });
});

describe("withRetry", () => {
  it("retries until success, sleeping the jittered backoff", async () => {
    const clock = new FakeClock();
    const start = clock.now();
    const calledAt: number[] = [];
    const delays: number[] = [];
    const run = withRetry(
      async (attempt) => {
        calledAt.push(clock.now() - start);
        if (attempt < 4) throw transient();
        return "ok";
      },
      {
        clock,
        shouldRetry: always,
        random: () => 0.5,
        policy: { baseDelayMs: 100, maxDelayMs: 10_000 },
        onRetry: ({ delayMs }) => delays.push(delayMs),
      },
    );
    await clock.advanceUntil(() => calledAt.length === 4);
    await expect(run).resolves.toBe("ok");
    expect(delays).toEqual([50, 100, 200]);
    expect(calledAt).toEqual([0, 50, 150, 350]);
  });

  it("rethrows an error that is not worth retrying, at once", async () => {
    const clock = new FakeClock();
    let calls = 0;
    const permanent = new Error("bad image");
    await expect(
      withRetry(
        async () => {
          calls += 1;
          throw permanent;
        },
        { clock, shouldRetry: () => false },
      ),
    ).rejects.toBe(permanent);
    expect(calls).toBe(1);
  });

  it("gives up after maxAttempts with RetriesExhausted carrying the last error", async () => {
    const clock = new FakeClock();
    let calls = 0;
    const run = withRetry(
      async () => {
        calls += 1;
        throw transient();
      },
      { clock, shouldRetry: always, random: () => 0.9, policy: { maxAttempts: 3 } },
    );
    const outcome = run.catch((error: unknown) => error);
    await clock.advanceUntil(() => calls === 3);
    const error = await outcome;
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as Error).name).toBe("RetriesExhausted");
    expect((error as Error).message).toMatch(/3 attempts.*ThrottlingException: busy/);
    expect((error as Error).cause).toMatchObject({ name: "ThrottlingException" });
  });

  it("lets the classifier limit attempts per error (shouldRetry sees the attempt number)", async () => {
    const clock = new FakeClock();
    let calls = 0;
    const run = withRetry(
      async () => {
        calls += 1;
        throw new Error("odd");
      },
      { clock, shouldRetry: (_error, attempt) => attempt < 2, random: () => 0.5 },
    ).catch((error: unknown) => error);
    await clock.advance(1000);
    expect(await run).toMatchObject({ message: "odd" });
    expect(calls).toBe(2);
  });

  it("never sleeps past the deadline", async () => {
    const clock = new FakeClock();
    const deadline = clock.now() + 1000;
    let calls = 0;
    const run = withRetry(
      async () => {
        calls += 1;
        throw transient();
      },
      {
        clock,
        shouldRetry: always,
        deadline,
        random: () => 0.999,
        policy: { baseDelayMs: 200, maxDelayMs: 10_000, maxAttempts: 100 },
      },
    ).catch((error: unknown) => error);
    // Sleeps of ~200 + ~400 fit before the deadline, the next ~800 would not.
    await clock.advance(2000);
    const error = await run;
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as Error).message).toMatch(/deadline/);
    expect(calls).toBe(3);
    expect(clock.pending).toBe(0);
  });

  it("does not spend attempts on paced errors (throttles) while a deadline bounds them", async () => {
    const clock = new FakeClock();
    const deadline = clock.now() + 60_000;
    let calls = 0;
    const run = withRetry(
      async () => {
        calls += 1;
        if (calls <= 8) throw transient();
        return "done";
      },
      {
        clock,
        shouldRetry: always,
        deadline,
        isPacedError: (error) => (error as Error).name === "ThrottlingException",
        random: () => 0.5,
        policy: { maxAttempts: 3 },
      },
    );
    await clock.advanceUntil(() => calls === 9);
    expect(await run).toBe("done");
  });

  it("counts paced errors as attempts when there is no deadline to bound them", async () => {
    const clock = new FakeClock();
    let calls = 0;
    const run = withRetry(
      async () => {
        calls += 1;
        throw transient();
      },
      {
        clock,
        shouldRetry: always,
        isPacedError: () => true,
        random: () => 0.5,
        policy: { maxAttempts: 3 },
      },
    ).catch((error: unknown) => error);
    await clock.advanceUntil(() => calls === 3);
    expect(await run).toBeInstanceOf(RetriesExhaustedError);
  });

  it("stops at once when aborted during a backoff sleep", async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    let calls = 0;
    const run = withRetry(
      async () => {
        calls += 1;
        throw transient();
      },
      { clock, shouldRetry: always, signal: controller.signal, random: () => 0.5 },
    ).catch((error: unknown) => error);
    await settle();
    expect(clock.pending).toBe(1);
    const reason = new Error("deadline near");
    controller.abort(reason);
    expect(await run).toBe(reason);
    expect(calls).toBe(1);
  });

  it("does not start when already aborted", async () => {
    const controller = new AbortController();
    controller.abort(new Error("gone"));
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls += 1;
        },
        { clock: new FakeClock(), shouldRetry: always, signal: controller.signal },
      ),
    ).rejects.toThrow("gone");
    expect(calls).toBe(0);
  });
});
