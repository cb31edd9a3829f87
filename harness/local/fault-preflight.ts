/**
 * Every fault switch of `npm run local` acts on processing: the model's start
 * (`--fail-start`) or the Map Run (`--lose-unit`, `--abort`, ...). With nothing
 * pending the workflow starts neither, and the run would end SUCCEEDED as if
 * the fault had been survived. So a run with fault switches and nothing to do
 * is refused before it starts, saying how to give it work.
 */
import { scanBacklog } from "../../src/backlog.ts";
import { UsageError } from "../command.ts";
import type { FaultFlag } from "./cli-options.ts";
import type { LocalStack } from "./local-stack.ts";

/** True as soon as one image under the prefix has no valid result for its current version. */
export async function anythingPending(
  stack: LocalStack,
  prefixes: { imagesPrefix: string; resultsPrefix: string },
): Promise<boolean> {
  const entries = scanBacklog({
    s3: stack.s3,
    input: {
      imagesBucket: stack.imagesBucket,
      imagesPrefix: prefixes.imagesPrefix,
      resultsBucket: stack.resultsBucket,
      resultsPrefix: prefixes.resultsPrefix,
      // What the local run's Plan uses: the deployment's default.
      imageMode: "S3Object",
    },
  });
  for await (const entry of entries) {
    if (entry.kind === "pending") return true;
  }
  return false;
}

/** The refusal of fault switches that cannot take effect, naming them and the ways out. */
export function faultsCannotTakeEffect(
  faults: readonly FaultFlag[],
  imagesLocation: string,
): UsageError {
  const named = faults.map((flag) => `--${flag}`).join(", ");
  return new UsageError(
    `Nothing is pending under ${imagesLocation} (every image already has its result), so ${named} cannot take effect: the run would start no model and process nothing. Add --fresh to start again from an empty data folder, or --add-images <n> to give the run new images.`,
  );
}
