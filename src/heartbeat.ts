/**
 * A run's heartbeat: every batch records, as it starts, that the run is still
 * making progress. The reaper reads it only when it cannot learn the owning
 * execution's status from Step Functions: the lease's expiry then moves with
 * the work instead of being fixed by the plan's guess of the run's length.
 *
 * One object per run (`state/heartbeats/<runId>.json`), never the lease
 * itself: batches write concurrently, and a read-modify-write of the lease
 * could lose its release. Concurrent writers of the same run all write "now",
 * so whichever lands last is as good as any.
 */
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { isNotFoundError } from "./aws-errors.ts";
import { stateFiles } from "./result-keys.ts";
import type { Logger } from "./runtime.ts";
import { getObjectText } from "./s3-json.ts";

/**
 * How long a heartbeat keeps a run alive: longer than the longest batch (a
 * Lambda runs at most 15 minutes) plus retries' backoff, and than the
 * reaper's hourly schedule.
 */
export const HEARTBEAT_GRACE_MS = 2 * 3600_000;

export interface Heartbeat {
  runId: string;
  /** ISO 8601: when a batch of the run last started. */
  at: string;
  /** ISO 8601: until when this heartbeat says the run may still be working. */
  aliveUntil: string;
}

const heartbeatSchema = z.object({
  runId: z.string().min(1),
  at: z.string().refine((v) => !Number.isNaN(Date.parse(v))),
  aliveUntil: z.string().refine((v) => !Number.isNaN(Date.parse(v))),
});

export interface HeartbeatLocation {
  s3: S3Client;
  resultsBucket: string;
  resultsPrefix: string;
}

/** Records that `runId` is working now. */
export async function writeHeartbeat(
  location: HeartbeatLocation & { runId: string; now: number },
): Promise<Heartbeat> {
  const heartbeat: Heartbeat = {
    runId: location.runId,
    at: new Date(location.now).toISOString(),
    aliveUntil: new Date(location.now + HEARTBEAT_GRACE_MS).toISOString(),
  };
  await location.s3.send(
    new PutObjectCommand({
      Bucket: location.resultsBucket,
      Key: stateFiles.heartbeat(location.resultsPrefix, location.runId),
      Body: `${JSON.stringify(heartbeat)}\n`,
      ContentType: "application/json",
    }),
  );
  return heartbeat;
}

/**
 * The run's heartbeat, or `undefined` when there is none or it cannot be
 * read (logged): a missing heartbeat only means the lease's own expiry applies.
 */
export async function readHeartbeat(
  location: HeartbeatLocation & { runId: string; logger?: Logger },
): Promise<Heartbeat | undefined> {
  const key = stateFiles.heartbeat(location.resultsPrefix, location.runId);
  try {
    const text = await getObjectText({ s3: location.s3, bucket: location.resultsBucket, key });
    const parsed = heartbeatSchema.safeParse(JSON.parse(text));
    if (parsed.success && parsed.data.runId === location.runId) return parsed.data;
    location.logger?.warn("heartbeat object is unreadable; ignoring it", { key });
    return undefined;
  } catch (error) {
    if (isNotFoundError(error)) return undefined;
    location.logger?.warn("could not read the run's heartbeat; ignoring it", {
      key,
      error: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
}
