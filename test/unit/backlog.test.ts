import {
  GetObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandInput,
  type ListObjectsV2CommandOutput,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { IMAGE_LIMITS, listBacklog, skipReasonFor } from "../../src/backlog.ts";
import { InternalError } from "../../src/errors.ts";
import { readLearnedTps, writeLearnedTps } from "../../src/learned-tps.ts";
import { newRunId } from "../../src/plan.ts";
import { normalizePrefix, resultKeyFor, resultsFolder, runFiles } from "../../src/result-keys.ts";
import { type Logger, silentLogger } from "../../src/runtime.ts";
import { compareKeys, greatestKeyWithPrefix } from "../../src/s3-listing.ts";

const s3Mock = mockClient(S3Client);
const s3 = new S3Client({ region: "us-east-1" });
afterEach(() => s3Mock.reset());

const INPUT = {
  imagesBucket: "images",
  imagesPrefix: "in/",
  resultsBucket: "images",
  resultsPrefix: "out/",
  imageMode: "S3Object" as const,
};

const T0 = Date.UTC(2026, 0, 5, 6, 0, 0);
const at = (secondsAfterT0: number) => new Date(T0 + secondsAfterT0 * 1000);

type Page = Partial<ListObjectsV2CommandOutput>;

/**
 * Serves ListObjectsV2 pages per prefix, chained by continuation tokens "<prefix>#<n>";
 * each page in S3's key order, as the backlog's merge-join requires.
 */
function servePages(pagesByPrefix: Record<string, Page[]>) {
  const calls: ListObjectsV2CommandInput[] = [];
  s3Mock.on(ListObjectsV2Command).callsFake((input: ListObjectsV2CommandInput) => {
    calls.push({ ...input }); // the paginator reuses one input object
    const pages = pagesByPrefix[input.Prefix ?? ""] ?? [{}];
    const index = input.ContinuationToken ? Number(input.ContinuationToken.split("#")[1]) : 0;
    const page = { ...pages[index] };
    page.Contents &&= [...page.Contents].sort((a, b) => compareKeys(a.Key ?? "", b.Key ?? ""));
    const last = index === pages.length - 1;
    return {
      ...page,
      IsTruncated: !last,
      NextContinuationToken: last ? undefined : `${input.Prefix}#${index + 1}`,
    };
  });
  return calls;
}

/**
 * One bucket's keys served as S3 does: in UTF-8 byte order, filtered by Prefix,
 * after StartAfter, `pageSize` per page, the continuation token being the last key.
 */
function serveBucket(keys: string[], pageSize: number) {
  const sorted = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const after = (key: string, start: string | undefined) =>
    start === undefined || Buffer.compare(Buffer.from(key), Buffer.from(start)) > 0;
  const calls: ListObjectsV2CommandInput[] = [];
  s3Mock.on(ListObjectsV2Command).callsFake((input: ListObjectsV2CommandInput) => {
    calls.push({ ...input });
    const from = input.ContinuationToken ?? input.StartAfter;
    const matching = sorted.filter((key) => key.startsWith(input.Prefix ?? "") && after(key, from));
    const page = matching.slice(0, pageSize);
    const truncated = matching.length > pageSize;
    return {
      Contents: page.map((key) => object(key, 1000, at(0))),
      IsTruncated: truncated,
      NextContinuationToken: truncated ? page.at(-1) : undefined,
    };
  });
  return calls;
}

/**
 * Serves GetObject for result objects: each key maps to the text of its body
 * (a record for an image, or anything else); the ledger snapshot is absent.
 */
function serveResults(bodies: Record<string, string>) {
  const gets: string[] = [];
  s3Mock.on(GetObjectCommand).callsFake((input: { Key: string }) => {
    gets.push(input.Key);
    const text = bodies[input.Key];
    if (text === undefined) throw new NoSuchKey({ $metadata: {}, message: "no such key" });
    return { Body: { transformToString: async () => text } };
  });
  return gets;
}

/** A result record's text for `imageKey` at image version `etag`. */
const record = (imageKey: string, etag = "etag", status = "succeeded") =>
  JSON.stringify({
    schemaVersion: 2,
    status,
    image: { bucket: "images", key: imageKey, etag, size: 1000, lastModified: at(0).toISOString() },
    projectVersionArn: "arn",
    labels: [],
    analyzedAt: at(1).toISOString(),
    runId: "run-0",
    attempts: 1,
    ...(status === "succeeded" ? {} : { error: { name: "X", message: "y" } }),
  });

const object = (key: string, size = 1000, modified = at(0)) => ({
  Key: key,
  Size: size,
  ETag: '"etag"',
  LastModified: modified,
});

describe("skipReasonFor", () => {
  it.each([
    ["in/a.jpg", 1, undefined],
    ["in/a.JPG", 1, undefined],
    ["in/a.jpeg", 1, undefined],
    ["in/a.JpEg", 1, undefined],
    ["in/a.png", 1, undefined],
    ["in/a.PNG", 1, undefined],
    ["in/a.gif", 1, "unsupported-extension"],
    ["in/a.jpg.txt", 1, "unsupported-extension"],
    ["in/jpg", 1, "unsupported-extension"],
    ["in/folder.jpg/", 0, "folder-marker"],
    ["in/folder/", 10, "folder-marker"],
    ["in/empty.png", 0, "empty-object"],
    ["in/limit.png", IMAGE_LIMITS.s3ObjectMaxBytes, undefined],
    ["in/over.png", IMAGE_LIMITS.s3ObjectMaxBytes + 1, "too-large"],
  ])("%s (%i bytes) -> %s", (key, size, reason) => {
    expect(skipReasonFor({ key, size }, "S3Object")?.reason).toBe(reason);
  });

  it("applies the 4 MB limit in Bytes mode, the limit itself included", () => {
    expect(
      skipReasonFor({ key: "a.jpg", size: IMAGE_LIMITS.bytesMaxBytes }, "Bytes"),
    ).toBeUndefined();
    expect(skipReasonFor({ key: "a.jpg", size: IMAGE_LIMITS.bytesMaxBytes + 1 }, "Bytes")).toEqual({
      reason: "too-large",
      detail: "4.0 MB (4194305 bytes) is over the 4.0 MB Bytes limit (4194304 bytes)",
    });
  });

  it("explains each reason", () => {
    expect(skipReasonFor({ key: "in/x.tiff", size: 5 }, "S3Object")?.detail).toBe(
      "extension .tiff is not supported; only .jpg, .jpeg and .png are analysed",
    );
    expect(skipReasonFor({ key: "in.d/README", size: 5 }, "S3Object")?.detail).toBe(
      "no file extension; only .jpg, .jpeg and .png are analysed",
    );
    expect(skipReasonFor({ key: "in/big.jpg", size: 17_000_000 }, "S3Object")?.detail).toBe(
      "16.2 MB (17000000 bytes) is over the 15.0 MB S3Object limit (15728640 bytes)",
    );
  });
});

describe("listBacklog with a mocked S3", () => {
  it("follows continuation tokens on both listings, through empty pages", async () => {
    const calls = servePages({
      "in/": [
        { Contents: [object("in/1.jpg"), object("in/2.jpg")] },
        {},
        { Contents: [] },
        { Contents: [object("in/3.png"), object("in/notes.txt")] },
      ],
      "out/results/": [{ Contents: [object("out/results/in/1.jpg.json", 50, at(10))] }, {}],
    });
    serveResults({ "out/results/in/1.jpg.json": record("in/1.jpg") });
    const backlog = await listBacklog({ s3, input: INPUT });
    expect(backlog.pending.map((i) => i.key)).toEqual(["in/2.jpg", "in/3.png"]);
    expect(backlog.skipped).toEqual([
      {
        key: "in/notes.txt",
        size: 1000,
        reason: "unsupported-extension",
        detail: "extension .txt is not supported; only .jpg, .jpeg and .png are analysed",
      },
    ]);
    expect(backlog.counts).toEqual({ listed: 4, pending: 2, skipped: 1, alreadyDone: 1 });
    // The two listings stream side by side; each follows its own tokens in turn.
    const callsFor = (prefix: string) =>
      calls
        .filter((c) => c.Prefix === prefix)
        .map((c) => [c.Bucket, c.Prefix, c.ContinuationToken]);
    expect(callsFor("out/results/")).toEqual([
      ["images", "out/results/", undefined],
      ["images", "out/results/", "out/results/#1"],
    ]);
    expect(callsFor("in/")).toEqual([
      ["images", "in/", undefined],
      ["images", "in/", "in/#1"],
      ["images", "in/", "in/#2"],
      ["images", "in/", "in/#3"],
    ]);
    expect(calls.every((c) => c.EncodingType === undefined)).toBe(true);
  });

  it("lists the whole bucket when the images prefix is empty", async () => {
    const calls = servePages({
      "": [{ Contents: [object("a.jpg")] }],
      "out/results/": [{}],
    });
    const backlog = await listBacklog({
      s3,
      input: { ...INPUT, imagesPrefix: "", resultsBucket: "results" },
    });
    expect(backlog.pending.map((i) => i.key)).toEqual(["a.jpg"]);
    const imageCall = calls.find((c) => c.Bucket === "images");
    expect(imageCall?.Prefix).toBeUndefined();
    expect(calls.find((c) => c.Bucket === "results")?.Prefix).toBe("out/results/");
  });

  it("leaves the job's own folders out of a bucket-root listing, jumping over each with StartAfter", async () => {
    // Images at the root of the bucket that also holds the results (resultsPrefix "").
    const keys = [
      "a.jpg",
      "results/a.jpg.json",
      "results/z.jpg.json",
      "results0.jpg",
      "runs/r1/manifest.jsonl",
      "runs/r1/plan.json",
      "runsheet.png",
      "state/lease.json",
      "zebra.png",
    ];
    const calls = serveBucket(keys, 1);
    serveResults({ "results/a.jpg.json": record("a.jpg") });
    const backlog = await listBacklog({
      s3,
      input: { ...INPUT, imagesPrefix: "", resultsPrefix: "" },
    });
    expect(backlog.pending.map((i) => i.key)).toEqual([
      "results0.jpg",
      "runsheet.png",
      "zebra.png",
    ]);
    expect(backlog.counts).toEqual({ listed: 4, pending: 3, skipped: 0, alreadyDone: 1 });
    const imageCalls = calls.filter((c) => c.Prefix !== "results/");
    // No `prefix` parameter for the whole bucket; each job folder costs one request, which
    // lands on its first key and jumps past the folder (StartAfter = its greatest possible key).
    expect(imageCalls.every((c) => c.Prefix === undefined)).toBe(true);
    const folderOf = (start: string | undefined) => start?.slice(0, start.indexOf("/") + 1);
    expect(imageCalls.map((c) => [c.ContinuationToken, folderOf(c.StartAfter)])).toEqual([
      [undefined, undefined],
      ["a.jpg", undefined],
      [undefined, "results/"],
      ["results0.jpg", "results/"],
      [undefined, "runs/"],
      ["runsheet.png", "runs/"],
      [undefined, "state/"],
    ]);
    for (const c of imageCalls) {
      if (c.StartAfter) expect(Buffer.byteLength(c.StartAfter)).toBe(1024);
    }
  });

  it("keeps the results prefix's other folders and the images of a separate bucket", async () => {
    const calls = serveBucket(["in/a.jpg", "out/results/in/a.jpg.json", "out/x.png"], 1000);
    serveResults({ "out/results/in/a.jpg.json": record("in/a.jpg") });
    const backlog = await listBacklog({
      s3,
      input: { ...INPUT, imagesPrefix: "", resultsPrefix: "out/" },
    });
    // out/x.png is not a job folder: an image like any other.
    expect(backlog.pending.map((i) => i.key)).toEqual(["out/x.png"]);
    expect(backlog.counts.alreadyDone).toBe(1);
    expect(calls.filter((c) => c.Prefix === "out/results/").map((c) => c.StartAfter)).toEqual([
      undefined,
    ]);
    expect(
      calls.filter((c) => c.Prefix === undefined).map((c) => c.StartAfter?.slice(0, 12)),
    ).toEqual([undefined, "out/results/"]);
  });

  it("compares image versions, not write times: a result for another ETag is pending as replaced", async () => {
    servePages({
      "in/": [
        {
          Contents: [
            object("in/replaced-late.jpg", 1000, at(5)),
            object("in/replaced-early.jpg", 1000, at(20)),
            object("in/done-old-result.jpg", 1000, at(20)),
          ],
        },
      ],
      "out/results/": [
        {
          Contents: [
            // Written after the image's LastModified, but for the bytes before the overwrite.
            object(resultKeyFor("out/", "in/replaced-late.jpg"), 50, at(10)),
            object(resultKeyFor("out/", "in/replaced-early.jpg"), 50, at(10)),
            // Written before the image's LastModified, for the same version (a copy kept its ETag).
            object(resultKeyFor("out/", "in/done-old-result.jpg"), 50, at(10)),
          ],
        },
      ],
    });
    serveResults({
      [resultKeyFor("out/", "in/replaced-late.jpg")]: record("in/replaced-late.jpg", "old"),
      [resultKeyFor("out/", "in/replaced-early.jpg")]: record("in/replaced-early.jpg", '"old"'),
      [resultKeyFor("out/", "in/done-old-result.jpg")]: record("in/done-old-result.jpg", '"etag"'),
    });
    const backlog = await listBacklog({ s3, input: INPUT });
    expect(backlog.pending.map((i) => i.key)).toEqual([
      "in/replaced-early.jpg",
      "in/replaced-late.jpg",
    ]);
    expect(backlog.pending[1]).toEqual({
      key: "in/replaced-late.jpg",
      size: 1000,
      etag: '"etag"',
      lastModified: at(5).toISOString(),
    });
    expect(backlog.counts.alreadyDone).toBe(1);
    expect(backlog.pendingByReason).toEqual({
      new: 0,
      replaced: 2,
      unreadableResult: 0,
      unreadableImage: 0,
    });
  });

  it("treats a result that is not a record of the image as absent, and counts it apart", async () => {
    const keys = ["in/text.jpg", "in/shape.jpg", "in/empty.jpg", "in/huge.jpg", "in/other.jpg"];
    const results = Object.fromEntries(keys.map((k) => [k, resultKeyFor("out/", k)]));
    servePages({
      "in/": [{ Contents: [...keys, "in/unreadable.jpg", "in/failed.jpg"].map((k) => object(k)) }],
      "out/results/": [
        {
          Contents: [
            object(results["in/text.jpg"] as string, 12),
            object(results["in/shape.jpg"] as string, 20),
            object(results["in/empty.jpg"] as string, 0),
            object(results["in/huge.jpg"] as string, 5 * 1024 * 1024),
            object(results["in/other.jpg"] as string, 400),
            object(resultKeyFor("out/", "in/unreadable.jpg"), 400),
            object(resultKeyFor("out/", "in/failed.jpg"), 400),
          ],
        },
      ],
    });
    const gets = serveResults({
      [results["in/text.jpg"] as string]: "not json {",
      [results["in/shape.jpg"] as string]: JSON.stringify({ status: "succeeded" }),
      [results["in/empty.jpg"] as string]: "",
      [results["in/huge.jpg"] as string]: record("in/huge.jpg"),
      [results["in/other.jpg"] as string]: record("in/somebody-else.jpg"),
      [resultKeyFor("out/", "in/unreadable.jpg")]: record(
        "in/unreadable.jpg",
        "etag",
        "unreadable",
      ),
      [resultKeyFor("out/", "in/failed.jpg")]: record("in/failed.jpg", "etag", "failed"),
    });
    const backlog = await listBacklog({ s3, input: INPUT });
    expect(backlog.pending.map((i) => i.key).sort()).toEqual([...keys, "in/unreadable.jpg"].sort());
    expect(backlog.counts.alreadyDone).toBe(1);
    expect(backlog.pendingByReason).toEqual({
      new: 0,
      replaced: 0,
      unreadableResult: 5,
      unreadableImage: 1,
    });
    // Neither the empty nor the oversized object is downloaded.
    expect(gets).not.toContain(results["in/huge.jpg"]);
    expect(gets).not.toContain(results["in/empty.jpg"]);
  });

  it("finds the result of a key too long for a plain result key", async () => {
    const longKey = `in/${"x".repeat(1_010)}.jpg`;
    const resultKey = resultKeyFor("out/", longKey);
    expect(resultKey).toContain("_long-keys/");
    servePages({
      "in/": [{ Contents: [object(longKey, 1000, at(0))] }],
      "out/results/": [{ Contents: [object(resultKey, 50, at(1))] }],
    });
    serveResults({ [resultKey]: record(longKey) });
    const backlog = await listBacklog({ s3, input: INPUT });
    expect(backlog.counts).toEqual({ listed: 1, pending: 0, skipped: 0, alreadyDone: 1 });
  });

  it("counts skips by reason and reconciles", async () => {
    servePages({
      "in/": [
        {
          Contents: [
            object("in/"),
            object("in/sub/", 0),
            object("in/zero.jpg", 0),
            object("in/huge.png", IMAGE_LIMITS.s3ObjectMaxBytes + 1),
            object("in/a.bmp"),
            object("in/ok.jpg"),
          ],
        },
        { Contents: [{ Size: 3 }] },
      ],
      "out/results/": [{}],
    });
    const backlog = await listBacklog({ s3, input: INPUT });
    expect(backlog.skippedByReason).toEqual({
      "folder-marker": 2,
      "empty-object": 1,
      "too-large": 1,
      "unsupported-extension": 1,
    });
    const { counts } = backlog;
    expect(counts).toEqual({ listed: 6, pending: 1, skipped: 5, alreadyDone: 0 });
    expect(counts.listed).toBe(counts.pending + counts.skipped + counts.alreadyDone);
  });

  it("propagates a listing failure", async () => {
    s3Mock.on(ListObjectsV2Command).rejects(
      new S3ServiceException({
        name: "AccessDenied",
        $fault: "client",
        $metadata: {},
        message: "no",
      }),
    );
    await expect(listBacklog({ s3, input: INPUT })).rejects.toMatchObject({ name: "AccessDenied" });
  });
});

describe("listings under the results bucket", () => {
  it.each(["", "labels", "labels/", "a/b/"])(
    "name a folder inside the results prefix %j, as the s3:prefix grant requires",
    (resultsPrefix) => {
      // The ledger (Plan) and a run's map results (the report, when the Map failed).
      const prefixes = [
        resultsFolder(resultsPrefix),
        normalizePrefix(runFiles.mapResults(resultsPrefix, "2026-01-05T02-00-00Z-1f3a")),
      ];
      for (const prefix of prefixes) {
        expect(prefix.startsWith(normalizePrefix(resultsPrefix))).toBe(true);
        expect(prefix.length).toBeGreaterThan(normalizePrefix(resultsPrefix).length);
      }
    },
  );
});

describe("greatestKeyWithPrefix", () => {
  it.each(["results/", "a/results/", "ab/results/", "abc/results/", "café/runs/"])(
    "sorts after every key S3 can hold under %s and before every key after it",
    (prefix) => {
      const greatest = greatestKeyWithPrefix(prefix);
      expect(Buffer.byteLength(greatest)).toBe(1024);
      expect(greatest.startsWith(prefix)).toBe(true);
      const room = 1024 - Buffer.byteLength(prefix);
      const inside = [
        `${prefix}x`,
        `${prefix}${"\u{10FFFF}".repeat(Math.floor(room / 4))}`,
        `${prefix}${"\u{10FFFF}".repeat(Math.floor((room - 3) / 4))}\uFFFF`,
        `${prefix}${"\uFFFF".repeat(Math.floor(room / 3))}`,
        `${prefix}${"z".repeat(room)}`,
      ];
      for (const key of inside) {
        expect(Buffer.byteLength(key)).toBeLessThanOrEqual(1024);
        expect(compareKeys(key, greatest), key).toBeLessThanOrEqual(0);
      }
      const next = `${prefix.slice(0, -1)}0`; // "/" + 1
      expect(compareKeys(next, greatest)).toBeGreaterThan(0);
    },
  );
});

describe("learned TPS", () => {
  const ARN = "arn:aws:rekognition:us-east-1:123456789012:project/p/version/v1/1";
  const body = (text: string) => ({ Body: { transformToString: async () => text } as never });
  const location = { s3, bucket: "images", resultsPrefix: "out/" };

  function capturingLogger() {
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (message) => warnings.push(message) };
    return { logger, warnings };
  }

  it("reads the file under state/", async () => {
    const learned = {
      tpsPerUnit: 6.2,
      measuredAt: "2026-01-05T07:00:00.000Z",
      runId: "r1",
      projectVersionArn: ARN,
    };
    s3Mock
      .on(GetObjectCommand, { Key: "out/state/learned-tps.json" })
      .resolves(body(JSON.stringify(learned)));
    expect(
      await readLearnedTps({ ...location, logger: silentLogger, projectVersionArn: ARN }),
    ).toEqual(learned);
  });

  it("is absent when there is no file", async () => {
    s3Mock.on(GetObjectCommand).rejects(new NoSuchKey({ message: "none", $metadata: {} }));
    expect(await readLearnedTps({ ...location, logger: silentLogger })).toBeUndefined();
  });

  it.each([
    "{ not json",
    '{"tpsPerUnit":-1,"measuredAt":"x","runId":"r"}',
    '{"tpsPerUnit":5}',
    "null",
  ])("ignores a corrupt file with a warning: %s", async (text) => {
    s3Mock.on(GetObjectCommand).resolves(body(text));
    const { logger, warnings } = capturingLogger();
    expect(await readLearnedTps({ ...location, logger })).toBeUndefined();
    expect(warnings).toEqual(["ignoring a corrupt learned TPS file"]);
  });

  it.each([1e-300, 0.05, 1000.5, 1e9])(
    "ignores a learned figure outside tpsPerUnit's range with a warning: %s",
    async (tpsPerUnit) => {
      const learned = { tpsPerUnit, measuredAt: "2026-01-05T07:00:00.000Z", runId: "r1" };
      s3Mock.on(GetObjectCommand).resolves(body(JSON.stringify(learned)));
      const { logger, warnings } = capturingLogger();
      expect(await readLearnedTps({ ...location, logger })).toBeUndefined();
      expect(warnings).toEqual([
        "ignoring a learned TPS outside 0.1-1000 calls per second per unit; sizing with the default",
      ]);
    },
  );

  it("ignores a figure measured on another model version", async () => {
    const other = {
      tpsPerUnit: 9,
      measuredAt: "2026-01-05T07:00:00.000Z",
      runId: "r1",
      projectVersionArn: `${ARN}0`,
    };
    s3Mock.on(GetObjectCommand).resolves(body(JSON.stringify(other)));
    expect(
      await readLearnedTps({ ...location, logger: silentLogger, projectVersionArn: ARN }),
    ).toBeUndefined();
  });

  it("does not size on a figure that is only a lower bound", async () => {
    const lowerBound = {
      tpsPerUnit: 9,
      measuredAt: "2026-01-05T07:00:00.000Z",
      runId: "r1",
      measured: false,
    };
    s3Mock.on(GetObjectCommand).resolves(body(JSON.stringify(lowerBound)));
    expect(await readLearnedTps({ ...location, logger: silentLogger })).toBeUndefined();
    s3Mock.on(GetObjectCommand).resolves(body(JSON.stringify({ ...lowerBound, measured: true })));
    expect((await readLearnedTps({ ...location, logger: silentLogger }))?.tpsPerUnit).toBe(9);
  });

  it("propagates errors other than a missing file", async () => {
    s3Mock.on(GetObjectCommand).rejects(
      new S3ServiceException({
        name: "AccessDenied",
        $fault: "client",
        $metadata: {},
        message: "no",
      }),
    );
    await expect(readLearnedTps({ ...location, logger: silentLogger })).rejects.toMatchObject({
      name: "AccessDenied",
    });
  });

  it("writes a valid figure and refuses an invalid one", async () => {
    s3Mock.on(PutObjectCommand).resolves({});
    const learned = {
      tpsPerUnit: 4.8,
      measuredAt: "2026-01-05T07:00:00.000Z",
      runId: "r2",
      accepted: 10,
    };
    await writeLearnedTps({ ...location, learned });
    const put = s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(put?.Key).toBe("out/state/learned-tps.json");
    expect(JSON.parse(String(put?.Body))).toEqual(learned);
    await expect(
      writeLearnedTps({ ...location, learned: { ...learned, tpsPerUnit: 0 } }),
    ).rejects.toBeInstanceOf(InternalError);
  });
});

describe("newRunId", () => {
  it("is sortable by time and a clean key segment", () => {
    expect(newRunId(Date.UTC(2026, 10, 25, 12, 0, 0, 999), () => "1f3a")).toBe(
      "2026-11-25T12-00-00Z-1f3a",
    );
    expect(newRunId(T0)).toMatch(/^2026-01-05T06-00-00Z-[0-9a-f]{4}$/);
  });
});
