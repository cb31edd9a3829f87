/** The doctor's report as the operator reads it: one line per check, then fixes and limits. */
import type { CheckResult } from "./check.ts";
import type { DoctorReport } from "./run-doctor.ts";

const MARK: Record<CheckResult["status"], string> = { pass: "✓", fail: "✗", skip: "-" };
const WIDTH = 20;
const indent = " ".repeat(WIDTH + 2);

function renderCheck(check: CheckResult): string {
  const [first = "", ...rest] = (
    check.status === "skip" ? `skipped: ${check.detail}` : check.detail
  ).split("\n");
  const lines = [`${MARK[check.status]} ${check.title.padEnd(WIDTH)}${first}`];
  for (const line of rest) lines.push(`${indent}${line}`);
  if (check.fix) lines.push(`${indent}fix: ${check.fix}`);
  if (check.limits) lines.push(`${indent}note: ${check.limits}`);
  return lines.join("\n");
}

export function renderDoctor(report: DoctorReport): string {
  const { passed, failed, skipped } = report.counts;
  const where = report.local ? "the local stack" : `AWS, ${report.region}`;
  const verdict =
    failed === 0
      ? `ready for a first run${skipped > 0 ? " (the skipped checks were not proven)" : ""}`
      : "fix the failures above, then run doctor again";
  return [
    `Preflight against ${where}`,
    ...report.checks.map(renderCheck),
    `Doctor: ${passed} checks passed, ${failed} failed, ${skipped} skipped; ${verdict}.`,
  ].join("\n");
}
