import { createHash } from "node:crypto";

/**
 * Where everything lives under the results prefix. One place for the layout:
 *
 *   <prefix>results/<image key, escaped>.json    one ledger entry per image
 *   <prefix>runs/<runId>/manifest.jsonl           the pending list the Map reads
 *   <prefix>runs/<runId>/skipped.jsonl            every skipped object with its reason
 *   <prefix>runs/<runId>/plan.json                the plan (sizing, cost table)
 *   <prefix>runs/<runId>/plan-shards/             a sharded Plan's ranges and each shard's lists
 *   <prefix>runs/<runId>/map/                     the Distributed Map's ResultWriter output
 *   <prefix>runs/<runId>/results/part-*.jsonl.gz  the run's results, one part per batch (Athena reads these)
 *   <prefix>runs/<runId>/summary.json|report.html the run's report
 *   <prefix>state/lease.json                      who owns the running model
 *   <prefix>state/learned-tps.json                TPS per unit measured by the last run
 *   <prefix>state/heartbeats/<runId>.json         the run's last sign of progress (for the reaper)
 *   <prefix>state/ledger-index.jsonl.gz           what each ledger entry says, as of the last plan
 *   <prefix>state/ledger-index.stats.json         its entry count and evenly spaced keys
 *
 * Image results sit under their own `results/` folder so that no image key can
 * collide with the job's own files, whatever it is named.
 */

/** S3's limit on a key, in UTF-8 bytes. */
export const MAX_S3_KEY_BYTES = 1024;

/** Joins a prefix and a relative path; the prefix is "" or ends with "/". */
export function normalizePrefix(prefix: string): string {
  if (prefix === "" || prefix.endsWith("/")) return prefix;
  return `${prefix}/`;
}

/**
 * Escapes an image key so that, appended to a prefix, it can never climb out
 * of it in any consumer that maps keys to paths (`..`, `.` and empty
 * segments), and stays one-to-one: `%` is escaped first, so every other `%XX`
 * below is ours.
 */
export function escapeKeyPath(imageKey: string): string {
  return imageKey
    .split("/")
    .map((segment) => {
      const escaped = segment.replaceAll("%", "%25");
      if (escaped === "") return "%00";
      if (escaped === ".") return "%2E";
      if (escaped === "..") return "%2E%2E";
      return escaped;
    })
    .join("/");
}

/**
 * The ledger key of an image. Keys too long for S3 once prefixed fall back to
 * a digest (the record inside still holds the full image key).
 */
export function resultKeyFor(resultsPrefix: string, imageKey: string): string {
  const base = `${normalizePrefix(resultsPrefix)}results/`;
  const key = `${base}${escapeKeyPath(imageKey)}.json`;
  if (Buffer.byteLength(key, "utf8") <= MAX_S3_KEY_BYTES) return key;
  const digest = createHash("sha256").update(imageKey, "utf8").digest("hex");
  return `${base}_long-keys/${digest}.json`;
}

/** The folder holding every image result. */
export function resultsFolder(resultsPrefix: string): string {
  return `${normalizePrefix(resultsPrefix)}results/`;
}

/** The folder of one run's own files. */
export function runFolder(resultsPrefix: string, runId: string): string {
  return `${normalizePrefix(resultsPrefix)}runs/${runId}/`;
}

/**
 * The folders the job owns under the results prefix. Images may contain them
 * (results in the same bucket, under the images prefix): the backlog leaves
 * them out. Images may not lie inside one.
 */
export function jobFolders(resultsPrefix: string): string[] {
  const prefix = normalizePrefix(resultsPrefix);
  return [`${prefix}results/`, `${prefix}runs/`, `${prefix}state/`];
}

export const runFiles = {
  manifest: (resultsPrefix: string, runId: string) =>
    `${runFolder(resultsPrefix, runId)}manifest.jsonl`,
  skipped: (resultsPrefix: string, runId: string) =>
    `${runFolder(resultsPrefix, runId)}skipped.jsonl`,
  plan: (resultsPrefix: string, runId: string) => `${runFolder(resultsPrefix, runId)}plan.json`,
  /** A sharded Plan's key ranges (the shard Map's items) and each shard's own files. */
  planShards: (resultsPrefix: string, runId: string) =>
    `${runFolder(resultsPrefix, runId)}plan-shards/shards.json`,
  planShardFile: (
    resultsPrefix: string,
    runId: string,
    index: number,
    file: "manifest.jsonl" | "skipped.jsonl" | "ledger.jsonl.gz" | "summary.json",
  ) => `${runFolder(resultsPrefix, runId)}plan-shards/${String(index).padStart(5, "0")}/${file}`,
  mapResults: (resultsPrefix: string, runId: string) => `${runFolder(resultsPrefix, runId)}map`,
  /** The folder of the run's result parts; nothing else may go in it (Athena reads every file). */
  resultParts: (resultsPrefix: string, runId: string) =>
    `${runFolder(resultsPrefix, runId)}results/`,
  summary: (resultsPrefix: string, runId: string) =>
    `${runFolder(resultsPrefix, runId)}summary.json`,
  report: (resultsPrefix: string, runId: string) => `${runFolder(resultsPrefix, runId)}report.html`,
};

export const stateFiles = {
  lease: (resultsPrefix: string) => `${normalizePrefix(resultsPrefix)}state/lease.json`,
  learnedTps: (resultsPrefix: string) => `${normalizePrefix(resultsPrefix)}state/learned-tps.json`,
  /** One object per run, so runs never overwrite each other's progress. */
  heartbeat: (resultsPrefix: string, runId: string) =>
    `${normalizePrefix(resultsPrefix)}state/heartbeats/${runId}.json`,
  ledgerIndex: (resultsPrefix: string) =>
    `${normalizePrefix(resultsPrefix)}state/ledger-index.jsonl.gz`,
  /** The snapshot's entry count and evenly spaced keys: where the next Plan cuts its shards. */
  ledgerIndexStats: (resultsPrefix: string) =>
    `${normalizePrefix(resultsPrefix)}state/ledger-index.stats.json`,
};
