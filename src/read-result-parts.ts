import { paginateListObjectsV2, type S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { readJsonLines } from "./json-lines.ts";
import { normalizePrefix, runFiles } from "./result-keys.ts";
import { type PartLine, type PartStatus, partLineSchema } from "./result-parts.ts";
import { getObjectTextIfExists } from "./s3-json.ts";
import { listObjects } from "./s3-listing.ts";

/**
 * Reading the runs' result parts back, as a stream: S3 body, gunzip, lines,
 * one parsed line at a time. Nothing holds more than a chunk and the line
 * being read, so a million-line run is read in constant memory.
 */

/** Where the parts are: the deployment's results bucket and prefix. */
export interface PartsLocation {
  s3: S3Client;
  bucket: string;
  resultsPrefix: string;
}

/** A line longer than this is not one this job wrote (a line holds at most a few hundred labels). */
export const MAX_PART_LINE_BYTES = 4 * 1024 * 1024;

/** The run ids with a folder under `<prefix>runs/`, in key order. */
export async function listRunIds(location: PartsLocation): Promise<string[]> {
  const runsPrefix = `${normalizePrefix(location.resultsPrefix)}runs/`;
  const ids: string[] = [];
  const pages = paginateListObjectsV2(
    { client: location.s3 },
    { Bucket: location.bucket, Prefix: runsPrefix, Delimiter: "/" },
  );
  for await (const page of pages) {
    for (const folder of page.CommonPrefixes ?? []) {
      const id = folder.Prefix?.slice(runsPrefix.length, -1);
      if (id) ids.push(id);
    }
  }
  return ids;
}

const plannedAtSchema = z.object({ plannedAt: z.string() });

/** When the run was planned (its plan.json), or undefined when it has no readable plan. */
export async function runPlannedAt(
  location: PartsLocation,
  runId: string,
): Promise<string | undefined> {
  const key = runFiles.plan(location.resultsPrefix, runId);
  const text = await getObjectTextIfExists({ s3: location.s3, bucket: location.bucket, key });
  if (text === undefined) return undefined;
  try {
    const parsed = plannedAtSchema.safeParse(JSON.parse(text));
    return parsed.success && !Number.isNaN(Date.parse(parsed.data.plannedAt))
      ? parsed.data.plannedAt
      : undefined;
  } catch {
    return undefined;
  }
}

export interface RunRef {
  runId: string;
  plannedAt: string;
}

/**
 * Every run with a plan, oldest first by the time it was planned (run ids
 * given with `--run-id` need not sort by time). Folders without a readable
 * plan.json are not runs of this job and are left out.
 */
export async function listRuns(location: PartsLocation): Promise<RunRef[]> {
  const runs: RunRef[] = [];
  for (const runId of await listRunIds(location)) {
    const plannedAt = await runPlannedAt(location, runId);
    if (plannedAt !== undefined) runs.push({ runId, plannedAt });
  }
  return runs.sort(
    (a, b) => Date.parse(a.plannedAt) - Date.parse(b.plannedAt) || a.runId.localeCompare(b.runId),
  );
}

/** The keys of a run's parts (every `.gz` in its results folder), in key order. */
export async function listPartKeys(location: PartsLocation, runId: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of listObjects(location.s3, {
    bucket: location.bucket,
    prefix: runFiles.resultParts(location.resultsPrefix, runId),
  })) {
    if (object.key.endsWith(".gz")) keys.push(object.key);
  }
  return keys;
}

/** The lines of one part, parsed and checked; an error names the object and the line. */
export function readPart(location: PartsLocation, key: string): AsyncGenerator<PartLine> {
  return readJsonLines(
    { s3: location.s3, bucket: location.bucket, key },
    {
      gzip: true,
      schema: partLineSchema,
      maxLineBytes: MAX_PART_LINE_BYTES,
      lineName: "a result line",
    },
  );
}

/** Every line of a run's parts, part after part. */
export async function* readRunLines(
  location: PartsLocation,
  runId: string,
): AsyncGenerator<PartLine> {
  for (const key of await listPartKeys(location, runId)) yield* readPart(location, key);
}

/** What a run's parts hold, counted as they are read. */
export interface PartCounts {
  prefix: string;
  parts: number;
  lines: number;
  byStatus: Record<PartStatus, number>;
}

export async function countRunParts(location: PartsLocation, runId: string): Promise<PartCounts> {
  const keys = await listPartKeys(location, runId);
  const counts: PartCounts = {
    prefix: runFiles.resultParts(location.resultsPrefix, runId),
    parts: keys.length,
    lines: 0,
    byStatus: { succeeded: 0, failed: 0, unreadable: 0 },
  };
  for (const key of keys) {
    for await (const line of readPart(location, key)) {
      counts.lines += 1;
      counts.byStatus[line.status] += 1;
    }
  }
  return counts;
}

export interface LineFilter {
  /** Keep lines with a label of one of these names (exact, as Rekognition names them). */
  labels?: readonly string[];
  /** Keep lines with a label (of those names, when given) at this confidence or more. */
  minConfidence?: number;
  status?: PartStatus;
}

/** The test a line must pass to be kept. */
export function lineMatcher(filter: LineFilter): (line: PartLine) => boolean {
  const names = filter.labels && filter.labels.length > 0 ? new Set(filter.labels) : undefined;
  const min = filter.minConfidence;
  const byLabel = names !== undefined || min !== undefined;
  return (line) => {
    if (filter.status !== undefined && line.status !== filter.status) return false;
    if (!byLabel) return true;
    return line.labels.some(
      (label) =>
        (names === undefined || names.has(label.name)) &&
        (min === undefined || label.confidence >= min),
    );
  };
}
