// Must be first: silences the SDK's Node 20 notice before the SDK loads.
import "../local/quiet-sdk-notice.ts";
import { createHash } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { dirname, resolve } from "node:path";
import { DeleteObjectCommand, HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import pMap from "p-map";
import { readLedgerSnapshot } from "../../src/ledger-index.ts";
import { readLedgerSnapshotStats } from "../../src/ledger-snapshot-stats.ts";
import { planRun } from "../../src/plan.ts";
import { mergePlanShards, runPlanShard } from "../../src/plan-shard.ts";
import { startShardedPlan } from "../../src/plan-shard-steps.ts";
import { boundaryAtResult, pickBoundaries, shardRanges } from "../../src/plan-shards.ts";
import { resultKeyFor, stateFiles } from "../../src/result-keys.ts";
import { successRecord } from "../../src/results.ts";
import { parseRunInput } from "../../src/run-input.ts";
import { silentLogger, systemClock } from "../../src/runtime.ts";
import { greatestKeyWithPrefix, listObjects } from "../../src/s3-listing.ts";
import type { BatchContext } from "../../src/shapes.ts";
import { harnessCommand, numberArgument, parseCommand, runCommandLine } from "../command.ts";
import {
  LOCAL_REGION,
  localS3ClientConfig,
  PROJECT_ROOT,
  startS3Server,
} from "../local/s3-server.ts";
import { isPathSafeKey, SafeKeyStore } from "../local/s3-store.ts";

/**
 * The Plan step's listing rate, measured: seeds the embedded S3 with a large
 * backlog (tiny image objects, and a result for a share of them), then runs
 * the real Plan twice: once reading every result (the first plan), once with
 * the ledger snapshot the first one wrote (every later week), then times the
 * bare listings, which is the embedded S3's share of the time. Calibrates the
 * seconds per 1,000 listed objects that the scale-on-paper figures use.
 */

function planBenchCommand() {
  return harnessCommand("bench:plan", "Measure the Plan step's listing rate on the embedded S3.")
    .option(
      "--images <n>",
      "images in the backlog (default 100000)",
      numberArgument("images", {
        describe: "a whole number from 1 to 10000000",
        integer: true,
        min: 1,
        max: 10_000_000,
      }),
    )
    .option(
      "--results-share <f>",
      "share of them that already have a result, 0 to 1 (default 0.5)",
      numberArgument("results-share", { describe: "a number from 0 to 1", min: 0, max: 1 }),
    )
    .option(
      "--shards <n>",
      "also plan the same backlog as that many Plan shards, run one after the other (default: no sharded runs)",
      numberArgument("shards", {
        describe: "a whole number from 2 to 1000",
        integer: true,
        min: 2,
        max: 1000,
      }),
    )
    .option(
      "--data <dir>",
      "where the seeded bucket lives (default bench-results/plan-data; reused when it holds the same backlog)",
    )
    .addHelpText(
      "after",
      "\nPrints one RESULT line per Plan and writes bench-results/plan-listing.json.",
    );
}

interface PlanBenchFlags {
  images?: number;
  resultsShare?: number;
  shards?: number;
  data?: string;
}

const BUCKET = "plan-bench";
const SEED_CONCURRENCY = 32;

interface Seeded {
  images: number;
  results: number;
}

const imageKey = (i: number) =>
  `photos/cam-${String(i % 50).padStart(2, "0")}/IMG_${String(i).padStart(7, "0")}.jpg`;

/**
 * Writes one object straight into the store's folder, as the store itself
 * lays it out (the body and its MD5, which is the ETag): seeding 150,000
 * objects through HTTP takes many minutes, this takes a fraction of that.
 * Only for keys the store keeps under their own path.
 */
async function writeStoredObject(store: SafeKeyStore, key: string, body: string): Promise<string> {
  if (!isPathSafeKey(key)) throw new Error(`not a path-safe key: ${key}`);
  const path = store.getResourcePath(BUCKET, key, "object");
  await mkdir(dirname(path), { recursive: true });
  const md5 = createHash("md5").update(body).digest("hex");
  await writeFile(path, body);
  await writeFile(`${path}.md5`, md5);
  return `"${md5}"`;
}

async function seed(directory: string, wanted: Seeded): Promise<void> {
  const marker = resolve(directory, "seeded.json");
  const had = await readFile(marker, "utf8").then(
    (text) => JSON.parse(text) as Seeded,
    () => undefined,
  );
  if (had?.images === wanted.images && had.results === wanted.results) return;
  await rm(resolve(directory, BUCKET), { recursive: true, force: true });
  const store = new SafeKeyStore(directory);
  const context = {
    runId: "seed",
    projectVersionArn: "arn:aws:rekognition:us-east-1:000000000000:project/p/version/v/1",
    imagesBucket: BUCKET,
    resultsBucket: BUCKET,
    resultsPrefix: "out/",
    imageMode: "S3Object",
    perWorkerTps: 1,
    concurrency: 1,
  } satisfies BatchContext;
  const started = Date.now();
  await pMap(
    Array.from({ length: wanted.images }, (_, i) => i),
    async (i) => {
      const key = imageKey(i);
      const etag = await writeStoredObject(store, key, "img");
      if (i < wanted.results) {
        const record = successRecord({
          context,
          image: { key, size: 3, etag, lastModified: new Date(0).toISOString() },
          labels: [],
          attempts: 1,
          analyzedAt: new Date(0).toISOString(),
        });
        await writeStoredObject(store, resultKeyFor("out/", key), JSON.stringify(record));
      }
      if ((i + 1) % 20_000 === 0) {
        process.stdout.write(
          `  seeded ${i + 1} images (${Math.round((Date.now() - started) / 1000)} s)\n`,
        );
      }
    },
    { concurrency: SEED_CONCURRENCY },
  );
  await writeFile(marker, `${JSON.stringify(wanted)}\n`);
  process.stdout.write(`  seeded in ${Math.round((Date.now() - started) / 1000)} s\n`);
}

interface PlanMeasure {
  name: string;
  images: number;
  results: number;
  listed: number;
  seconds: number;
  cpuSeconds: number;
  secondsPerThousandListed: number;
  peakRssMb: number;
  peakHeapMb: number;
  /** Sharded runs: how many shards, the slowest shard's seconds and the merge step's. */
  shards?: number;
  slowestShardSeconds?: number;
  mergeSeconds?: number;
  /** The Plan's wall time on Lambdas, shards in parallel: decide + slowest shard + merge. */
  parallelSeconds?: number;
}

function benchInput() {
  return parseRunInput(
    {
      imagesBucket: BUCKET,
      imagesPrefix: "photos/",
      resultsBucket: BUCKET,
      resultsPrefix: "out/",
      projectVersionArn: "arn:aws:rekognition:us-east-1:000000000000:project/p/version/v/1",
      tpsPerUnit: 5,
    },
    {},
  );
}

/** Samples the process's memory until stopped; the peaks in MB. */
function memoryPeaks() {
  let peakRss = 0;
  let peakHeap = 0;
  const sample = () => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  };
  const sampler = setInterval(sample, 100);
  return () => {
    clearInterval(sampler);
    sample();
    return { peakRssMb: peakRss / 2 ** 20, peakHeapMb: peakHeap / 2 ** 20 };
  };
}

/** Drops the ledger snapshot, so that the next Plan reads every result. */
async function dropSnapshot(s3: S3Client): Promise<void> {
  for (const key of [stateFiles.ledgerIndex("out/"), stateFiles.ledgerIndexStats("out/")]) {
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
  }
}

/**
 * The sharded Plan, its steps run one after the other in this process (on
 * AWS the shards run in parallel Lambdas): cut at the snapshot's keys when
 * there is a snapshot, else at the camera folders, into `shards` ranges.
 */
async function measureShardedPlan(
  s3: S3Client,
  name: string,
  wanted: Seeded,
  shards: number,
): Promise<PlanMeasure> {
  const input = benchInput();
  const stop = memoryPeaks();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const logger = silentLogger;
  const stats = await readLedgerSnapshotStats({
    s3,
    bucket: BUCKET,
    resultsPrefix: "out/",
    logger,
  });
  const candidates = stats?.samples.length
    ? stats.samples.flatMap((k) => boundaryAtResult(k, "out/", "photos/") ?? [])
    : Array.from({ length: 50 }, (_, i) => `photos/cam-${String(i).padStart(2, "0")}/`).slice(1);
  const runId = `bench-${name}`;
  const job = await startShardedPlan({
    s3,
    input,
    executionId: "local:bench",
    clock: systemClock,
    decision: { boundaries: pickBoundaries(candidates, shards), reason: "bench" },
  });
  const decided = performance.now();
  let slowest = 0;
  for (const shard of shardRanges(pickBoundaries(candidates, shards))) {
    const summary = await runPlanShard({
      s3,
      input,
      runId: job.runId,
      shard,
      clock: systemClock,
      logger,
    });
    slowest = Math.max(slowest, summary.seconds);
  }
  const merging = performance.now();
  const plan = await mergePlanShards({
    s3,
    input,
    runId: job.runId,
    executionId: "local:bench",
    plannedAt: job.plannedAt,
    shards: job.shards,
    logger,
  });
  const ended = performance.now();
  const peaks = stop();
  if (plan.counts.listed !== wanted.images || plan.counts.alreadyDone !== wanted.results) {
    throw new Error(
      `the sharded plan ${runId} counted ${JSON.stringify(plan.counts)}, not the seeded backlog`,
    );
  }
  const mergeSeconds = (ended - merging) / 1000;
  return {
    ...planMeasure(name, wanted, (ended - started) / 1000, cpuBefore, peaks),
    shards: job.shards,
    slowestShardSeconds: slowest,
    mergeSeconds,
    parallelSeconds: (decided - started) / 1000 + slowest + mergeSeconds,
  };
}

/**
 * What a Plan shard pays for the snapshot before its range: the whole
 * snapshot read and parsed with nothing kept (the last shard's case), in
 * seconds per 1,000 entries, and the snapshot's bytes per entry.
 */
async function measureSnapshotRead(
  s3: S3Client,
): Promise<{ entries: number; seconds: number; cpuSeconds: number; bytesPerEntry: number }> {
  const key = stateFiles.ledgerIndex("out/");
  const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  let entries = 0;
  const counting = {
    s3,
    bucket: BUCKET,
    resultsPrefix: "out/",
    logger: silentLogger,
    range: { after: greatestKeyWithPrefix("out/results/") },
  };
  for await (const _ of readLedgerSnapshot(counting)) entries += 1;
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const stats = await readLedgerSnapshotStats({ ...counting });
  const total = stats?.entries ?? 0;
  if (entries !== 0 || total === 0) throw new Error("the snapshot read kept entries or found none");
  return {
    entries: total,
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    bytesPerEntry: (head.ContentLength ?? 0) / total,
  };
}

async function measurePlan(s3: S3Client, name: string, wanted: Seeded): Promise<PlanMeasure> {
  const input = benchInput();
  const stopSampling = memoryPeaks();
  let peaks = { peakRssMb: 0, peakHeapMb: 0 };
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  try {
    const plan = await planRun({
      s3,
      input,
      executionId: "local:bench",
      runId: `bench-${name}`,
      clock: systemClock,
      logger: silentLogger,
    });
    if (plan.counts.listed !== wanted.images || plan.counts.alreadyDone !== wanted.results) {
      throw new Error(`the plan counted ${JSON.stringify(plan.counts)}, not the seeded backlog`);
    }
  } finally {
    peaks = stopSampling();
  }
  return planMeasure(name, wanted, (performance.now() - started) / 1000, cpuBefore, peaks);
}

/** One Plan's figures: its time, its CPU since `cpuBefore` and its memory peaks. */
function planMeasure(
  name: string,
  wanted: Seeded,
  seconds: number,
  cpuBefore: NodeJS.CpuUsage,
  peaks: { peakRssMb: number; peakHeapMb: number },
): PlanMeasure {
  const cpu = process.cpuUsage(cpuBefore);
  const listed = wanted.images + wanted.results;
  return {
    name,
    ...wanted,
    listed,
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    secondsPerThousandListed: seconds / (listed / 1000),
    ...peaks,
  };
}

/** Only the two listings, nothing done with them: what the S3 server's side costs. */
async function measureListing(s3: S3Client, wanted: Seeded): Promise<PlanMeasure> {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  let listed = 0;
  for (const prefix of ["photos/", "out/results/"]) {
    for await (const _ of listObjects(s3, { bucket: BUCKET, prefix })) listed += 1;
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const m = process.memoryUsage();
  return {
    name: "list-only",
    ...wanted,
    listed,
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    secondsPerThousandListed: seconds / (listed / 1000),
    peakRssMb: m.rss / 2 ** 20,
    peakHeapMb: m.heapUsed / 2 ** 20,
  };
}

async function main(argv: string[]): Promise<number> {
  const values = parseCommand<PlanBenchFlags>(planBenchCommand(), argv);
  if (!values) return 0;
  const images = values.images ?? 100_000;
  const share = values.resultsShare ?? 0.5;
  process.env.LOG_LEVEL ??= "silent";
  const outputDirectory = resolve(PROJECT_ROOT, "bench-results");
  const directory = resolve(values.data ?? resolve(outputDirectory, "plan-data"));
  await mkdir(directory, { recursive: true });
  const wanted = { images, results: Math.round(images * share) };
  process.stdout.write(`Seeding ${images} images, ${wanted.results} with a result...\n`);
  await seed(directory, wanted);
  const server = await startS3Server({ directory, buckets: [BUCKET] });
  const s3 = new S3Client({ ...localS3ClientConfig(server.endpoint), region: LOCAL_REGION });
  const load = loadavg();
  try {
    const measures: PlanMeasure[] = [];
    // The first plan reads every result; the second reuses the snapshot the first wrote.
    // With --shards, the same two plans again, sharded, from no snapshot.
    const names = ["first", "snapshot", "list-only"];
    if (values.shards) names.push("sharded-first", "sharded-snapshot");
    for (const name of names) {
      if (name === "first" || name === "sharded-first") await dropSnapshot(s3);
      const m =
        name === "list-only"
          ? await measureListing(s3, wanted)
          : name.startsWith("sharded-")
            ? await measureShardedPlan(s3, name, wanted, values.shards as number)
            : await measurePlan(s3, name, wanted);
      measures.push(m);
      const sharded =
        m.shards === undefined
          ? ""
          : ` shards=${m.shards} slowestShardSeconds=${m.slowestShardSeconds?.toFixed(1)} ` +
            `mergeSeconds=${m.mergeSeconds?.toFixed(1)} parallelSeconds=${m.parallelSeconds?.toFixed(1)}`;
      process.stdout.write(
        `RESULT scenario=plan-listing plan=${m.name} images=${m.images} results=${m.results} ` +
          `seconds=${m.seconds.toFixed(1)} cpuSeconds=${m.cpuSeconds.toFixed(1)} ` +
          `secondsPerThousandListed=${m.secondsPerThousandListed.toFixed(3)} ` +
          `peakRssMb=${Math.round(m.peakRssMb)} peakHeapMb=${Math.round(m.peakHeapMb)}${sharded}\n`,
      );
    }
    const snapshotRead = values.shards ? await measureSnapshotRead(s3) : undefined;
    if (snapshotRead) {
      process.stdout.write(
        `RESULT scenario=plan-listing plan=snapshot-read entries=${snapshotRead.entries} ` +
          `seconds=${snapshotRead.seconds.toFixed(2)} cpuSeconds=${snapshotRead.cpuSeconds.toFixed(2)} ` +
          `cpuSecondsPerThousandEntries=${((snapshotRead.cpuSeconds / snapshotRead.entries) * 1000).toFixed(4)} ` +
          `bytesPerEntry=${snapshotRead.bytesPerEntry.toFixed(1)}\n`,
      );
    }
    await mkdir(outputDirectory, { recursive: true });
    await writeFile(
      resolve(outputDirectory, "plan-listing.json"),
      `${JSON.stringify(
        {
          generatedAt: new Date().toISOString(),
          machine: { cpus: cpus().length, loadAverageBefore: load, loadAverageAfter: loadavg() },
          measures,
          ...(snapshotRead ? { snapshotRead } : {}),
        },
        null,
        2,
      )}\n`,
    );
    return 0;
  } finally {
    s3.destroy();
    await server.close();
  }
}

runCommandLine(main, { name: "npm run bench:plan" });
