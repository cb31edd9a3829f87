/**
 * `results`: the runs' result parts, filtered, as a table, CSV or JSON Lines.
 * Streams from S3 to stdout (body, gunzip, lines, filter, writer), waiting on
 * stdout when it is full, so a million-line run never sits in memory.
 */
import { once } from "node:events";
import {
  type LineFilter,
  lineMatcher,
  listRuns,
  type PartsLocation,
  type RunRef,
  readRunLines,
  runPlannedAt,
} from "../read-result-parts.ts";
import type { PartLine, PartStatus } from "../result-parts.ts";
import { collect, UsageError } from "./args.ts";
import type { CliCommand, CliContext, CommandOutcome } from "./context.ts";
import { leaseLocationOf } from "./status.ts";

export const results: CliCommand = {
  name: "results",
  summary: "the latest run's results (or --run, --since), filtered, as a table, CSV or JSON Lines",
  details: `Reads the result parts of the latest run (runs/<runId>/results/*.jsonl.gz), one row per image.
A summary (runs, rows) goes to stderr, so stdout holds only the rows; --json is refused
(--format jsonl writes one line of the part per image, with run_id).`,
  options(command) {
    command
      .option("--run <id>", "that run instead of the latest")
      .option(
        "--since <date>",
        "every run planned at or after the date (ISO 8601, e.g. 2026-11-01)",
      )
      .option(
        "--label <name>",
        "images with this label (repeat it, or a comma list, for any of several)",
        collect,
      )
      .option(
        "--min-confidence <n>",
        "images with a label (of those named) at n% confidence or more",
      )
      .option(
        "--status <status>",
        "succeeded, failed (the image is bad) or unreadable (tried again next run)",
      )
      .option("--format <format>", "table (default), csv or jsonl");
  },
  run: resultsCommand,
};

type Format = "table" | "csv" | "jsonl";
const FORMATS: readonly Format[] = ["table", "csv", "jsonl"];
const STATUSES: readonly PartStatus[] = ["succeeded", "failed", "unreadable"];

export interface ResultsQuery {
  run?: string;
  since?: string;
  filter: LineFilter;
  format: Format;
}

/** The command's flags, checked. */
export function resultsQueryOf(values: CliContext["args"]["values"]): ResultsQuery {
  const text = (name: string) => {
    const value = values[name];
    return typeof value === "string" ? value : undefined;
  };
  const run = text("run");
  const since = text("since");
  if (run !== undefined && since !== undefined) {
    throw new UsageError("--run and --since are alternatives: pass one of them");
  }
  if (since !== undefined && Number.isNaN(Date.parse(since))) {
    throw new UsageError(`--since must be a date (ISO 8601, e.g. 2026-11-01), got ${since}`);
  }
  const rawLabels = values.label as unknown;
  const labels = (Array.isArray(rawLabels) ? rawLabels : rawLabels === undefined ? [] : [rawLabels])
    .flatMap((value) => String(value).split(","))
    .map((name) => name.trim())
    .filter((name) => name !== "");
  const rawMin = text("min-confidence");
  const minConfidence = rawMin === undefined ? undefined : Number(rawMin);
  if (
    minConfidence !== undefined &&
    (rawMin?.trim() === "" ||
      !Number.isFinite(minConfidence) ||
      minConfidence < 0 ||
      minConfidence > 100)
  ) {
    throw new UsageError(`--min-confidence must be a number from 0 to 100, got ${rawMin}`);
  }
  const status = text("status");
  if (status !== undefined && !STATUSES.includes(status as PartStatus)) {
    throw new UsageError(`--status must be one of ${STATUSES.join(", ")}, got ${status}`);
  }
  const format = text("format") ?? "table";
  if (!FORMATS.includes(format as Format)) {
    throw new UsageError(`--format must be one of ${FORMATS.join(", ")}, got ${format}`);
  }
  return {
    ...(run !== undefined ? { run } : {}),
    ...(since !== undefined ? { since } : {}),
    filter: {
      ...(labels.length > 0 ? { labels } : {}),
      ...(minConfidence !== undefined ? { minConfidence } : {}),
      ...(status !== undefined ? { status: status as PartStatus } : {}),
    },
    format: format as Format,
  };
}

/** The runs to read: the one named, those since the date, or the latest. */
async function runsToRead(location: PartsLocation, query: ResultsQuery): Promise<RunRef[]> {
  const where = `s3://${location.bucket}/${location.resultsPrefix}runs/`;
  if (query.run !== undefined) {
    const plannedAt = await runPlannedAt(location, query.run);
    if (plannedAt === undefined) throw new Error(`no run ${query.run} under ${where}`);
    return [{ runId: query.run, plannedAt }];
  }
  const runs = await listRuns(location);
  if (query.since !== undefined) {
    const since = Date.parse(query.since);
    return runs.filter((run) => Date.parse(run.plannedAt) >= since);
  }
  const latest = runs.at(-1);
  if (!latest) throw new Error(`no runs under ${where}`);
  return [latest];
}

/**
 * A CSV cell: a value a spreadsheet would read as a formula (first character
 * =, +, -, @, tab or CR, as OWASP lists for CSV injection) gets a leading
 * single quote, so keys and labels that anyone could name stay text; then
 * RFC 4180 quoting.
 */
function csvField(value: string): string {
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const CSV_HEADER = "run_id,key,status,labels,error,analyzed_at,model_version,etag";

/** Labels as `name:confidence` joined by `;`, most confident first. */
function labelsText(line: PartLine): string {
  return [...line.labels]
    .sort((a, b) => b.confidence - a.confidence)
    .map((label) => `${label.name}:${label.confidence.toFixed(2)}`)
    .join(";");
}

function csvRow(runId: string, line: PartLine): string {
  return [
    runId,
    line.key,
    line.status,
    labelsText(line),
    line.error ? `${line.error.name}: ${line.error.message}` : "",
    line.analyzed_at,
    line.model_version,
    line.etag,
  ]
    .map(csvField)
    .join(",");
}

/** Table columns: fixed widths, so rows print as they come (long keys are cut from the left). */
const KEY_WIDTH = 48;
function cell(text: string, width: number): string {
  const cut = text.length > width ? `…${text.slice(text.length - width + 1)}` : text;
  return cut.padEnd(width);
}
const TABLE_HEADER = `${cell("KEY", KEY_WIDTH)}  ${cell("STATUS", 10)}  LABELS`;

function tableRow(line: PartLine): string {
  const labels = line.error
    ? `${line.error.name}: ${line.error.message}`
    : [...line.labels]
        .sort((a, b) => b.confidence - a.confidence)
        .map((label) => `${label.name} ${label.confidence.toFixed(1)}%`)
        .join(", ");
  return `${cell(line.key, KEY_WIDTH)}  ${cell(line.status, 10)}  ${labels}`;
}

/** Writes to stdout in chunks, waiting when the stream says it is full. */
class OutputWriter {
  private buffer: string[] = [];
  private size = 0;
  constructor(private readonly stdout: CliContext["io"]["stdout"]) {}

  async line(text: string): Promise<void> {
    this.buffer.push(text, "\n");
    this.size += text.length + 1;
    if (this.size >= 64 * 1024) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.size === 0) return;
    const chunk = this.buffer.join("");
    this.buffer = [];
    this.size = 0;
    const ok = this.stdout.write(chunk);
    const stream = this.stdout as { once?: unknown };
    if (ok === false && typeof stream.once === "function") {
      await once(this.stdout as unknown as NodeJS.EventEmitter, "drain");
    }
  }
}

export async function resultsCommand(ctx: CliContext): Promise<CommandOutcome> {
  if (ctx.json) throw new UsageError("results writes JSON Lines with --format jsonl, not --json");
  const query = resultsQueryOf(ctx.args.values);
  const where = leaseLocationOf(ctx);
  if (!where) {
    throw new UsageError(
      "no results bucket: pass --results-bucket or set RESULTS_BUCKET (or IMAGES_BUCKET)",
    );
  }
  const location: PartsLocation = {
    s3: ctx.clients.s3,
    bucket: where.resultsBucket,
    resultsPrefix: where.resultsPrefix,
  };
  const runs = await runsToRead(location, query);
  const matches = lineMatcher(query.filter);
  const out = new OutputWriter(ctx.io.stdout);
  if (query.format === "csv") await out.line(CSV_HEADER);
  if (query.format === "table") await out.line(TABLE_HEADER);
  let read = 0;
  let shown = 0;
  for (const run of runs) {
    for await (const line of readRunLines(location, run.runId)) {
      read += 1;
      if (!matches(line)) continue;
      shown += 1;
      if (query.format === "csv") await out.line(csvRow(run.runId, line));
      else if (query.format === "jsonl")
        await out.line(JSON.stringify({ run_id: run.runId, ...line }));
      else await out.line(tableRow(line));
    }
  }
  await out.flush();
  const runNames = runs.length === 1 ? `run ${runs[0]?.runId}` : `${runs.length} runs`;
  ctx.io.stderr.write(`${shown} of ${read} images from ${runNames}\n`);
  return {
    exitCode: 0,
    data: { runs: runs.map((r) => r.runId), read, shown },
    text: "",
    streamed: true,
  };
}
