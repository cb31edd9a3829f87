import { gzipSync } from "node:zlib";
import {
  GetObjectCommand,
  type GetObjectCommandInput,
  ListObjectsV2Command,
  type ListObjectsV2CommandInput,
  NoSuchKey,
  S3Client,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import {
  BacklogTally,
  jobFoldersAmongImages,
  ledgerStatusOf,
  listBacklog,
  scanBacklog,
  skipReasonFor,
} from "../../src/backlog.ts";
import type { LedgerEntry } from "../../src/ledger-index.ts";
import { joinsInOrder, LedgerCursor } from "../../src/ledger-join.ts";
import {
  boundaryAt,
  boundaryAtResult,
  isSafeBoundary,
  pickBoundaries,
  resultsRangeOf,
  shardRanges,
} from "../../src/plan-shards.ts";
import { resultKeyFor, resultsFolder, stateFiles } from "../../src/result-keys.ts";
import { MAX_RESULT_BYTES, normalizeEtag, parseResultRecord } from "../../src/results.ts";
import { compareKeys, inRange, type KeyRange } from "../../src/s3-listing.ts";
import type { ImageRef, PendingByReason, SkippedObject } from "../../src/shapes.ts";

const s3Mock = mockClient(S3Client);
const s3 = new S3Client({ region: "us-east-1" });
afterEach(() => s3Mock.reset());

const BUCKET = "bucket";
const T0 = Date.UTC(2026, 0, 5, 6, 0, 0);

interface StoredObject {
  key: string;
  body: Buffer;
  etag: string;
  lastModified: Date;
}

/**
 * One bucket served as S3 serves it: keys in UTF-8 byte order, Prefix,
 * StartAfter, continuation, `pageSize` keys per page; GetObject with its
 * length and version. Counts the requests per listing.
 */
function serveBucket(objects: StoredObject[], pageSize = 3) {
  const sorted = [...objects].sort((a, b) => compareKeys(a.key, b.key));
  const byKey = new Map(sorted.map((o) => [o.key, o]));
  const lists: ListObjectsV2CommandInput[] = [];
  const gets: string[] = [];
  s3Mock.on(ListObjectsV2Command).callsFake((input: ListObjectsV2CommandInput) => {
    lists.push({ ...input });
    const from = input.ContinuationToken ?? input.StartAfter;
    const matching = sorted.filter(
      (o) =>
        o.key.startsWith(input.Prefix ?? "") &&
        (from === undefined || compareKeys(o.key, from) > 0),
    );
    const page = matching.slice(0, pageSize);
    const truncated = matching.length > pageSize;
    return {
      Contents: page.map((o) => ({
        Key: o.key,
        Size: o.body.length,
        ETag: o.etag,
        LastModified: o.lastModified,
      })),
      IsTruncated: truncated,
      NextContinuationToken: truncated ? page.at(-1)?.key : undefined,
    };
  });
  s3Mock.on(GetObjectCommand).callsFake((input: GetObjectCommandInput) => {
    gets.push(input.Key as string);
    const o = byKey.get(input.Key as string);
    if (!o) throw new NoSuchKey({ $metadata: {}, message: "no such key" });
    return {
      ContentLength: o.body.length,
      ETag: o.etag,
      LastModified: o.lastModified,
      Body: {
        transformToString: async () => o.body.toString("utf8"),
        transformToByteArray: async () => new Uint8Array(o.body),
      },
    };
  });
  return { lists, gets };
}

// ---------------------------------------------------------------------------
// The reference: the Plan as it was, with the whole ledger in a Map.

function referenceBacklog(
  objects: StoredObject[],
  input: { imagesPrefix: string; resultsPrefix: string },
) {
  const sorted = [...objects].sort((a, b) => compareKeys(a.key, b.key));
  const ledger = new Map<string, LedgerEntry>();
  for (const o of sorted.filter((o) => o.key.startsWith(resultsFolder(input.resultsPrefix)))) {
    const entry: LedgerEntry = {
      resultKey: o.key,
      resultEtag: o.etag,
      resultLastModified: o.lastModified.getTime(),
    };
    const record =
      o.body.length === 0 || o.body.length > MAX_RESULT_BYTES
        ? undefined
        : parseResultRecord(o.body.toString("utf8"));
    if (record) {
      entry.record = {
        imageKey: record.image.key,
        imageEtag: normalizeEtag(record.image.etag),
        imageLastModified: record.image.lastModified,
        status: record.status,
      };
    }
    ledger.set(o.key, entry);
  }
  const excluded = jobFoldersAmongImages({
    imagesBucket: BUCKET,
    resultsBucket: BUCKET,
    imageMode: "S3Object",
    ...input,
  });
  const pending: ImageRef[] = [];
  const skipped: SkippedObject[] = [];
  const pendingByReason: PendingByReason = {
    new: 0,
    replaced: 0,
    unreadableResult: 0,
    unreadableImage: 0,
  };
  let alreadyDone = 0;
  for (const o of sorted) {
    if (!o.key.startsWith(input.imagesPrefix)) continue;
    if (excluded.some((folder) => o.key.startsWith(folder))) continue;
    const listed = { key: o.key, size: o.body.length, etag: o.etag };
    const skip = skipReasonFor(listed, "S3Object");
    if (skip) {
      skipped.push({ key: o.key, size: o.body.length, ...skip });
      continue;
    }
    const status = ledgerStatusOf(ledger.get(resultKeyFor(input.resultsPrefix, o.key)), listed);
    if (status === "done") alreadyDone += 1;
    else {
      pendingByReason[status] += 1;
      pending.push({
        key: o.key,
        size: o.body.length,
        etag: o.etag,
        lastModified: o.lastModified.toISOString(),
      });
    }
  }
  return { pending, skipped, alreadyDone, pendingByReason };
}

// ---------------------------------------------------------------------------
// Keys that stress the order: escaped characters, empty, "." and ".." folders,
// keys that are prefixes of others, characters just below "." (the ".json"
// suffix), astral and private-use characters (UTF-16 and UTF-8 orders differ),
// keys too long for a plain result key, and the job's own folder names.

const SEGMENTS = [
  "a",
  "b",
  "A",
  "",
  ".",
  "..",
  "%",
  "%25",
  "%00",
  "a.jpg",
  "a.jpg-2",
  ".jpg",
  "-",
  " ",
  "!",
  "+",
  "é",
  "\u{1F600}",
  "\uFFFF",
  "\uE000",
  "_long-keys",
  "results",
  "runs",
  "x".repeat(300),
];
const ENDINGS = [".jpg", ".JPG", ".png", ".jpeg", ".jpg-2.jpg", ".jpg.png", ".txt", "", "/"];

const imageKeyArb = fc
  .tuple(
    fc.array(fc.constantFrom(...SEGMENTS), { minLength: 1, maxLength: 4 }),
    fc.constantFrom(...ENDINGS),
    fc.boolean(),
  )
  .map(([segments, ending, long]) => {
    const key = `${segments.join("/")}${ending}`;
    // Long enough that the prefixed result key passes 1,024 bytes.
    return long ? `${segments.join("/")}${"y".repeat(1_000)}${ending}` : key;
  });

type ResultKind = "none" | "same" | "other-etag" | "unreadable" | "failed" | "other-image" | "junk";

const layoutArb = fc.constantFrom(
  { imagesPrefix: "in/", resultsPrefix: "out/" },
  { imagesPrefix: "", resultsPrefix: "" },
  { imagesPrefix: "", resultsPrefix: "a/" },
);

/** What extends a key into another image key: "a.jpg" and "a.jpg-2.jpg". */
const TAILS = [
  "-2.jpg",
  ".jpg",
  " .png",
  "!.jpg",
  "/x.jpg",
  ".json.jpg",
  "0.jpg",
  "%.jpg",
  "\u{1F600}.png",
];

const imageArb = fc.record({
  key: imageKeyArb,
  result: fc.constantFrom<ResultKind>(
    "none",
    "same",
    "same",
    "other-etag",
    "unreadable",
    "failed",
    "other-image",
    "junk",
  ),
  snapshot: fc.constantFrom("none", "current", "stale"),
});

const caseArb = fc
  .record({
    layout: layoutArb,
    images: fc.uniqueArray(imageArb, { selector: (i) => i.key, maxLength: 25 }),
    /** Images whose key extends another's. */
    extensions: fc.array(fc.tuple(fc.nat(), fc.constantFrom(...TAILS), imageArb), {
      maxLength: 10,
    }),
    orphans: fc.uniqueArray(imageKeyArb, { maxLength: 5 }),
    /** Lines of an older, unsorted snapshot. */
    shuffledSnapshot: fc.boolean(),
  })
  .map(({ images, extensions, ...rest }) => {
    const all = new Map(images.map((i) => [i.key, i]));
    for (const [index, tail, image] of extensions) {
      const base = images[index % Math.max(1, images.length)];
      if (base) all.set(`${base.key}${tail}`, { ...image, key: `${base.key}${tail}` });
    }
    return { ...rest, images: [...all.values()] };
  });

const recordText = (imageKey: string, etag: string, status: string) =>
  JSON.stringify({
    schemaVersion: 2,
    status,
    image: {
      bucket: BUCKET,
      key: imageKey,
      etag,
      size: 3,
      lastModified: new Date(T0).toISOString(),
    },
    projectVersionArn: "arn",
    labels: [],
    analyzedAt: new Date(T0 + 1000).toISOString(),
    runId: "run-0",
    attempts: 1,
    ...(status === "succeeded" ? {} : { error: { name: "X", message: "y" } }),
  });

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

function buildBucket(c: Case): StoredObject[] {
  const { imagesPrefix, resultsPrefix } = c.layout;
  const objects = new Map<string, StoredObject>();
  const snapshotLines: { k: string; e: string; m: number; r?: object }[] = [];
  const put = (key: string, body: string, etag: string) => {
    objects.set(key, { key, body: Buffer.from(body), etag, lastModified: new Date(T0) });
  };
  for (const image of c.images) {
    const key = `${imagesPrefix}${image.key}`;
    put(key, "img", '"v1"');
  }
  for (const image of c.images) {
    const key = `${imagesPrefix}${image.key}`;
    const resultKey = resultKeyFor(resultsPrefix, key);
    const body = {
      none: undefined,
      same: recordText(key, "v1", "succeeded"),
      "other-etag": recordText(key, "v0", "succeeded"),
      unreadable: recordText(key, "v1", "unreadable"),
      failed: recordText(key, "v1", "failed"),
      "other-image": recordText(`${key}x`, "v1", "succeeded"),
      junk: "not json {",
    }[image.result];
    if (body === undefined) continue;
    put(resultKey, body, `"r-${resultKey.length}"`);
    if (image.snapshot !== "none") {
      const parsed = parseResultRecord(body);
      snapshotLines.push({
        k: resultKey,
        e: image.snapshot === "current" ? `"r-${resultKey.length}"` : '"stale"',
        m: T0,
        ...(parsed
          ? {
              r: {
                key: parsed.image.key,
                etag: normalizeEtag(parsed.image.etag),
                lastModified: parsed.image.lastModified,
                status: parsed.status,
              },
            }
          : {}),
      });
    }
  }
  for (const orphan of c.orphans) {
    put(
      resultKeyFor(resultsPrefix, `gone/${orphan}`),
      recordText(orphan, "v1", "succeeded"),
      '"o"',
    );
  }
  snapshotLines.sort((a, b) => compareKeys(a.k, b.k));
  if (c.shuffledSnapshot) snapshotLines.reverse();
  if (snapshotLines.length > 0) {
    const text = snapshotLines.map((l) => `${JSON.stringify(l)}\n`).join("");
    const key = stateFiles.ledgerIndex(resultsPrefix);
    objects.set(key, {
      key,
      body: gzipSync(text),
      etag: '"snap"',
      lastModified: new Date(T0),
    });
  }
  return [...objects.values()];
}

describe("the backlog's merge-join against the ledger", () => {
  it("gives exactly what the in-memory ledger gave: same manifest, skips and counts", async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        s3Mock.reset();
        const objects = buildBucket(c);
        serveBucket(objects);
        const input = {
          imagesBucket: BUCKET,
          resultsBucket: BUCKET,
          imageMode: "S3Object" as const,
          ...c.layout,
        };
        const backlog = await listBacklog({ s3, input });
        const expected = referenceBacklog(objects, c.layout);
        expect(backlog.pending).toEqual(expected.pending);
        expect(backlog.skipped).toEqual(expected.skipped);
        expect(backlog.pendingByReason).toEqual(expected.pendingByReason);
        expect(backlog.counts.alreadyDone).toBe(expected.alreadyDone);
        expect(backlog.counts.listed).toBe(
          expected.pending.length + expected.skipped.length + expected.alreadyDone,
        );
      }),
      { numRuns: 300 },
    );
  });

  it("finds in order the ledger entries of images it joins in order", () => {
    // The lemma the join rests on: between two supported images that join in
    // order, result keys sort as image keys do.
    fc.assert(
      fc.property(
        fc.constantFrom("", "out/", "a/b/"),
        fc.oneof(
          fc.tuple(imageKeyArb, imageKeyArb),
          fc.tuple(imageKeyArb, fc.constantFrom(...TAILS)).map(([a, t]) => [a, `${a}${t}`]),
        ),
        (prefix, [a, b]) => {
          const supported = (k: string) =>
            skipReasonFor({ key: k, size: 1 }, "S3Object") === undefined;
          fc.pre(a !== b && supported(a) && supported(b));
          fc.pre(joinsInOrder(prefix, a) && joinsInOrder(prefix, b));
          expect(Math.sign(compareKeys(resultKeyFor(prefix, a), resultKeyFor(prefix, b)))).toBe(
            Math.sign(compareKeys(a, b)),
          );
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it("looks up, rather than joins, the images whose result key sorts elsewhere", () => {
    expect(joinsInOrder("out/", "in/a.jpg")).toBe(true);
    expect(joinsInOrder("out/", "in/100%.jpg")).toBe(true);
    expect(joinsInOrder("out/", "in/a.jpg-2.jpg")).toBe(false); // "in/a.jpg" is a prefix
    expect(joinsInOrder("out/", "in//a.jpg")).toBe(false);
    expect(joinsInOrder("out/", "in/./a.jpg")).toBe(false);
    expect(joinsInOrder("out/", `in/${"x".repeat(1_020)}.jpg`)).toBe(false);
  });

  it("starts classifying before the results are listed to the end", async () => {
    // 40 images, each with its result: the old Plan listed all 40 results
    // (14 pages) before classifying the first image.
    const objects: StoredObject[] = [];
    for (let i = 0; i < 40; i += 1) {
      const key = `in/${String(i).padStart(3, "0")}.jpg`;
      objects.push({ key, body: Buffer.from("img"), etag: '"v1"', lastModified: new Date(T0) });
      const resultKey = resultKeyFor("out/", key);
      objects.push({
        key: resultKey,
        body: Buffer.from(recordText(key, "v1", "succeeded")),
        etag: '"r"',
        lastModified: new Date(T0),
      });
    }
    const { lists } = serveBucket(objects);
    const input = {
      imagesBucket: BUCKET,
      resultsBucket: BUCKET,
      imageMode: "S3Object" as const,
      imagesPrefix: "in/",
      resultsPrefix: "out/",
    };
    const { scanBacklog } = await import("../../src/backlog.ts");
    const scan = scanBacklog({ s3, input });
    const first = await scan.next();
    expect(first.value).toEqual({ kind: "done", key: "in/000.jpg" });
    const resultPages = lists.filter((l) => l.Prefix === "out/results/").length;
    // The read-ahead (32 parallel reads of changed results) bounds how far the listing runs.
    expect(resultPages).toBeLessThan(14);
    await scan.return(undefined);
  });

  it("fails, naming the listing, when a server lists out of S3's key order", async () => {
    s3Mock.on(ListObjectsV2Command).callsFake((input: ListObjectsV2CommandInput) => ({
      Contents:
        input.Prefix === "in/"
          ? [
              { Key: "in/b.jpg", Size: 3, ETag: '"e"', LastModified: new Date(T0) },
              { Key: "in/a.jpg", Size: 3, ETag: '"e"', LastModified: new Date(T0) },
            ]
          : [],
      IsTruncated: false,
    }));
    s3Mock.on(GetObjectCommand).rejects(new NoSuchKey({ $metadata: {}, message: "none" }));
    const input = {
      imagesBucket: BUCKET,
      resultsBucket: BUCKET,
      imageMode: "S3Object" as const,
      imagesPrefix: "in/",
      resultsPrefix: "out/",
    };
    await expect(listBacklog({ s3, input })).rejects.toThrow(
      /the images listing is not in S3's key order .*"in\/a.jpg" came after "in\/b.jpg"/,
    );
  });
});

describe("LedgerCursor", () => {
  const entry = (resultKey: string): LedgerEntry => ({
    resultKey,
    resultEtag: '"e"',
    resultLastModified: 0,
  });

  it("holds one entry and reads at most one past the key it is asked for", async () => {
    const keyArb = fc.string({ unit: "grapheme", maxLength: 4 });
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(keyArb, { maxLength: 30 }),
        fc.uniqueArray(keyArb, { maxLength: 30 }),
        async (stored, asked) => {
          const entries = [...stored].sort(compareKeys);
          const targets = [...asked].sort(compareKeys);
          let pulled = 0;
          const source = (async function* () {
            for (const key of entries) {
              pulled += 1;
              yield entry(key);
            }
          })();
          const cursor = new LedgerCursor(source);
          for (const target of targets) {
            const found = await cursor.seek(target);
            expect(found?.resultKey).toBe(entries.includes(target) ? target : undefined);
            expect(cursor.held).toBeLessThanOrEqual(1);
            const atOrBefore = entries.filter((k) => compareKeys(k, target) <= 0).length;
            expect(pulled).toBeLessThanOrEqual(atOrBefore + 1);
          }
          await cursor.drain();
          expect(pulled).toBe(entries.length);
          expect(cursor.held).toBe(0);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("refuses a key that does not come after the last one asked", async () => {
    const cursor = new LedgerCursor(
      (async function* () {
        yield entry("a");
        yield entry("b");
      })(),
    );
    await cursor.seek("b");
    await expect(cursor.seek("a")).rejects.toThrow(/ledger keys asked out of order: "a" after "b"/);
  });
});

// ---------------------------------------------------------------------------
// The sharded Plan: the same scan, cut into key ranges.

/** Boundaries that stress the cut: every key's own cut points, and pieces of keys. */
const boundaryPieceArb = fc
  .array(fc.constantFrom(...SEGMENTS, ...TAILS, "a", "b", "z", "0"), { minLength: 1, maxLength: 3 })
  .map((pieces) => pieces.join("/"));

describe("the sharded Plan's key ranges", () => {
  it("scans, shard by shard, exactly what one Plan scans: manifest, skips, counts and snapshot", async () => {
    await fc.assert(
      fc.asyncProperty(
        caseArb,
        fc.array(boundaryPieceArb, { maxLength: 8 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 4 }),
        async (c, pieces, shards, pageSize) => {
          s3Mock.reset();
          const objects = buildBucket(c);
          // S3 keys have at least one byte (an empty one would end the mock's pagination).
          fc.pre(objects.every((o) => o.key !== ""));
          serveBucket(objects, pageSize);
          const input = {
            imagesBucket: BUCKET,
            resultsBucket: BUCKET,
            imageMode: "S3Object" as const,
            ...c.layout,
          };
          const { imagesPrefix } = c.layout;
          const candidates = [
            ...c.images.flatMap((i) => boundaryAt(`${imagesPrefix}${i.key}`, imagesPrefix) ?? []),
            // Just past an image key: unsafe (an extension inside), so never picked.
            ...c.images.map((i) => `${imagesPrefix}${i.key}-`),
            ...pieces.map((p) => `${imagesPrefix}${p}`),
            ...pieces,
          ];
          const ranges = shardRanges(pickBoundaries(candidates, shards));

          const single = await scanAll(input);
          const tally = new BacklogTally();
          const pending: ImageRef[] = [];
          const skipped: SkippedObject[] = [];
          const snapshot: string[] = [];
          for (const range of ranges) {
            const part = await scanAll(input, range);
            tally.merge(part.tally);
            pending.push(...part.pending);
            skipped.push(...part.skipped);
            snapshot.push(...part.snapshot);
          }
          expect(pending).toEqual(single.pending);
          expect(skipped).toEqual(single.skipped);
          expect(tally.counts).toEqual(single.tally.counts);
          expect(tally.pendingByReason).toEqual(single.tally.pendingByReason);
          expect(tally.skippedByReason).toEqual(single.tally.skippedByReason);
          // Every ledger entry once, in key order: the shards' parts join into the same snapshot.
          expect(snapshot).toEqual(single.snapshot);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("keeps an image and its result on the same side of every safe boundary", () => {
    // The lemma the ranges rest on, and why the boundary rule is what it is.
    fc.assert(
      fc.property(
        fc.constantFrom("", "out/", "a/b/"),
        fc.oneof(boundaryPieceArb, imageKeyArb),
        fc.oneof(
          imageKeyArb,
          fc.tuple(imageKeyArb, fc.constantFrom(...TAILS)).map(([a, t]) => `${a}${t}`),
        ),
        (prefix, b, k) => {
          fc.pre(isSafeBoundary(b));
          fc.pre(skipReasonFor({ key: k, size: 1 }, "S3Object") === undefined);
          fc.pre(joinsInOrder(prefix, k));
          const imageSide = compareKeys(k, b) <= 0;
          const resultSide =
            compareKeys(resultKeyFor(prefix, k), `${resultsFolder(prefix)}${b}`) <= 0;
          expect(resultSide).toBe(imageSide);
        },
      ),
      { numRuns: 5_000 },
    );
    // Unsafe boundaries break it: an extension inside, or a "%".
    const side = (k: string, b: string) => [
      compareKeys(k, b) <= 0,
      compareKeys(resultKeyFor("out/", k), `${resultsFolder("out/")}${b}`) <= 0,
    ];
    expect(side("in/a.jpg", "in/a.jpg-")).toEqual([true, false]);
    expect(side("in/%2.jpg", "in/%25")).toEqual([true, false]);
    expect(isSafeBoundary("in/a.jpg-")).toBe(false);
    expect(isSafeBoundary("in/%25")).toBe(false);
    expect(isSafeBoundary("photos.2026/a")).toBe(true);
    expect(() => resultsRangeOf("out/", { upTo: "in/a.jpg-" })).toThrow(/unsafe shard boundary/);
  });

  it("cuts a key at its first '.' or '%' past the images prefix, never inside the prefix", () => {
    expect(boundaryAt("in/cam-01/IMG_0001.jpg", "in/")).toBe("in/cam-01/IMG_0001");
    expect(boundaryAt("in/100%.jpg", "in/")).toBe("in/100");
    expect(boundaryAt("in/.hidden.jpg", "in/")).toBeUndefined();
    expect(boundaryAt("photos.2026/a.png", "photos.2026/")).toBe("photos.2026/a");
    expect(boundaryAt("a.jpgx/b.jpg", "a.jp")).toBeUndefined(); // the prefix ends in the middle of ".jpg"
    expect(boundaryAtResult("out/results/in/a/b.jpg.json", "out/", "in/")).toBe("in/a/b");
    expect(boundaryAtResult("out/results/_long-keys/ab.json", "out/", "")).toBeUndefined();
  });

  it("puts every key in exactly one range", () => {
    fc.assert(
      fc.property(fc.array(boundaryPieceArb), imageKeyArb, (pieces, key) => {
        const ranges = shardRanges(pickBoundaries(pieces, 50));
        expect(ranges.filter((r) => inRange(key, r))).toHaveLength(1);
      }),
    );
  });
});

async function scanAll(
  input: Parameters<typeof scanBacklog>[0]["input"],
  range?: KeyRange,
): Promise<{
  tally: BacklogTally;
  pending: ImageRef[];
  skipped: SkippedObject[];
  snapshot: string[];
}> {
  const tally = new BacklogTally();
  const pending: ImageRef[] = [];
  const skipped: SkippedObject[] = [];
  const snapshot: string[] = [];
  const entries = scanBacklog({
    s3,
    input,
    ...(range ? { range } : {}),
    snapshot: async (entry) => {
      snapshot.push(JSON.stringify(entry));
    },
  });
  for await (const entry of entries) {
    tally.add(entry);
    if (entry.kind === "pending") pending.push(entry.image);
    else if (entry.kind === "skipped") skipped.push(entry.skipped);
  }
  return { tally, pending, skipped, snapshot };
}
