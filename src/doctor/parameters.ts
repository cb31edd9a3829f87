/** The deployment's parameters, parsed as the Plan step parses them. */
import type { RunInputField } from "../cli/args.ts";
import { InvalidRunInputError } from "../errors.ts";
import { parseRunInput, type RunInput } from "../run-input.ts";
import { DEPLOYED_IAM_SCOPE_ENV } from "../run-input-scope.ts";
import { type CheckResult, fail, pass } from "./check.ts";

export function checkParameters(opts: {
  /** Where the values come from, for the operator: "the deployed Plan function's environment". */
  source: string;
  environment: NodeJS.ProcessEnv;
  overrides: Partial<Record<RunInputField, string>>;
  fix: string;
}): { result: CheckResult; input?: RunInput } {
  const id = "parameters";
  const title = "Parameters";
  const flags = Object.keys(opts.overrides).length > 0 ? ", with the run input flags given" : "";
  try {
    // The flags try settings before they are deployed, so the deployed IAM scope does not
    // bind them here (a run would refuse them); the Lambda role check shows what IAM would deny.
    const { [DEPLOYED_IAM_SCOPE_ENV]: _scope, ...environment } = opts.environment;
    const input = parseRunInput(opts.overrides, environment);
    const where = (bucket: string, prefix: string) => `s3://${bucket}/${prefix}`;
    return {
      input,
      result: pass(
        id,
        title,
        `from ${opts.source}${flags}: images ${where(input.imagesBucket, input.imagesPrefix)}, ` +
          `results ${where(input.resultsBucket, input.resultsPrefix)}, units ${input.minUnits}-${input.maxUnits}, ` +
          `maxWorkers ${input.maxWorkers}, window ${input.targetWindowMinutes} min`,
      ),
    };
  } catch (error) {
    if (!(error instanceof InvalidRunInputError)) throw error;
    return {
      result: fail(
        id,
        title,
        `from ${opts.source}${flags}: ${error.message.replace(/^Invalid run input:\n/, "")}`,
        opts.fix,
      ),
    };
  }
}
