// Must be first: silences the SDK's Node 20 notice before the SDK loads.
import "../local/quiet-sdk-notice.ts";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { resolve } from "node:path";
import { Option } from "commander";
import {
  harnessCommand,
  numberArgument,
  parseCommand,
  positiveNumber,
  runCommandLine,
} from "../command.ts";
import { PROJECT_ROOT } from "../local/s3-server.ts";
import { SCENARIOS, type Scenario, settingsBanner } from "./bench-plan.ts";
import { resultLine } from "./figures.ts";
import { misplan } from "./misplan.ts";
import { type BenchResults, renderHtml, renderText, resultRows } from "./render.ts";
import { PAPER_SIZES, paperRun } from "./scale-on-paper.ts";
import {
  autoScaling,
  type BenchSettings,
  FULL_SETTINGS,
  orchestrationCeiling,
  QUICK_SETTINGS,
  saturation,
  zoneLoss,
} from "./scenarios.ts";
import { strategies } from "./strategies.ts";

function benchCommand() {
  return harnessCommand("bench", "Benchmark the local pipeline against the Custom Labels emulator.")
    .addOption(
      new Option(
        "--scenario <name>",
        "run only one (default: all); saturation = ours at full rate, then the naive loop and the fixed-concurrency baseline on the same settings and images; misplan = the emulator serving the plan's TPS per unit, 40 % less and 40 % more (runs misplan-right, -slow, -fast); strategies = one fixed unit, then auto-scaling from 1 to the bench's units, same images",
      ).choices(SCENARIOS),
    )
    .option(
      "--quick",
      `a smoke run of every scenario within 5 minutes on 2 cores: ${QUICK_SETTINGS.images} images instead of ${FULL_SETTINGS.images} (misplan: ${QUICK_SETTINGS.misplanImages.join(", ")} instead of ${FULL_SETTINGS.misplanImages.join(" and ")}), ${QUICK_SETTINGS.units} units x ${QUICK_SETTINGS.tpsPerUnit} TPS, start-up ${QUICK_SETTINGS.startDelayMs / 1000} s; its figures are not the full ones`,
    )
    .option(
      "--tps-per-unit <n>",
      `what one emulated unit serves (default ${FULL_SETTINGS.tpsPerUnit}; with --quick ${QUICK_SETTINGS.tpsPerUnit})`,
      numberArgument("tps-per-unit", positiveNumber),
    )
    .option(
      "--ceiling-images <n>",
      `images in the ceiling scenario (default ${FULL_SETTINGS.ceilingImages}; with --quick ${QUICK_SETTINGS.ceilingImages}); 1200 shows how much of a short run the map's start takes`,
      numberArgument("ceiling-images", {
        describe: "a whole number from 1 to 100000",
        integer: true,
        min: 1,
        max: 100_000,
      }),
    )
    .option("--data <dir>", "where the seeded images live (default bench-results/data; reused)")
    .addHelpText(
      "after",
      "\nPrints one RESULT line per runner and scenario (utilization, throttled, tail, costRatio,\nlearnedTpsError) for scripts. Writes bench-results/latest.json and bench-results/latest.html.",
    );
}

interface BenchFlags {
  scenario?: Scenario;
  quick?: boolean;
  tpsPerUnit?: number;
  ceilingImages?: number;
  data?: string;
}

async function main(argv: string[]): Promise<number> {
  const values = parseCommand<BenchFlags>(benchCommand(), argv);
  if (!values) return 0;
  const { scenario: chosen, tpsPerUnit } = values;
  process.env.LOG_LEVEL ??= "silent";
  const outputDirectory = resolve(PROJECT_ROOT, "bench-results");
  const settings: BenchSettings = {
    ...(values.quick ? QUICK_SETTINGS : FULL_SETTINGS),
    ...(tpsPerUnit ? { tpsPerUnit } : {}),
    ...(values.ceilingImages ? { ceilingImages: values.ceilingImages } : {}),
    dataDirectory: resolve(values.data ?? resolve(outputDirectory, "data")),
  };
  const runs = (scenario: Scenario) => chosen === undefined || chosen === scenario;
  // First, so that nobody takes quick figures for the full ones.
  const banner = settingsBanner(settings, chosen);
  process.stdout.write(`${banner}\n\n`);
  const results: BenchResults = {
    generatedAt: new Date().toISOString(),
    command: `npm run bench -- ${argv.join(" ")}`.trim(),
    banner,
    machine: {
      cpus: cpus().length,
      loadAverageBefore: loadavg(),
      loadAverageAfter: [],
      node: process.version,
    },
    settings: { ...settings, dataDirectory: undefined },
  };
  const step = (name: string) => process.stderr.write(`bench: ${name} ...\n`);
  if (runs("paper")) results.paper = PAPER_SIZES.map((images) => paperRun(images));
  if (runs("saturation")) {
    step("saturation (ours, naive loop, fixed concurrency)");
    results.saturation = await saturation(settings);
  }
  if (runs("misplan")) {
    const counts = settings.misplanImages;
    step(`misplan (plan right, model 40 % slower, 40 % faster; ${counts.join(" and ")} images)`);
    results.misplan = await misplan(settings, counts, (run) =>
      process.stderr.write(`bench: ${resultLine(run.scenario, run.images, "ours", run.figures)}\n`),
    );
  }
  if (runs("capacity")) {
    step("capacity: zone loss");
    const zone = await zoneLoss(settings);
    step("capacity: auto-scaling");
    results.capacity = [zone, await autoScaling(settings)];
  }
  if (runs("strategies")) {
    step("strategies: fixed units, then auto-scaling");
    results.strategies = await strategies(settings);
  }
  if (runs("ceiling")) {
    step("orchestration ceiling");
    results.ceiling = await orchestrationCeiling(settings);
  }
  results.machine.loadAverageAfter = loadavg();
  results.results = resultRows(results);

  await mkdir(outputDirectory, { recursive: true });
  await writeFile(resolve(outputDirectory, "latest.json"), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(
    resolve(outputDirectory, "latest.html"),
    renderHtml(results, settings.tpsPerUnit),
  );
  process.stdout.write(renderText(results));
  process.stdout.write(
    `\n${results.results.map((r) => resultLine(r.scenario, r.images, r.runner, r)).join("\n")}\n`,
  );
  process.stdout.write("\nWrote bench-results/latest.json and bench-results/latest.html\n");
  return 0;
}

runCommandLine(main, { name: "npm run bench" });
