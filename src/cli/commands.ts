/**
 * The CLI's commands, in the order the help lists them. A new command is one
 * module exporting a `CliCommand`, added here.
 */
import { calibrate } from "./calibrate.ts";
import type { CliCommand } from "./context.ts";
import { doctor } from "./doctor.ts";
import { plan } from "./plan.ts";
import { results } from "./results.ts";
import { start } from "./start.ts";
import { status } from "./status.ts";
import { stop } from "./stop.ts";

export const COMMANDS: readonly CliCommand[] = [
  doctor,
  plan,
  start,
  status,
  stop,
  results,
  calibrate,
];
