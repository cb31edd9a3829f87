import { mkdir, open, readFile, rm } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";

/**
 * One local stack per data folder. Two `npm run local` runs on one folder
 * analysed every image twice and fought over the model's lease; the deployed
 * Plan refuses a second execution, and this lock is the local equivalent.
 *
 * The lock file holds its owner's pid. A lock whose owner is no longer alive
 * (a crashed or killed run) is taken over, and the taker is told so.
 */

export const LOCK_FILE_NAME = ".run.lock";

interface LockOwner {
  pid: number;
  hostname: string;
  startedAt: string;
  command: string;
}

/** The data folder is held by a live process. */
export class DataFolderBusyError extends Error {
  override name = "DataFolderBusyError";
  constructor(
    readonly directory: string,
    readonly owner: LockOwner,
  ) {
    super(
      `The data folder ${directory} is in use by process ${owner.pid} (${owner.command}, since ${owner.startedAt}). ` +
        "Wait for it to finish, or use another folder with --data.",
    );
  }
}

export interface DataLock {
  /** Set when a dead owner's lock was replaced: which process it was. */
  tookOverFrom?: LockOwner;
  release(): Promise<void>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    const owner = JSON.parse(await readFile(path, "utf8")) as Partial<LockOwner>;
    return typeof owner.pid === "number" ? (owner as LockOwner) : undefined;
  } catch {
    return undefined; // missing, empty or half-written
  }
}

/** Takes the data folder's lock; throws DataFolderBusyError when a live process holds it. */
export async function acquireDataLock(directory: string, command: string): Promise<DataLock> {
  await mkdir(directory, { recursive: true });
  const path = join(directory, LOCK_FILE_NAME);
  const me: LockOwner = {
    pid: process.pid,
    hostname: hostname(),
    startedAt: new Date().toISOString(),
    command,
  };
  let tookOverFrom: LockOwner | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const file = await open(path, "wx");
      try {
        await file.writeFile(JSON.stringify(me));
      } finally {
        await file.close();
      }
      let released = false;
      return {
        ...(tookOverFrom ? { tookOverFrom } : {}),
        async release() {
          if (released) return;
          released = true;
          // Only our own lock: never one a later owner took over.
          if ((await readOwner(path))?.pid === process.pid) await rm(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = await readOwner(path);
    // Another host's pid says nothing here: a folder shared over the network stays locked.
    if (owner && (owner.hostname !== me.hostname || isAlive(owner.pid))) {
      throw new DataFolderBusyError(directory, owner);
    }
    tookOverFrom = owner ?? {
      pid: 0,
      hostname: me.hostname,
      startedAt: "unknown",
      command: "unknown",
    };
    await rm(path, { force: true });
  }
  // Someone else took the stale lock between our removal and our retry.
  const owner = await readOwner(path);
  throw new DataFolderBusyError(
    directory,
    owner ?? { pid: 0, hostname: "unknown", startedAt: "unknown", command: "unknown" },
  );
}
