import {
  GetObjectCommand,
  type GetObjectCommandInput,
  ListObjectsV2Command,
  type ListObjectsV2CommandInput,
  NoSuchKey,
  S3Client,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { shardRanges, shardsFromFolders, shardsFromSnapshot } from "../../src/plan-shards.ts";
import { resultKeyFor, stateFiles } from "../../src/result-keys.ts";
import { type Logger, silentLogger } from "../../src/runtime.ts";
import { compareKeys } from "../../src/s3-listing.ts";

const s3Mock = mockClient(S3Client);
const s3 = new S3Client({ region: "us-east-1" });
afterEach(() => s3Mock.reset());

const INPUT = {
  imagesBucket: "images",
  imagesPrefix: "in/",
  resultsBucket: "results",
  resultsPrefix: "out/",
  planShardObjects: 100,
};

/** Two buckets as S3 lists them (Prefix, StartAfter, Delimiter, pages of 10) and the stats object. */
function serve(opts: { images: string[]; results?: string[]; stats?: object }) {
  const buckets: Record<string, string[]> = {
    images: [...opts.images].sort(compareKeys),
    results: [...(opts.results ?? [])].sort(compareKeys),
  };
  const lists: ListObjectsV2CommandInput[] = [];
  s3Mock.on(ListObjectsV2Command).callsFake((input: ListObjectsV2CommandInput) => {
    lists.push(input);
    const from = input.ContinuationToken ?? input.StartAfter;
    const keys = (buckets[input.Bucket as string] ?? []).filter(
      (k) => k.startsWith(input.Prefix ?? "") && (from === undefined || compareKeys(k, from) > 0),
    );
    if (input.Delimiter) {
      const prefix = input.Prefix ?? "";
      const folders = [
        ...new Set(
          keys.flatMap((k) => {
            const slash = k.indexOf("/", prefix.length);
            return slash === -1 ? [] : [k.slice(0, slash + 1)];
          }),
        ),
      ];
      return { CommonPrefixes: folders.map((Prefix) => ({ Prefix })), IsTruncated: false };
    }
    const page = keys.slice(0, 10);
    return {
      Contents: page.map((Key) => ({ Key, Size: 3, ETag: '"e"', LastModified: new Date(0) })),
      IsTruncated: keys.length > 10,
      NextContinuationToken: keys.length > 10 ? page.at(-1) : undefined,
    };
  });
  s3Mock.on(GetObjectCommand).callsFake((input: GetObjectCommandInput) => {
    if (input.Key === stateFiles.ledgerIndexStats("out/") && opts.stats) {
      const text = JSON.stringify(opts.stats);
      return { Body: { transformToString: async () => text } };
    }
    throw new NoSuchKey({ $metadata: {}, message: "no such key" });
  });
  return { lists };
}

const images = (folder: string, n: number) =>
  Array.from({ length: n }, (_, i) => `in/${folder}/IMG_${String(i).padStart(4, "0")}.jpg`);

describe("where a large backlog is cut", () => {
  it("leaves a small or missing snapshot to the Plan's own listing, reading nothing else", async () => {
    const { lists } = serve({ images: images("a", 40) });
    expect(await shardsFromSnapshot({ s3, input: INPUT, logger: silentLogger })).toBeUndefined();
    s3Mock.reset();
    const done = images("a", 50).map((k) => resultKeyFor("out/", k));
    serve({ images: images("a", 50), stats: { entries: 50, samples: done } });
    // 50 results and about as many images: 100 objects, within planShardObjects 100.
    expect(await shardsFromSnapshot({ s3, input: INPUT, logger: silentLogger })).toBeUndefined();
    expect(lists).toEqual([]);
  });

  it("cuts a first large run at the first level of folders holding more than one", async () => {
    serve({ images: ["in/z.jpg", ...images("a", 50), ...images("b", 50), ...images("c", 50)] });
    const decision = await shardsFromFolders({ s3, input: INPUT, logger: silentLogger });
    expect(decision.boundaries).toEqual(["in/b/", "in/c/"]);
    // A single folder level is passed through to the one below it.
    s3Mock.reset();
    serve({ images: [...images("x/a", 60), ...images("x/b", 60)] });
    const deeper = await shardsFromFolders({ s3, input: INPUT, logger: silentLogger });
    expect(deeper.boundaries).toEqual(["in/x/b/"]);
  });

  it("cuts at the snapshot's keys, one shard per planShardObjects, without listing", async () => {
    const done = images("a", 400).map((k) => resultKeyFor("out/", k));
    const samples = done.filter((_, i) => i % 4 === 0);
    const { lists } = serve({ images: images("a", 400), stats: { entries: 400, samples } });
    const decision = await shardsFromSnapshot({ s3, input: INPUT, logger: silentLogger });
    // 400 results and about as many images: 800 objects, 8 shards.
    expect(decision?.boundaries).toHaveLength(7);
    expect(decision?.boundaries[0]).toMatch(/^in\/a\/IMG_\d{4}$/);
    expect(shardRanges(decision?.boundaries ?? [])).toHaveLength(8);
    expect(lists).toEqual([]);
  });

  it("warns and cuts nothing for one flat folder", async () => {
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (message: string) => warnings.push(message) } as Logger;
    serve({ images: Array.from({ length: 150 }, (_, i) => `in/IMG_${i}.jpg`) });
    const decision = await shardsFromFolders({ s3, input: INPUT, logger });
    expect(decision.boundaries).toEqual([]);
    expect(warnings.join("\n")).toMatch(/one flat folder/);
  });
});
