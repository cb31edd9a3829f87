import { Readable } from "node:stream";
import { createGzip, gzipSync } from "node:zlib";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/main.ts";
import { resultsQueryOf } from "../../src/cli/results.ts";
import { splitLines } from "../../src/json-lines.ts";
import { countRunParts, lineMatcher, listRuns, readPart } from "../../src/read-result-parts.ts";
import { type PartLine, partLineOf } from "../../src/result-parts.ts";

const s3Mock = mockClient(S3Client);
const s3 = new S3Client({ region: "us-east-1" });
const location = { s3, bucket: "results", resultsPrefix: "out/" };

afterEach(() => s3Mock.reset());

function line(key: string, labels: [string, number][], status: PartLine["status"] = "succeeded") {
  return partLineOf({
    schemaVersion: 2,
    status,
    image: { bucket: "images", key, etag: '"e"', size: 1, lastModified: "2026-01-01T00:00:00Z" },
    projectVersionArn: "arn",
    labels: labels.map(([Name, Confidence]) => ({ Name, Confidence })),
    ...(status === "succeeded" ? {} : { error: { name: "Bad", message: "bad" } }),
    analyzedAt: "2026-01-01T00:00:01Z",
    runId: "r",
    attempts: 1,
  });
}

/** A GetObject body as a Node stream, in chunks of `chunk` bytes (lines split across them). */
function gzBody(text: string, chunk = 7) {
  const bytes = gzipSync(Buffer.from(text, "utf8"));
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunk) pieces.push(bytes.subarray(i, i + chunk));
  return Readable.from(pieces) as never;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

describe("splitLines", () => {
  it("splits across chunks, keeps multi-byte characters whole, and yields a last line without a newline", async () => {
    const text = "a\r\nbé\n\nc日本";
    const bytes = Buffer.from(text, "utf8");
    const chunks = [...bytes].map((byte) => Buffer.from([byte]));
    expect(await collect(splitLines(Readable.from(chunks)))).toEqual(["a", "bé", "", "c日本"]);
  });

  it("refuses a line longer than the limit instead of holding it", async () => {
    const chunks = Readable.from([Buffer.from("x".repeat(10)), Buffer.from("y".repeat(10))]);
    await expect(collect(splitLines(chunks, 15))).rejects.toThrow(/longer than 15 bytes/);
  });
});

describe("readPart", () => {
  it("reads a gzip part line by line, checked against the line schema", async () => {
    const lines = [line("a.jpg", [["red", 90]]), line("b.jpg", [], "failed")];
    s3Mock
      .on(GetObjectCommand)
      .resolves({ Body: gzBody(lines.map((l) => JSON.stringify(l)).join("\n")) });
    expect(await collect(readPart(location, "out/runs/r/results/p.jsonl.gz"))).toEqual(lines);
  });

  it("streams: a line is handed on before the rest of the part has arrived", async () => {
    const gzip = createGzip();
    s3Mock.on(GetObjectCommand).resolves({ Body: gzip as never });
    const lines = readPart(location, "out/runs/r/results/p.jsonl.gz");
    gzip.write(`${JSON.stringify(line("first.jpg", []))}\n`);
    gzip.flush();
    // The body is still open: nothing after the first line exists yet.
    expect((await lines.next()).value?.key).toBe("first.jpg");
    gzip.end(`${JSON.stringify(line("last.jpg", []))}\n`);
    expect((await lines.next()).value?.key).toBe("last.jpg");
    expect((await lines.next()).done).toBe(true);
  });

  it("names the object and the line that is not a result line", async () => {
    s3Mock.on(GetObjectCommand).resolves({
      Body: gzBody(`${JSON.stringify(line("a.jpg", []))}\n{"key":"b.jpg"}\n`),
    });
    await expect(collect(readPart(location, "out/runs/r/results/p.jsonl.gz"))).rejects.toThrow(
      /^s3:\/\/results\/out\/runs\/r\/results\/p\.jsonl\.gz line 2 is not a result line: schema_version/,
    );
  });

  it("names the object that is not gzip", async () => {
    s3Mock.on(GetObjectCommand).resolves({ Body: Readable.from([Buffer.from("plain")]) as never });
    await expect(collect(readPart(location, "out/runs/r/results/p.jsonl.gz"))).rejects.toThrow(
      /^s3:\/\/results\/out\/runs\/r\/results\/p\.jsonl\.gz could not be read: incorrect header check/,
    );
  });
});

describe("countRunParts", () => {
  it("counts the lines of every .gz in the run's results folder, by status", async () => {
    s3Mock.on(ListObjectsV2Command).resolves({
      Contents: [
        { Key: "out/runs/r/results/part-1.jsonl.gz" },
        { Key: "out/runs/r/results/part-2.jsonl.gz" },
        { Key: "out/runs/r/results/notes.txt" },
      ],
    });
    s3Mock
      .on(GetObjectCommand, { Key: "out/runs/r/results/part-1.jsonl.gz" })
      .callsFake(() => ({
        Body: gzBody(`${JSON.stringify(line("a", []))}\n${JSON.stringify(line("b", []))}\n`),
      }))
      .on(GetObjectCommand, { Key: "out/runs/r/results/part-2.jsonl.gz" })
      .callsFake(() => ({ Body: gzBody(JSON.stringify(line("c", [], "unreadable"))) }));
    expect(await countRunParts(location, "r")).toEqual({
      prefix: "out/runs/r/results/",
      parts: 2,
      lines: 3,
      byStatus: { succeeded: 2, failed: 0, unreadable: 1 },
    });
  });
});

describe("listRuns", () => {
  it("orders the runs by when they were planned, not by name, and leaves out folders without a plan", async () => {
    s3Mock.on(ListObjectsV2Command, { Delimiter: "/" }).resolves({
      CommonPrefixes: [
        { Prefix: "out/runs/2026-11-30-a/" },
        { Prefix: "out/runs/manual-rerun/" },
        { Prefix: "out/runs/stray/" },
      ],
    });
    const plan = (plannedAt: string) => ({
      Body: { transformToString: async () => JSON.stringify({ plannedAt }) } as never,
    });
    s3Mock
      .on(GetObjectCommand, { Key: "out/runs/2026-11-30-a/plan.json" })
      .resolves(plan("2026-11-30T02:00:00Z"))
      .on(GetObjectCommand, { Key: "out/runs/manual-rerun/plan.json" })
      .resolves(plan("2026-12-01T09:00:00Z"))
      .on(GetObjectCommand, { Key: "out/runs/stray/plan.json" })
      .rejects(Object.assign(new Error("no"), { name: "NoSuchKey" }));
    expect((await listRuns(location)).map((r) => r.runId)).toEqual([
      "2026-11-30-a",
      "manual-rerun",
    ]);
  });
});

describe("lineMatcher", () => {
  const red90 = line("a", [
    ["red", 90],
    ["blue", 40],
  ]);
  const blue60 = line("b", [["blue", 60]]);
  const failed = line("c", [], "failed");

  it("keeps lines with any of the labels, at the confidence when given, of the status when given", () => {
    const keep = (filter: Parameters<typeof lineMatcher>[0]) =>
      [red90, blue60, failed].filter(lineMatcher(filter)).map((l) => l.key);
    expect(keep({})).toEqual(["a", "b", "c"]);
    expect(keep({ labels: ["red"] })).toEqual(["a"]);
    expect(keep({ labels: ["red", "blue"] })).toEqual(["a", "b"]);
    // The confidence applies to the named labels: blue at 40 in "a" does not count.
    expect(keep({ labels: ["blue"], minConfidence: 50 })).toEqual(["b"]);
    expect(keep({ minConfidence: 80 })).toEqual(["a"]);
    expect(keep({ status: "failed" })).toEqual(["c"]);
    expect(keep({ status: "succeeded", labels: ["Red"] })).toEqual([]);
  });
});

describe("results flags", () => {
  it("takes labels repeated or as a comma list", () => {
    expect(resultsQueryOf({ label: ["red,blue", " green "] } as never).filter.labels).toEqual([
      "red",
      "blue",
      "green",
    ]);
  });

  it("rejects bad values, naming the flag", () => {
    expect(() => resultsQueryOf({ "min-confidence": "101" })).toThrow(
      "--min-confidence must be a number from 0 to 100, got 101",
    );
    expect(() => resultsQueryOf({ "min-confidence": "" })).toThrow(/--min-confidence/);
    expect(() => resultsQueryOf({ status: "done" })).toThrow(
      "--status must be one of succeeded, failed, unreadable, got done",
    );
    expect(() => resultsQueryOf({ format: "xml" })).toThrow(
      "--format must be one of table, csv, jsonl, got xml",
    );
    expect(() => resultsQueryOf({ since: "last week" })).toThrow(/--since must be a date/);
    expect(() => resultsQueryOf({ run: "a", since: "2026-11-01" })).toThrow(
      "--run and --since are alternatives",
    );
  });
});

describe("results --format csv", () => {
  async function csvOf(lines: PartLine[]): Promise<string[]> {
    s3Mock
      .on(GetObjectCommand, { Key: "out/runs/r/plan.json" })
      .resolves({
        Body: {
          transformToString: async () => JSON.stringify({ plannedAt: "2026-11-30T02:00:00Z" }),
        } as never,
      })
      .on(ListObjectsV2Command)
      .resolves({ Contents: [{ Key: "out/runs/r/results/part-1.jsonl.gz" }] })
      .on(GetObjectCommand, { Key: "out/runs/r/results/part-1.jsonl.gz" })
      .callsFake(() => ({ Body: gzBody(lines.map((l) => JSON.stringify(l)).join("\n")) }));
    const out: string[] = [];
    const code = await runCli(
      ["results", "--run", "r", "--format", "csv", "--results-bucket", "results"],
      {
        stdout: { write: (text: string) => out.push(text) },
        stderr: { write: () => true },
        env: { AWS_REGION: "eu-west-1", RESULTS_PREFIX: "out/" },
      },
    );
    expect(code).toBe(0);
    return out.join("").trimEnd().split("\n");
  }

  it("quotes a cell that a spreadsheet would read as a formula (=, +, -, @, tab, CR first)", async () => {
    const rows = await csvOf([
      line('=HYPERLINK("http://x","y").jpg', [["red", 90]]),
      line("+1.jpg", [["@SUM(A1)", 80]]),
      line("-2.jpg", [["\tlabel", 70]]),
      line("@3.jpg", [["\rlabel", 60]]),
      line("plain/ok-4.jpg", [
        ["-minus", 50],
        ["ok", 95],
      ]),
    ]);
    const cells = (row: string | undefined) => (row ?? "").split(",").slice(1, 4);
    expect(rows[0]).toBe("run_id,key,status,labels,error,analyzed_at,model_version,etag");
    // RFC 4180 quoting still applies around the prefixed value.
    expect(rows[1]).toContain(`r,"'=HYPERLINK(""http://x"",""y"").jpg",succeeded,red:90.00,`);
    expect(cells(rows[2])).toEqual(["'+1.jpg", "succeeded", "'@SUM(A1):80.00"]);
    expect(cells(rows[3])).toEqual(["'-2.jpg", "succeeded", "'\tlabel:70.00"]);
    expect(rows[4]?.split(",").slice(1, 3)).toEqual(["'@3.jpg", "succeeded"]);
    expect(rows[4]).toContain(`"'\rlabel:60.00"`);
    // Only the first character of a cell matters: a later label is left as it is.
    expect(cells(rows[5])).toEqual(["plain/ok-4.jpg", "succeeded", "ok:95.00;-minus:50.00"]);
  });

  it("prefixes an error message that starts like a formula", async () => {
    const failed = { ...line("bad.jpg", [], "failed"), error: { name: "=cmd", message: "x" } };
    const rows = await csvOf([failed]);
    expect(rows[1]?.split(",")[4]).toBe("'=cmd: x");
  });
});
