import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  acquireDataLock,
  DataFolderBusyError,
  LOCK_FILE_NAME,
} from "../../harness/local/data-lock.ts";
import { runVerdict } from "../../harness/local/run-verdict.ts";

let directory: string;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), "data-lock-"));
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

/** The pid of a process that has already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
  return Number(child.stdout.toString());
}

describe("the data folder lock", () => {
  it("refuses a second holder while the first lives, naming it; frees on release", async () => {
    const first = await acquireDataLock(directory, "npm run local");
    const refused = await acquireDataLock(directory, "npm run local").catch((error) => error);
    expect(refused).toBeInstanceOf(DataFolderBusyError);
    expect(refused.message).toContain(`in use by process ${process.pid} (npm run local`);
    await first.release();
    const second = await acquireDataLock(directory, "npm run local");
    expect(second.tookOverFrom).toBeUndefined();
    await second.release();
  });

  it("takes over a lock whose owner is dead, and says whose it was", async () => {
    const pid = deadPid();
    const stale = {
      pid,
      hostname: hostname(),
      startedAt: "2026-01-01T00:00:00.000Z",
      command: "x",
    };
    await writeFile(join(directory, LOCK_FILE_NAME), JSON.stringify(stale));
    const lock = await acquireDataLock(directory, "npm run local");
    expect(lock.tookOverFrom).toEqual(stale);
    const owner = JSON.parse(await readFile(join(directory, LOCK_FILE_NAME), "utf8"));
    expect(owner.pid).toBe(process.pid);
    await lock.release();
  });

  it("takes over a damaged lock file", async () => {
    await writeFile(join(directory, LOCK_FILE_NAME), "{ half");
    const lock = await acquireDataLock(directory, "npm run local");
    expect(lock.tookOverFrom?.pid).toBe(0);
    await lock.release();
  });
});

describe("the end of npm run local", () => {
  it("never exits 0 while the model is still running or starting", () => {
    for (const status of ["RUNNING", "STARTING", "unknown"]) {
      const verdict = runVerdict("SUCCEEDED", status);
      expect(verdict.exitCode).toBe(1);
      expect(verdict.warning).toContain(`still ${status}`);
    }
    expect(runVerdict("SUCCEEDED", "STOPPED")).toEqual({ exitCode: 0 });
    expect(runVerdict("FAILED", "STOPPED")).toEqual({ exitCode: 1 });
  });
});
