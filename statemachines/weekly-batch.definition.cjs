/**
 * The state machine definition as deployed: `weekly-batch.asl.yml` (which the
 * local engine runs as it is) plus the workflow's TimeoutSeconds from the
 * `workflowTimeoutHours` deployment parameter. Step Functions wants an
 * integer there and a `--param` value is a string, hence this step.
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

async function definition({ resolveVariable }) {
  const asl = parse(readFileSync(join(__dirname, "weekly-batch.asl.yml"), "utf8"));
  const TimeoutSeconds = workflowTimeoutSeconds(
    await resolveVariable("param:workflowTimeoutHours"),
  );
  const { Comment, StartAt, ...rest } = asl;
  return { Comment, StartAt, TimeoutSeconds, ...rest };
}

module.exports = definition;
module.exports.workflowTimeoutSeconds = workflowTimeoutSeconds;
