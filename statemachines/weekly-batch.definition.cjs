/**
 * The state machine definition as deployed: `weekly-batch.asl.yml` (which the
 * local engine runs as it is) plus the workflow's TimeoutSeconds from the
 * `workflowTimeoutHours` deployment parameter. Step Functions wants an
 * integer there and a `--param` value is a string, hence this step.
 *
 * Service integrations (`arn:aws:states:::s3:getObject`, ...) are written in
 * the `aws` partition in the ASL; deployed to aws-cn or GovCloud they must
 * name that partition, derived here from the deployment's region.
 *
 * The timeout is the backstop for a hung execution: it ends TIMED_OUT, and
 * the safety-stop rule stops the model the run started (a Catch does not run
 * on a time-out, and the reaper never stops the model of a RUNNING execution).
 */
const { readFileSync } = require("node:fs");
const { join } = require("node:path");
const { parse } = require("yaml");

/** Step Functions Standard executions may run for a year at most. */
const MAX_HOURS = 365 * 24;

function workflowTimeoutSeconds(raw) {
  const text = String(raw ?? "").trim();
  const hours = Number(text);
  if (text === "" || !Number.isFinite(hours) || hours <= 0 || hours > MAX_HOURS) {
    throw new Error(
      `workflowTimeoutHours must be a number of hours above 0 and at most ${MAX_HOURS}, got ${JSON.stringify(raw)}`,
    );
  }
  return Math.max(1, Math.round(hours * 3600));
}

/** The AWS partition of a region: aws-cn for China, aws-us-gov for GovCloud, else aws. */
function partitionOf(region) {
  const name = String(region ?? "");
  if (name.startsWith("cn-")) return "aws-cn";
  if (name.startsWith("us-gov-")) return "aws-us-gov";
  return "aws";
}

/** Every service-integration Resource of the definition, in `partition`. */
function inPartition(node, partition) {
  if (typeof node === "string")
    return node.replace(/^arn:aws:states:::/, `arn:${partition}:states:::`);
  if (Array.isArray(node)) return node.map((item) => inPartition(item, partition));
  if (node && typeof node === "object") {
    return Object.fromEntries(
      Object.entries(node).map(([key, value]) => [key, inPartition(value, partition)]),
    );
  }
  return node;
}

async function definition({ resolveVariable }) {
  const asl = parse(readFileSync(join(__dirname, "weekly-batch.asl.yml"), "utf8"));
  const TimeoutSeconds = workflowTimeoutSeconds(
    await resolveVariable("param:workflowTimeoutHours"),
  );
  const partition = partitionOf(await resolveVariable("self:provider.region"));
  const { Comment, StartAt, ...rest } = inPartition(asl, partition);
  return { Comment, StartAt, TimeoutSeconds, ...rest };
}

module.exports = definition;
module.exports.workflowTimeoutSeconds = workflowTimeoutSeconds;
module.exports.partitionOf = partitionOf;
