import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AccessDeniedError, ResourceNotFoundError } from "../../src/errors.ts";
import {
  isLeaseActive,
  isLeaseExpired,
  isLeaseHeldBy,
  leaseKey,
  newLease,
  readLease,
  releaseLease,
  writeLease,
} from "../../src/lease.ts";
import {
  EXECUTION_ARN,
  type FakeAws,
  fakeAws,
  LEASE_KEY,
  leaseFor,
  MODEL_ARN,
  OTHER_EXECUTION_ARN,
  OTHER_MODEL_ARN,
  RESULTS_BUCKET,
  RESULTS_PREFIX,
  recordingLogger,
  serviceError,
} from "../support/model-fakes.ts";

let aws: FakeAws;
beforeEach(() => {
  aws = fakeAws();
});
afterEach(() => aws.restore());

const where = () => ({ s3: aws.s3, resultsBucket: RESULTS_BUCKET, resultsPrefix: RESULTS_PREFIX });

describe("newLease", () => {
  it("expires the longest allowed run after it starts", () => {
    const now = Date.parse("2025-01-06T02:00:00.000Z");
    const lease = newLease({
      projectVersionArn: MODEL_ARN,
      executionId: EXECUTION_ARN,
      runId: "run-1",
      units: 3,
      maxInferenceUnits: 5,
      now,
      maxRunMs: 6 * 3_600_000,
    });
    expect(lease).toEqual({
      projectVersionArn: MODEL_ARN,
      executionId: EXECUTION_ARN,
      runId: "run-1",
      startedAt: "2025-01-06T02:00:00.000Z",
      units: 3,
      maxInferenceUnits: 5,
      expiresAt: "2025-01-06T08:00:00.000Z",
    });
  });

  it("leaves maxInferenceUnits out without auto-scaling", () => {
    const lease = newLease({
      projectVersionArn: MODEL_ARN,
      executionId: EXECUTION_ARN,
      runId: "r",
      units: 1,
      now: 0,
      maxRunMs: 1000,
    });
    expect("maxInferenceUnits" in lease).toBe(false);
  });

  it("rejects a run length that is not positive", () => {
    const base = { projectVersionArn: MODEL_ARN, executionId: "x", runId: "r", units: 1, now: 0 };
    expect(() => newLease({ ...base, maxRunMs: 0 })).toThrow(/maxRunMs/);
    expect(() => newLease({ ...base, maxRunMs: Number.NaN })).toThrow(/maxRunMs/);
  });
});

describe("lease storage", () => {
  it("lives at state/lease.json under the results prefix, whether or not it ends in /", () => {
    expect(leaseKey("out/")).toBe("out/state/lease.json");
    expect(leaseKey("out")).toBe("out/state/lease.json");
    expect(leaseKey("")).toBe("state/lease.json");
  });

  it("round-trips through S3 as JSON", async () => {
    const lease = leaseFor(EXECUTION_ARN, { maxInferenceUnits: 4 });
    await writeLease({ ...where(), lease });
    const put = aws.s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(put).toMatchObject({
      Bucket: RESULTS_BUCKET,
      Key: LEASE_KEY,
      ContentType: "application/json",
    });
    expect(await readLease(where())).toEqual(lease);
  });

  it("reads no lease as undefined", async () => {
    expect(await readLease(where())).toBeUndefined();
  });

  it("treats an unreadable lease as no lease, with a warning", async () => {
    const logger = recordingLogger();
    aws.objects.set(`${RESULTS_BUCKET}/${LEASE_KEY}`, "{not json");
    expect(await readLease({ ...where(), logger })).toBeUndefined();
    aws.objects.set(`${RESULTS_BUCKET}/${LEASE_KEY}`, JSON.stringify({ executionId: "x" }));
    expect(await readLease({ ...where(), logger })).toBeUndefined();
    expect(logger.lines.filter((line) => line.level === "warn")).toHaveLength(2);
  });

  it("release keeps the record and adds when and why", async () => {
    const lease = leaseFor(EXECUTION_ARN);
    await writeLease({ ...where(), lease });
    const released = await releaseLease({
      ...where(),
      lease,
      reason: "run finished",
      now: Date.parse("2025-01-06T03:00:00.000Z"),
    });
    expect(released).toEqual({
      ...lease,
      releasedAt: "2025-01-06T03:00:00.000Z",
      releaseReason: "run finished",
    });
    expect(await readLease(where())).toEqual(released);
  });

  it("maps access denied and a missing bucket to named errors", async () => {
    aws.s3Mock.on(GetObjectCommand).rejects(serviceError("AccessDenied", 403));
    await expect(readLease(where())).rejects.toBeInstanceOf(AccessDeniedError);
    aws.s3Mock.on(PutObjectCommand).rejects(serviceError("NoSuchBucket", 404));
    await expect(writeLease({ ...where(), lease: leaseFor(EXECUTION_ARN) })).rejects.toThrow(
      ResourceNotFoundError,
    );
  });

  it("passes other S3 errors through unchanged", async () => {
    const boom = serviceError("InternalError", 500);
    aws.s3Mock.on(GetObjectCommand).rejects(boom);
    await expect(readLease(where())).rejects.toBe(boom);
  });
});

describe("lease predicates", () => {
  it("knows who holds an active lease on which model", () => {
    const lease = leaseFor(EXECUTION_ARN);
    expect(isLeaseActive(lease)).toBe(true);
    expect(isLeaseActive(undefined)).toBe(false);
    expect(isLeaseHeldBy(lease, EXECUTION_ARN, MODEL_ARN)).toBe(true);
    expect(isLeaseHeldBy(lease, OTHER_EXECUTION_ARN, MODEL_ARN)).toBe(false);
    expect(isLeaseHeldBy(lease, EXECUTION_ARN, OTHER_MODEL_ARN)).toBe(false);
    const released = { ...lease, releasedAt: "2025-01-06T03:00:00.000Z" };
    expect(isLeaseActive(released)).toBe(false);
    expect(isLeaseHeldBy(released, EXECUTION_ARN, MODEL_ARN)).toBe(false);
  });

  it("expires at expiresAt, not before", () => {
    const lease = leaseFor(EXECUTION_ARN, { expiresAt: "2025-01-06T09:00:00.000Z" });
    expect(isLeaseExpired(lease, Date.parse("2025-01-06T08:59:59.999Z"))).toBe(false);
    expect(isLeaseExpired(lease, Date.parse("2025-01-06T09:00:00.000Z"))).toBe(true);
  });
});
