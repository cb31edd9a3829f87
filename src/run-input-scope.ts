import { normalizePrefix } from "./result-keys.ts";
import { describeValue, RUN_INPUT_ENV } from "./run-input.ts";

/**
 * Set by the deployment: the buckets, prefixes and model in the environment
 * are what IAM grants, so an execution input may only narrow them.
 */
export const DEPLOYED_IAM_SCOPE_ENV = "DEPLOYED_IAM_SCOPE";

/**
 * Overrides in the execution input that leave the deployment's IAM scope,
 * which would fail later with AccessDenied (possibly after the model started).
 * The images prefix may narrow the deployed one; the rest must be equal.
 */
export function scopeProblems(given: Record<string, unknown>, env: NodeJS.ProcessEnv): string[] {
  const deployed = {
    imagesBucket: env[RUN_INPUT_ENV.imagesBucket] ?? "",
    imagesPrefix: env[RUN_INPUT_ENV.imagesPrefix] ?? "",
    resultsBucket: env[RUN_INPUT_ENV.resultsBucket] || env[RUN_INPUT_ENV.imagesBucket] || "",
    resultsPrefix: normalizePrefix(env[RUN_INPUT_ENV.resultsPrefix] ?? ""),
    projectVersionArn: env[RUN_INPUT_ENV.projectVersionArn] ?? "",
  };
  const problems: string[] = [];
  for (const name of Object.keys(deployed) as (keyof typeof deployed)[]) {
    const value = given[name];
    if (typeof value !== "string") continue; // absent, null, or refused by its own check
    const scope = deployed[name];
    const within =
      name === "imagesPrefix"
        ? value.startsWith(scope)
        : (name === "resultsPrefix" ? normalizePrefix(value) : value) === scope;
    if (within) continue;
    const allowed =
      name === "imagesPrefix"
        ? `the deployed ${describeValue(scope)} or a prefix inside it`
        : `the deployed ${describeValue(scope)}`;
    problems.push(
      `${name} (${describeValue(value)}) is outside this deployment's IAM scope: the job's roles are granted only ${allowed}, ` +
        `so the run would fail with AccessDenied; leave ${name} out of the execution input, or redeploy with --param="${name}=${value}"`,
    );
  }
  return problems;
}
