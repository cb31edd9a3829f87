// Must be first: silences the SDK's Node 20 notice before the SDK loads.
import "../src/local/quiet-sdk-notice.ts";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import pMap from "p-map";
import * as processBatchLambda from "../functions/process-batch.ts";
import { crashPartWay } from "../src/local/crash-injection.ts";
import { runLocalJob } from "../src/local/local-job.ts";
import { LOCAL_DEFAULTS, type LocalStack, startLocalStack } from "../src/local/local-stack.ts";
import { reconcile } from "../src/local/reconcile.ts";
import {
  type ImageSpec,
  PALETTE_COLOURS,
  renderSampleImage,
  seededRandom,
  writeSampleImages,
} from "../src/local/sample-images.ts";
import type { LocalHandler, LocalLambdaContext } from "../src/local/workflow/index.ts";

/**
 * The soak: tens of thousands of images through the real workflow on the
 * local stack, with faults from the fault matrix switched on at random
 * (throttling storms, lost units and zones, 500s, dropped connections,
 * crashed batches), ending with an exact reconciliation read straight from
 * S3 and the model stopped. Exit code 0 only when all of that holds.
 */

const HELP = `Usage: npm run soak -- [--images <n>] [--seed <n>] [--data <dir>]

  --images <n>   images to analyse (default 20000)
  --seed <n>     seeds the image keys and the fault schedule (default 1)
  --data <dir>   data folder (default: a new temporary folder, deleted afterwards)`;

const { values } = parseArgs({
  options: {
    images: { type: "string", default: "20000" },
    seed: { type: "string", default: "1" },
    data: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});

/** Distinct small images whose bytes are reused across keys: rendering 20,000 would dominate the soak. */
const TEMPLATES = 24;

async function seed(stack: LocalStack, count: number, random: () => number): Promise<void> {
  const templates = await Promise.all(
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
      const template = templates[random() % TEMPLATES] ?? templates[0];
      if (!template) return;
      const folder = `batch-${String(Math.floor(index / 1000)).padStart(3, "0")}`;
      const name = `img-${String(index).padStart(6, "0")}.${template.format === "png" ? "png" : "jpg"}`;
      await stack.s3.send(
        new PutObjectCommand({
          Bucket: stack.imagesBucket,
          Key: `${LOCAL_DEFAULTS.imagesPrefix}${folder}/${name}`,
          Body: template.body,
        }),
      );
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
}

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

/** The processBatch Lambda with random faults before some invocations, and some invocations crashing half-way. */
function faultyProcessBatch(
  stack: LocalStack,
  arn: string,
  random: () => number,
  log: string[],
): LocalHandler {
  const real = processBatchLambda.handler as LocalHandler;
  let invocation = 0;
  const endings = new Map<number, () => void>();
  return async (event: never, context: LocalLambdaContext) => {
    invocation += 1;
    endings.get(invocation)?.();
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

async function main(): Promise<number> {
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const images = Number(values.images);
  const seedValue = Number(values.seed);
  if (!Number.isInteger(images) || images < 1 || !Number.isInteger(seedValue)) {
    console.error(`--images and --seed must be whole numbers\n\n${HELP}`);
    return 2;
  }
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
    await seed(stack, images, random);
    console.log(`  seeded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    // Transport faults all along: 2 % InternalServerError, 1 % dropped connections.
    stack.emulator.admin.setErrorRate(arn, 0.02);
    stack.emulator.admin.setDropRate(arn, 0.01);

    console.log("Running the workflow with faults on...");
    const runStarted = Date.now();
    const result = await runLocalJob({
      stack,
      waitMs: 100,
      environment: { LOG_LEVEL: "error" },
      input: { targetWindowMinutes: 1, maxUnits: 5, lambdaTimeoutSeconds: 60 },
      handlers: { processBatch: faultyProcessBatch(stack, arn, random, faultLog) },
    });
    const runSeconds = (Date.now() - runStarted) / 1000;

    const deadline = Date.now() + 30_000;
    const status = () => stack.emulator.admin.state().models.find((m) => m.arn === arn)?.status;
    while (status() === "STOPPING" && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const books = await reconcile({
      s3: stack.s3,
      imagesBucket: stack.imagesBucket,
      imagesPrefix: LOCAL_DEFAULTS.imagesPrefix,
      resultsBucket: stack.resultsBucket,
      resultsPrefix: LOCAL_DEFAULTS.resultsPrefix,
      runIds: [result.plan?.runId ?? result.summary?.runId ?? ""],
    });
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
      `Reconciliation: listed ${books.listed} = succeeded ${books.succeeded} + failed ${books.failed} + skipped ${books.skipped}: ${books.exact ? "exact" : "NOT EXACT"}`,
    );
    console.log(
      `  missing ${books.missing.length}, double-counted ${books.doubleCounted.length}, duplicate entries ${books.duplicateEntries.length}, unexplained ${books.unexplained.length}`,
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

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
