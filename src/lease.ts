/**
 * The ownership lease: one JSON object in the results bucket that says which
 * execution started the model, and so which one may stop it. It is written
 * before StartProjectVersion and marked released (never deleted) after the
 * stop, so the report and the reaper can read what happened.
 */
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { accessOrExistenceError, isNotFoundError } from "./aws-errors.ts";
import { stateFiles } from "./result-keys.ts";
import type { Logger } from "./runtime.ts";
import { getObjectText } from "./s3-json.ts";
import type { ModelLease } from "./shapes.ts";

/** The lease as stored: a `ModelLease` plus its release, once released. */
export interface LeaseRecord extends ModelLease {
  releasedAt?: string;
  releaseReason?: string;
}

/** Where the lease lives: the results bucket and prefix of the workflow. */
export interface LeaseLocation {
  s3: S3Client;
  resultsBucket: string;
  resultsPrefix: string;
}

const isoTimestamp = z.string().refine((value) => !Number.isNaN(Date.parse(value)), {
  message: "not an ISO 8601 timestamp",
});

const leaseRecordSchema = z.object({
  projectVersionArn: z.string().min(1),
  executionId: z.string().min(1),
  runId: z.string().min(1),
  startedAt: isoTimestamp,
  units: z.number().int().positive(),
  maxInferenceUnits: z.number().int().positive().optional(),
  expiresAt: isoTimestamp,
  releasedAt: isoTimestamp.optional(),
  releaseReason: z.string().optional(),
});

/** The S3 key of the lease under a results prefix. */
export function leaseKey(resultsPrefix: string): string {
  return stateFiles.lease(resultsPrefix);
}

/**
 * A fresh lease for a run about to start the model. It expires `maxRunMs`
 * after `now`: the longest run the plan allows. The reaper uses the expiry
 * only when it cannot learn the execution's status (see `reapStaleLease`).
 */
export function newLease(input: {
  projectVersionArn: string;
  executionId: string;
  runId: string;
  units: number;
  maxInferenceUnits?: number;
  now: number;
  maxRunMs: number;
}): ModelLease {
  if (!(input.maxRunMs > 0)) throw new RangeError(`maxRunMs must be > 0, got ${input.maxRunMs}`);
  return {
    projectVersionArn: input.projectVersionArn,
    executionId: input.executionId,
    runId: input.runId,
    startedAt: new Date(input.now).toISOString(),
    units: input.units,
    ...(input.maxInferenceUnits !== undefined
      ? { maxInferenceUnits: input.maxInferenceUnits }
      : {}),
    expiresAt: new Date(input.now + input.maxRunMs).toISOString(),
  };
}

/** True when the lease exists and has not been released. */
export function isLeaseActive(lease: LeaseRecord | undefined): lease is LeaseRecord {
  return lease !== undefined && lease.releasedAt === undefined;
}

/** True when the lease's expiry is at or before `now`. */
export function isLeaseExpired(lease: ModelLease, now: number): boolean {
  return Date.parse(lease.expiresAt) <= now;
}

/**
 * True when the lease proves that `executionId` started `projectVersionArn`
 * and has not released it yet.
 */
export function isLeaseHeldBy(
  lease: LeaseRecord | undefined,
  executionId: string,
  projectVersionArn: string,
): lease is LeaseRecord {
  return (
    isLeaseActive(lease) &&
    lease.executionId === executionId &&
    lease.projectVersionArn === projectVersionArn
  );
}

/**
 * Reads the lease. Returns `undefined` when there is none, and also when the
 * object is unreadable (logged as a warning): a lease that cannot be parsed
 * proves nobody's ownership, so it must never lead to stopping a model.
 */
export async function readLease(
  location: LeaseLocation & { logger?: Logger },
): Promise<LeaseRecord | undefined> {
  const key = leaseKey(location.resultsPrefix);
  let body: string;
  try {
    body = await getObjectText({ s3: location.s3, bucket: location.resultsBucket, key });
  } catch (error) {
    if (isNotFoundError(error)) return undefined;
    throw mapS3Error(error, location.resultsBucket, key, "read");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  const result = leaseRecordSchema.safeParse(parsed);
  if (!result.success) {
    location.logger?.warn("lease object is unreadable; treating it as no lease", {
      bucket: location.resultsBucket,
      key,
      problem: result.error.issues.map((issue) => issue.message).join("; "),
    });
    return undefined;
  }
  return stripUndefined(result.data);
}

/** Writes (replaces) the lease object. */
export async function writeLease(location: LeaseLocation & { lease: LeaseRecord }): Promise<void> {
  const key = leaseKey(location.resultsPrefix);
  try {
    await location.s3.send(
      new PutObjectCommand({
        Bucket: location.resultsBucket,
        Key: key,
        Body: `${JSON.stringify(location.lease, null, 2)}\n`,
        ContentType: "application/json",
      }),
    );
  } catch (error) {
    throw mapS3Error(error, location.resultsBucket, key, "write");
  }
}

/**
 * Marks the lease released: the object is kept, with `releasedAt` and
 * `releaseReason`, so history stays readable. Returns the released record.
 */
export async function releaseLease(
  location: LeaseLocation & { lease: LeaseRecord; reason: string; now: number },
): Promise<LeaseRecord> {
  const released: LeaseRecord = {
    ...location.lease,
    releasedAt: new Date(location.now).toISOString(),
    releaseReason: location.reason,
  };
  await writeLease({ ...location, lease: released });
  return released;
}

function mapS3Error(error: unknown, bucket: string, key: string, verb: string): unknown {
  return (
    accessOrExistenceError(error, {
      denied: `may not ${verb} the model lease s3://${bucket}/${key}`,
      missing: `results bucket ${bucket} does not exist (lease ${key})`,
    }) ?? error
  );
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
