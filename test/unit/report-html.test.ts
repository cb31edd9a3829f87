import { describe, expect, it } from "vitest";
import { buildRunSummary } from "../../src/report/build-summary.ts";
import { renderReportHtml } from "../../src/report/html.ts";
import { escapeHtml, html } from "../../src/report/html-escape.ts";
import type { RunSummary } from "../../src/report/run-summary.ts";
import { niceScale } from "../../src/report/svg-charts.ts";
import { FakeClock } from "../support/fake-clock.ts";
import {
  iso,
  makeBatch,
  makePlan,
  steadyTimeline,
  T0,
  unitMetricsRead,
} from "../support/report-fixtures.ts";

const HOSTILE_KEY = "<img src=x onerror=alert(1)>.jpg";
const HOSTILE_LABEL = "</style><script>alert('label')</script>";
const HOSTILE_MESSAGE = `bad "quote" & <b>bold</b>`;

function hostileSummary(): RunSummary {
  const plan = makePlan({ counts: { listed: 10, pending: 6, skipped: 2, alreadyDone: 2 } });
  return buildRunSummary({
    plan,
    batches: [
      makeBatch({
        items: 3,
        failures: [{ key: HOSTILE_KEY, error: "InvalidImageFormat", message: HOSTILE_MESSAGE }],
        labels: { [HOSTILE_LABEL]: 2, red: 1 },
        timeline: steadyTimeline(T0 + 300, 30, 10, 7),
      }),
    ],
    failedBatches: [
      {
        name: "batch-<b>2</b>",
        status: "FAILED",
        error: "RetriesExhausted",
        cause: HOSTILE_MESSAGE,
        items: 3,
        keys: [HOSTILE_KEY, "ok.jpg", "x.png"],
      },
    ],
    mapRan: true,
    skipped: [
      {
        key: HOSTILE_KEY.replace(".jpg", ".txt"),
        size: 5,
        reason: "unsupported-extension",
        detail: HOSTILE_MESSAGE,
      },
      { key: "incoming/", size: 0, reason: "folder-marker", detail: "folder" },
    ],
    model: {
      action: "started",
      owned: true,
      status: "STARTING",
      startRequestedAt: iso(T0 + 10),
      units: 2,
    },
    check: { status: "RUNNING", checkedAt: iso(T0 + 250) },
    stop: { stopped: true, reason: "completed", stopRequestedAt: iso(T0 + 340) },
    failure: { Error: "Map<Failed>", Cause: HOSTILE_MESSAGE },
    unitMetrics: unitMetricsRead([
      { t: T0 + 10, units: 2, desired: 2 },
      { t: T0 + 320, units: 1, desired: 2 },
    ]),
    clock: new FakeClock((T0 + 350) * 1000),
  });
}

describe("renderReportHtml", () => {
  const page = renderReportHtml(hostileSummary());

  it("renders every user-controlled string as text, never as markup", () => {
    expect(page).not.toMatch(/<img/i);
    expect(page).not.toMatch(/<script/i);
    expect(page).not.toContain("<b>");
    expect(page).toContain("&lt;img src=x onerror=alert(1)&gt;.jpg");
    expect(page).toContain("&lt;img src=x onerror=alert(1)&gt;.txt");
    expect(page).toContain("&lt;/style&gt;&lt;script&gt;alert(&#39;label&#39;)&lt;/script&gt;");
    expect(page).toContain("bad &quot;quote&quot; &amp; &lt;b&gt;bold&lt;/b&gt;");
    expect(page).toContain("batch-&lt;b&gt;2&lt;/b&gt;");
    expect(page).toContain("Map&lt;Failed&gt;");
    // The only style element is ours: the hostile label did not close it early.
    expect(page.match(/<\/style>/g)).toHaveLength(1);
  });

  it("draws the throughput and units charts as inline SVG", () => {
    const svgs = page.match(/<svg class="chart"[^>]*>/g) ?? [];
    expect(svgs).toHaveLength(2);
    expect(page).toContain('class="accepted"');
    expect(page).toContain('class="throttled"');
    expect(page).toContain('class="limit"');
    expect(page).toContain('class="units"');
    expect(page).toContain('class="desired"');
  });

  it("is self-contained: no scripts, no external resources", () => {
    expect(page).not.toMatch(/https?:\/\//);
    expect(page).not.toMatch(/<(script|link|iframe|object|embed)\b/i);
    // No tag carries a src/href attribute (the hostile key's "src=" is escaped text).
    expect(page).not.toMatch(/<[^>]*\s(src|href)\s*=/i);
    expect(page).not.toMatch(/@import|url\(/i);
    expect(page.startsWith("<!doctype html>")).toBe(true);
  });

  it("shows the outcome, the reconciliation, billing, sizing and the grouped skips", () => {
    expect(page).toContain("Failed</span>");
    expect(page).toContain("pending 6 = succeeded 2 + failed 1");
    expect(page).toContain("The counts do not reconcile.");
    expect(page).toContain("inference hours");
    expect(page).toContain('<tr class="chosen">');
    expect(page).toMatch(/<td>unsupported-extension<\/td><td class="num">1<\/td>/);
    expect(page).toMatch(/<td>folder-marker<\/td><td class="num">1<\/td>/);
  });

  it("shows a Lambda error's JSON cause as errorType: errorMessage, never its trace", () => {
    const summary = hostileSummary();
    const failed = renderReportHtml({
      ...summary,
      failure: {
        Error: "ControlPlaneUnavailable",
        Cause: JSON.stringify({
          errorType: "ControlPlaneUnavailable",
          errorMessage: "could not stop model m: InternalServerError after 5 attempts",
          trace: ["ControlPlaneUnavailable: x", "    at stopOwnedModel (/var/task/index.js:9:9)"],
        }),
      },
    });
    expect(failed).toContain(
      "<strong>ControlPlaneUnavailable</strong>: ControlPlaneUnavailable: could not stop model m: InternalServerError after 5 attempts",
    );
    expect(failed).not.toContain("stopOwnedModel");
  });
});

describe("html building blocks", () => {
  it("escapes interpolations, nested arrays included, and keeps nested html as markup", () => {
    const inner = html`<em>${"<x>"}</em>`;
    expect(html`<p>${["a&b", inner, 3, null, undefined, false]}</p>`.value).toBe(
      "<p>a&amp;b<em>&lt;x&gt;</em>3</p>",
    );
    expect(escapeHtml(`'"`)).toBe("&#39;&quot;");
  });

  it("picks round axis steps", () => {
    expect(niceScale(10.8)).toEqual({ max: 15, step: 5 });
    expect(niceScale(0)).toEqual({ max: 1, step: 1 });
    expect(niceScale(47)).toEqual({ max: 50, step: 10 });
  });
});

describe("failures section with a capped list", () => {
  it("gives the total, how many are named, and where the full list is", () => {
    const plan = makePlan({ counts: { listed: 6, pending: 6, skipped: 0, alreadyDone: 0 } });
    const summary = buildRunSummary({
      plan,
      batches: [
        makeBatch({
          items: 6,
          failures: [{ key: "incoming/a.jpg", error: "InvalidS3ObjectException", message: "kms" }],
          failuresOmitted: 5,
          timeline: steadyTimeline(T0 + 300, 3, 2),
        }),
      ],
      mapRan: true,
      skipped: [],
      clock: new FakeClock((T0 + 400) * 1000),
    });
    const page = renderReportHtml(summary);
    expect(page).toContain("6 images failed with a recorded reason; 1 named below");
    expect(page).toContain(`s3://${plan.context.resultsBucket}/weekly/results/`);
  });
});
