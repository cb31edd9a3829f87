// Must be first: silences the SDK's Node 20 notice before the SDK loads.
import "./local/quiet-sdk-notice.ts";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import pMap from "p-map";
import * as processBatchLambda from "../functions/process-batch.ts";
import { resultKeyFor } from "../src/result-keys.ts";
import {
  harnessCommand,
  numberArgument,
  parseCommand,
  runCommandLine,
  wholeNumber,
} from "./command.ts";
import { crashPartWay } from "./local/crash-injection.ts";
import { runLocalJob } from "./local/local-job.ts";
import { LOCAL_DEFAULTS, type LocalStack, startLocalStack } from "./local/local-stack.ts";
import { reconcile } from "./local/reconcile.ts";
import {
  type ImageSpec,
  PALETTE_COLOURS,
  renderSampleImage,
  seededRandom,
  writeSampleImages,
} from "./local/sample-images.ts";
import type { LocalHandler, LocalLambdaContext } from "./local/workflow/index.ts";

/**
 * The soak: tens of thousands of images through the real workflow on the
 * local stack, with faults from the fault matrix switched on at random
 * (throttling storms, lost units and zones, 500s, dropped connections,
 * crashed batches, images overwritten while the run analyses them), then
 * corrupt ledger entries, and a second run that must pick up exactly the
 * replaced images, the corrupt entries and any image that could not be read.
 * Ends with an exact reconciliation read straight from S3 (every image's
 * result is for its current version) and the model stopped. Exit code 0 only
 * when all of that holds.
 */

function soakCommand() {
  return harnessCommand(
    "soak",
    "Tens of thousands of images through the real workflow on the local stack with random faults, a second run, and an exact reconciliation. Exit code 0 only when it all holds.",
  )
    .option(
      "--images <n>",
      "images to analyse",
      numberArgument("images", {
        ...wholeNumber(10_000_000),
        min: 1,
        describe: "a whole number from 1 to 10000000",
      }),
      20_000,
    )
    .option(
      "--seed <n>",
      "seeds the image keys and the fault schedule",
      numberArgument("seed", {
        describe: "a whole number",
        integer: true,
        min: -(2 ** 31),
        max: 2 ** 31 - 1,
      }),
      1,
    )
    .option("--data <dir>", "data folder (default: a new temporary folder, deleted afterwards)");
}

/** Distinct small images whose bytes are reused across keys: rendering 20,000 would dominate the soak. */
const TEMPLATES = 24;

interface Template {
  body: Buffer;
  format: "png" | "jpeg";
}

/** A seeded image: its key and the template its bytes came from. */
interface Seeded {
  key: string;
  template: number;
}

async function seed(
  stack: LocalStack,
  count: number,
  random: () => number,
): Promise<{ templates: Template[]; seeded: Seeded[] }> {
  const seeded: Seeded[] = [];
  const templates: Template[] = await Promise.all(
    Array.from({ length: TEMPLATES }, (_, index) => {
      const spec: ImageSpec = {
        width: 64 + 16 * (index % 4),
        height: 64 + 16 * (index % 3),
        format: index % 3 === 0 ? "png" : "jpeg",
        colours: [{ colour: PALETTE_COLOURS[index % PALETTE_COLOURS.length] ?? "red", share: 1 }],
      };
      return renderSampleImage(spec).then((body) => ({ body, format: spec.format }));
    }),
  );
  let done = 0;
  await pMap(
    Array.from({ length: count }, (_, index) => index),
    async (index) => {
      const templateIndex = random() % TEMPLATES;
      const template = templates[templateIndex] ?? templates[0];
      if (!template) return;
      const folder = `batch-${String(Math.floor(index / 1000)).padStart(3, "0")}`;
      const name = `img-${String(index).padStart(6, "0")}.${template.format === "png" ? "png" : "jpg"}`;
      const key = `${LOCAL_DEFAULTS.imagesPrefix}${folder}/${name}`;
      await stack.s3.send(
        new PutObjectCommand({ Bucket: stack.imagesBucket, Key: key, Body: template.body }),
      );
      seeded.push({ key, template: templateIndex });
      done += 1;
      if (done % 5000 === 0) console.log(`  seeded ${done.toLocaleString("en-US")} images`);
    },
    { concurrency: 16 },
  );
  // The poison objects of the sample set, with awkward keys: they must end failed or skipped.
  await writeSampleImages({
    s3: stack.s3,
    bucket: stack.imagesBucket,
    prefix: LOCAL_DEFAULTS.imagesPrefix,
    count: 5,
    oddKeys: true,
    largeImages: 0,
    badObjects: true,
  });
  return { templates, seeded };
}

/**
 * Replaces one seeded image with other bytes of the same format (a template
 * 3 further on: same format, different colours, so a different ETag).
 */
async function overwrite(
  s3: S3Client,
  bucket: string,
  image: Seeded,
  templates: Template[],
): Promise<void> {
  const next = (image.template + 3) % TEMPLATES;
  const template = templates[next];
  if (!template) return;
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: image.key, Body: template.body }));
  image.template = next;
}

/** The images overwritten during a run, and the writes still landing. */
interface Overwrites {
  seeded: Seeded[];
  templates: Template[];
  done: Set<string>;
  landing: Promise<unknown>[];
}

/** Bodies of ledger entries that are not records: not JSON, another shape, empty, too large. */
const CORRUPT_BODIES = [
  () => "not json {",
  () => JSON.stringify({ status: "succeeded", labels: [] }),
  () => "",
  () => "x".repeat(2 * 1024 * 1024),
];

/**
 * One fault of the matrix, switched on before a batch; `undo` (if any) ends it
 * a few batches later, as an outage ends. Lost units are replaced by the
 * emulator itself.
 */
interface Fault {
  name: string;
  apply(stack: LocalStack, arn: string): string;
  undo?(stack: LocalStack, arn: string): void;
}

const FAULTS: Fault[] = [
  {
    name: "throttling storm (capacity x0.3)",
    apply: (stack, arn) => {
      stack.emulator.admin.setCapacityFactor(arn, 0.3);
      return "throttling storm (capacity x0.3)";
    },
    undo: (stack, arn) => stack.emulator.admin.setCapacityFactor(arn, 1),
  },
  {
    name: "one unit lost",
    apply: (stack, arn) => `unit ${stack.emulator.admin.failUnit(arn).id} lost`,
  },
  {
    name: "zone lost",
    apply: (stack) => {
      const zone = stack.emulator.admin.state().availabilityZones.find((z) => z.up)?.name;
      if (zone) stack.emulator.admin.failZone(zone);
      return `zone ${zone} lost`;
    },
    undo: (stack) => {
      for (const zone of stack.emulator.admin.state().availabilityZones) {
        if (!zone.up) stack.emulator.admin.restoreZone(zone.name);
      }
    },
  },
];

/**
 * The processBatch Lambda with random faults before some invocations, and some
 * invocations crashing half-way. With `overwrites`, some invocations also
 * replace a few random images with new bytes while they run (the plan listed
 * the old version; some of them may be in flight in this very batch).
 */
function faultyProcessBatch(
  stack: LocalStack,
  arn: string,
  random: () => number,
  log: string[],
  overwrites?: Overwrites,
): LocalHandler {
  const real = processBatchLambda.handler as LocalHandler;
  let invocation = 0;
  const endings = new Map<number, () => void>();
  return async (event: never, context: LocalLambdaContext) => {
    invocation += 1;
    endings.get(invocation)?.();
    if (overwrites && random() % 5 === 0) {
      const picked = Array.from(
        { length: 3 },
        () => overwrites.seeded[random() % overwrites.seeded.length],
      ).filter((image): image is Seeded => image !== undefined);
      // Not awaited here: the batch starts while the overwrites land.
      overwrites.landing.push(
        Promise.all(
          picked.map((image) =>
            overwrite(stack.s3, stack.imagesBucket, image, overwrites.templates),
          ),
        ).then(() => {
          for (const image of picked) overwrites.done.add(image.key);
        }),
      );
      log.push(`batch ${invocation}: ${picked.length} images overwritten while it runs`);
    }
    if (random() % 4 === 0) {
      const fault = FAULTS[random() % FAULTS.length];
      if (fault) {
        log.push(`batch ${invocation}: ${fault.apply(stack, arn)}`);
        const { undo } = fault;
        if (undo) endings.set(invocation + 1 + (random() % 4), () => undo(stack, arn));
      }
    }
    if (random() % 10 !== 0) return real(event, context);
    // The Map's Retry re-runs a crashed batch; only its unfinished images are analysed.
    log.push(`batch ${invocation}: crashed part-way`);
    return crashPartWay(
      real,
      event,
      context,
      () => new Promise((resolve) => setTimeout(resolve, 200 + (random() % 800))),
    );
  };
}

async function main(argv: string[]): Promise<number> {
  const values = parseCommand<{ images: number; seed: number; data?: string }>(soakCommand(), argv);
  if (!values) return 0;
  const { images, seed: seedValue } = values;
  const random = seededRandom(seedValue);
  const dataDirectory = values.data ?? (await mkdtemp(join(tmpdir(), "soak-")));
  const stack = await startLocalStack({
    dataDirectory,
    fresh: true,
    emulator: {
      startDelayMs: 1000,
      stopDelayMs: 500,
      latencyMs: 20,
      latencyJitterMs: 10,
      tpsPerUnit: 100,
      unitReplaceDelayMs: 2000,
    },
  });
  const arn = stack.projectVersionArn;
  const faultLog: string[] = [];
  try {
    const started = Date.now();
    console.log(`Seeding ${images.toLocaleString("en-US")} images...`);
    const { templates, seeded } = await seed(stack, images, random);
    console.log(`  seeded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    // Transport faults all along: 2 % InternalServerError, 1 % dropped connections.
    stack.emulator.admin.setErrorRate(arn, 0.02);
    stack.emulator.admin.setDropRate(arn, 0.01);

    const status = () => stack.emulator.admin.state().models.find((m) => m.arn === arn)?.status;
    const waitForStop = async () => {
      const deadline = Date.now() + 30_000;
      while (status() === "STOPPING" && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    const runJob = (handler: LocalHandler) =>
      runLocalJob({
        stack,
        waitMs: 100,
        environment: { LOG_LEVEL: "error" },
        input: { targetWindowMinutes: 1, maxUnits: 5, lambdaTimeoutSeconds: 60 },
        handlers: { processBatch: handler },
      });
    const reconcileRuns = (runIds: string[]) =>
      reconcile({
        s3: stack.s3,
        imagesBucket: stack.imagesBucket,
        imagesPrefix: LOCAL_DEFAULTS.imagesPrefix,
        resultsBucket: stack.resultsBucket,
        resultsPrefix: LOCAL_DEFAULTS.resultsPrefix,
        runIds,
      });

    console.log("Run 1: the workflow with faults on, images overwritten mid-run...");
    const overwrites: Overwrites = { seeded, templates, done: new Set(), landing: [] };
    const runStarted = Date.now();
    const first = await runJob(faultyProcessBatch(stack, arn, random, faultLog, overwrites));
    await Promise.all(overwrites.landing);
    const firstSeconds = (Date.now() - runStarted) / 1000;
    await waitForStop();
    const firstRunId = first.plan?.runId ?? first.summary?.runId ?? "";
    const afterFirst = await reconcileRuns([firstRunId]);

    // Corrupt ledger entries of images that were not overwritten, one kind after another.
    const corrupted: string[] = [];
    const candidates = seeded.filter((image) => !overwrites.done.has(image.key));
    const corruptCount = Math.max(4, Math.floor(images / 500));
    for (let index = 0; index < corruptCount && candidates.length > 0; index += 1) {
      const image = candidates.splice(random() % candidates.length, 1)[0];
      if (!image) break;
      const body = CORRUPT_BODIES[index % CORRUPT_BODIES.length]?.() ?? "";
      await stack.s3.send(
        new PutObjectCommand({
          Bucket: stack.resultsBucket,
          Key: resultKeyFor(LOCAL_DEFAULTS.resultsPrefix, image.key),
          Body: Buffer.from(body),
        }),
      );
      corrupted.push(image.key);
    }

    console.log("Run 2: the same faults; it must pick up what run 1 left...");
    const secondStarted = Date.now();
    const result = await runJob(faultyProcessBatch(stack, arn, random, faultLog));
    const runSeconds = (Date.now() - secondStarted) / 1000;
    await waitForStop();
    const books = await reconcileRuns([firstRunId, result.plan?.runId ?? ""]);
    const reasons = result.plan?.pendingByReason;
    console.log(
      `\nRun 1: ${first.execution.status} in ${firstSeconds.toFixed(1)} s; ${overwrites.done.size} images overwritten mid-run, ` +
        `${afterFirst.stale.length} with a result for their old version; ${afterFirst.unreadable} unreadable`,
    );
    if (first.summary) {
      const c = first.summary.counts;
      console.log(
        `  report (from the ${c.countsSource}): ${c.succeeded} succeeded, ${c.failed} failed, ${c.unreadable} unreadable, ${c.unaccounted} not analysed: ${first.summary.reconciled ? "reconciled" : "NOT RECONCILED"}`,
      );
    }
    console.log(`Corrupted ${corrupted.length} ledger entries between the runs`);
    console.log(
      `Run 2 plan: ${result.plan?.counts.pending ?? 0} pending = new ${reasons?.new ?? 0} + replaced ${reasons?.replaced ?? 0} + unreadable results ${reasons?.unreadableResult ?? 0} + unreadable images ${reasons?.unreadableImage ?? 0}`,
    );
    // Stale entries are among the missing (no result for the current version).
    const notAnalysed = afterFirst.missing.length - afterFirst.stale.length;
    const expectedPending =
      overwrites.done.size + corrupted.length + afterFirst.unreadable + notAnalysed;
    const secondPlanOk =
      reasons !== undefined &&
      reasons.replaced === afterFirst.stale.length &&
      afterFirst.stale.length === overwrites.done.size &&
      reasons.unreadableResult === corrupted.length &&
      reasons.unreadableImage === afterFirst.unreadable &&
      result.plan?.counts.pending === expectedPending;
    console.log(
      `  expected ${expectedPending} (overwritten ${overwrites.done.size} + corrupted ${corrupted.length} + unreadable ${afterFirst.unreadable} + not analysed ${notAnalysed}): ${secondPlanOk ? "as expected" : "NOT AS EXPECTED"}`,
    );
    const billing = stack.emulator.admin.billing(arn);
    const calls = stack.emulator.admin.timeline(arn).reduce(
      (sum, s) => ({
        accepted: sum.accepted + s.accepted,
        throttled: sum.throttled + s.throttled,
      }),
      {
        accepted: 0,
        throttled: 0,
      },
    );

    console.log(
      `\nExecution: ${result.execution.status}${result.execution.error ? ` (${result.execution.error})` : ""} in ${runSeconds.toFixed(1)} s`,
    );
    if (result.plan) {
      const { sizing } = result.plan;
      console.log(
        `Plan: ${sizing.units} units, ${sizing.workers} workers, batches of ${sizing.batchSize}`,
      );
    }
    const failedStates = new Map<string, number>();
    for (const event of result.execution.events) {
      if (event.type === "StateFailed") {
        failedStates.set(event.error, (failedStates.get(event.error) ?? 0) + 1);
      }
    }
    if (result.execution.cause) console.log(`  cause: ${result.execution.cause.slice(0, 300)}`);
    console.log(
      `Failed states (retried or not): ${JSON.stringify(Object.fromEntries(failedStates))}`,
    );
    console.log(
      `Faults injected: ${faultLog.length} (+2 % errors, 1 % dropped connections throughout)`,
    );
    for (const line of faultLog.slice(0, 20)) console.log(`  ${line}`);
    if (faultLog.length > 20) console.log(`  ... ${faultLog.length - 20} more`);
    console.log(
      `Reconciliation after run 2: listed ${books.listed} = succeeded ${books.succeeded} + failed ${books.failed} + unreadable ${books.unreadable} + skipped ${books.skipped}: ${books.exact ? "exact" : "NOT EXACT"}`,
    );
    console.log(
      `  missing ${books.missing.length}, stale ${books.stale.length}, corrupt ${books.corrupt.length}, double-counted ${books.doubleCounted.length}, duplicate entries ${books.duplicateEntries.length}, unexplained ${books.unexplained.length}`,
    );
    const failureNames = new Map<string, number>();
    for (const record of books.ledger.values()) {
      if (record.status !== "failed") continue;
      const name = record.error?.name ?? "unknown";
      failureNames.set(name, (failureNames.get(name) ?? 0) + 1);
    }
    console.log(`  failures by error: ${JSON.stringify(Object.fromEntries(failureNames))}`);
    console.log(`Calls: ${calls.accepted} accepted, ${calls.throttled} throttled`);
    console.log(
      `Model: ${status()}; billed ${billing.unitSeconds.toFixed(1)} unit-seconds, ${billing.billingUnits} units still billed`,
    );
    const ok =
      first.execution.status === "SUCCEEDED" &&
      secondPlanOk &&
      result.execution.status === "SUCCEEDED" &&
      books.exact &&
      status() === "STOPPED" &&
      billing.billingUnits === 0;
    console.log(ok ? "\nSOAK PASSED" : "\nSOAK FAILED");
    return ok ? 0 : 1;
  } finally {
    await stack.close();
    if (!values.data) await rm(dataDirectory, { recursive: true, force: true });
  }
}

runCommandLine(main, { name: "npm run soak", exit: true });
