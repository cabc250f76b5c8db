/**
 * `ratchet report`: one self-contained HTML file (inline CSS and SVG, no
 * network) with the trajectory chart, the iteration table, the diff of each
 * kept change, tokens and cost, configuration and environment. Everything
 * the model wrote is escaped.
 */
import type { IterationRecord } from "../core/state.ts";
import { addTokens, emptyTokens } from "../core/state.ts";
import { meanCi } from "../core/stats.ts";
import { incumbentOf } from "../core/stop.ts";
import type { RunFile } from "../infra/store.ts";
import { markKind } from "./chart.ts";
import { fmtCi, fmtNum, fmtPct, fmtUsd } from "./format.ts";

/** What the report shows. */
export interface ReportInput {
  run: RunFile;
  records: IterationRecord[];
  /** Patches of kept changes, by iteration. */
  diffs: Map<number, string>;
  environment: Record<string, string>;
  generatedAt: string;
}

/** Escape text for HTML content and attributes. */
export function esc(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(
    ">",
    "&gt;",
  ).replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

const W = 900;
const H = 320;
const PAD = { left: 70, right: 20, top: 20, bottom: 40 };

/**
 * The incumbent's band after each record: its mean and the interval of the
 * trials that support it (the kept record's own, or the latest re-measure).
 */
function incumbentSeries(
  records: readonly IterationRecord[],
  confidence: number,
): ({ mean: number; ci: [number, number] | null } | null)[] {
  return records.map((_, i) => {
    const inc = incumbentOf(records.slice(0, i + 1), { confidence });
    return inc === null ? null : { mean: inc.mean, ci: inc.ci };
  });
}

function chartSvg(
  records: readonly IterationRecord[],
  confidence: number,
): string {
  const inc = incumbentSeries(records, confidence);
  const values: number[] = [];
  for (const r of records) if (r.avg !== null) values.push(r.avg);
  for (const v of inc) {
    if (v) {
      values.push(v.mean);
      if (v.ci) values.push(v.ci[0], v.ci[1]);
    }
  }
  let lo = values.length ? Math.min(...values) : 0;
  let hi = values.length ? Math.max(...values) : 1;
  if (lo === hi) {
    lo -= Math.abs(lo) * 0.05 || 1;
    hi += Math.abs(hi) * 0.05 || 1;
  }
  const span = hi - lo;
  lo -= span * 0.05;
  hi += span * 0.05;
  const n = Math.max(1, records.length - 1);
  const x = (i: number) => PAD.left + (i / n) * (W - PAD.left - PAD.right);
  const y = (v: number) =>
    PAD.top + ((hi - v) / (hi - lo)) * (H - PAD.top - PAD.bottom);
  const bottom = H - PAD.bottom;
  const parts: string[] = [];
  // Interval band of the incumbent.
  const upper: string[] = [];
  const lower: string[] = [];
  inc.forEach((v, i) => {
    if (v?.ci) {
      upper.push(`${x(i).toFixed(1)},${y(v.ci[1]).toFixed(1)}`);
      lower.unshift(`${x(i).toFixed(1)},${y(v.ci[0]).toFixed(1)}`);
    }
  });
  if (upper.length > 1) {
    parts.push(
      `<polygon class="band" points="${[...upper, ...lower].join(" ")}"/>`,
    );
  }
  const line = inc.map((v, i) =>
    v ? `${x(i).toFixed(1)},${y(v.mean).toFixed(1)}` : null
  )
    .filter((p): p is string => p !== null);
  if (line.length > 0) {
    parts.push(`<polyline class="incumbent" points="${line.join(" ")}"/>`);
  }
  // Axes and labels.
  parts.push(
    `<line class="axis" x1="${PAD.left}" y1="${bottom}" x2="${
      W - PAD.right
    }" y2="${bottom}"/>`,
    `<line class="axis" x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${bottom}"/>`,
    `<text class="label" x="${PAD.left - 6}" y="${
      y(hi) + 4
    }" text-anchor="end">${esc(fmtNum(hi))}</text>`,
    `<text class="label" x="${PAD.left - 6}" y="${y(lo)}" text-anchor="end">${
      esc(fmtNum(lo))
    }</text>`,
    `<text class="label" x="${x(0)}" y="${
      bottom + 18
    }" text-anchor="middle">0</text>`,
    `<text class="label" x="${x(records.length - 1)}" y="${
      bottom + 18
    }" text-anchor="middle">${records.at(-1)?.iter ?? 0}</text>`,
    `<text class="label" x="${W / 2}" y="${
      bottom + 34
    }" text-anchor="middle">iteration</text>`,
  );
  // One mark per record; records without a score sit on the axis.
  records.forEach((r, i) => {
    const kind = markKind(r);
    const cy = r.avg === null ? bottom : y(r.avg);
    const title = `iter ${r.iter}: ${r.decision}${
      r.avg === null ? "" : ` ${fmtNum(r.avg)}`
    }`;
    parts.push(
      `<circle class="mark ${kind}" data-iter="${r.iter}" cx="${
        x(i).toFixed(1)
      }" cy="${cy.toFixed(1)}" r="${kind === "kept" ? 6 : 4.5}"><title>${
        esc(title)
      }</title></circle>`,
    );
  });
  return `<svg id="chart" viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="score by iteration">${
    parts.join("")
  }</svg>`;
}

function row(r: IterationRecord, confidence: number): string {
  const ok = r.trial_scores.filter((s): s is number => s !== null);
  const ci = ok.length >= 2 ? meanCi(ok, confidence) : null;
  const t = r.tokens;
  return `<tr data-iter="${r.iter}" class="${
    markKind(r)
  }"><td>${r.iter}</td><td><span class="badge ${esc(r.decision)}">${
    esc(r.decision)
  }</span></td><td class="num">${esc(fmtNum(r.avg))}</td><td class="num">${
    esc(fmtCi(ci))
  }</td><td class="num">${
    r.p_value === null ? "—" : esc(r.p_value.toPrecision(2))
  }</td><td class="num">${esc(fmtPct(r.effect))}</td><td>${
    esc(r.reason ?? "")
  }${
    r.detail ? `<div class="detail">${esc(r.detail)}</div>` : ""
  }</td><td class="num">${
    t.input + t.output + t.cache_write + t.cache_read
  }</td><td class="num">${esc(fmtUsd(r.cost_usd))}</td><td>${
    esc(r.hypothesis)
  }</td><td>${esc(r.description)}</td></tr>`;
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px auto;max-width:1200px;color:#1d2430;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde3ea;padding-bottom:4px}
.sub{color:#5b6675}.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.card{border:1px solid #dde3ea;border-radius:8px;padding:10px 14px;min-width:150px}.card b{display:block;font-size:18px}
svg .band{fill:#3b82f6;opacity:.15}svg .incumbent{fill:none;stroke:#2563eb;stroke-width:2}
svg .axis{stroke:#8a94a3}svg .label{font-size:12px;fill:#5b6675}
svg .mark.kept{fill:#16a34a}svg .mark.reverted{fill:#9ca3af}svg .mark.crashed{fill:#a21caf}svg .mark.rejected{fill:#dc2626}
.legend span{margin-right:14px}.dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:4px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid #e7ebf0;padding:5px 6px;text-align:left;vertical-align:top}
th{background:#f5f7fa;position:sticky;top:0}td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.detail{color:#5b6675;font-size:12px;max-width:380px;overflow-wrap:anywhere}
.badge{border-radius:4px;padding:1px 6px;font-size:12px;background:#eef1f5}.badge.improved,.badge.baseline{background:#dcfce7}
.badge.regressed,.badge.rejected{background:#fee2e2}.badge.crashed{background:#fae8ff}.badge.inconclusive{background:#fef9c3}
pre{background:#f7f8fa;border:1px solid #e1e5ea;border-radius:6px;padding:10px;overflow:auto;font-size:12px;max-height:480px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px}dt{color:#5b6675}dd{margin:0;font-family:ui-monospace,monospace;overflow-wrap:anywhere}
`;

/** Render the whole report. */
export function renderReport(input: ReportInput): string {
  const { run, records } = input;
  const confidence = typeof run.config.confidence === "number"
    ? run.config.confidence
    : 0.95;
  const inc = incumbentOf(records, { confidence });
  const baseline = records[0]?.avg ?? null;
  const tokens = records.reduce(
    (a, r) => addTokens(a, r.tokens),
    emptyTokens(),
  );
  const cost = records.reduce((a, r) => a + r.cost_usd, 0);
  const kept = records.filter((r) => r.iter > 0 && r.kept);
  const gain = inc && baseline !== null && baseline !== 0
    ? fmtPct((inc.mean - baseline) / Math.abs(baseline))
    : "—";
  const counts = new Map<string, number>();
  for (const r of records) {
    counts.set(markKind(r), (counts.get(markKind(r)) ?? 0) + 1);
  }
  const dl = (entries: [string, unknown][]) =>
    `<dl>${
      entries.map(([k, v]) =>
        `<dt>${esc(k)}</dt><dd>${
          esc(typeof v === "string" ? v : JSON.stringify(v))
        }</dd>`
      ).join("")
    }</dl>`;
  const diffs = kept.map((r) => {
    const patch = input.diffs.get(r.iter);
    return `<h3>iter ${r.iter}: ${
      esc(r.description.split("\n")[0] ?? "")
    }</h3>${
      patch === undefined
        ? "<p class=sub>(diff not found)</p>"
        : `<pre>${esc(patch)}</pre>`
    }`;
  }).join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>ratchet report ${esc(run.run_id)}</title><style>${CSS}</style></head>
<body data-records="${records.length}">
<h1>ratchet run ${esc(run.run_id)}</h1>
<div class="sub">${esc(String(run.config["metric-name"] ?? ""))} (${
    esc(String(run.config.direction ?? ""))
  }) · branch ${esc(run.branch)} · ${esc(run.state)}${
    run.stop_reason ? ` (${esc(run.stop_reason)})` : ""
  } · generated ${esc(input.generatedAt)}</div>
<div class="cards">
<div class="card">baseline<b>${esc(fmtNum(baseline))}</b></div>
<div class="card">best<b>${esc(fmtNum(inc?.mean))}</b>${
    inc?.ci ? esc(fmtCi(inc.ci)) : ""
  }</div>
<div class="card">gain<b>${esc(gain)}</b></div>
<div class="card">iterations<b>${records.length}</b>${kept.length} kept</div>
<div class="card">cost<b>${esc(fmtUsd(cost))}</b>${
    tokens.input + tokens.output
  } tokens</div>
</div>
<h2>Trajectory</h2>
${chartSvg(records, confidence)}
<div class="legend"><span><i class="dot" style="background:#16a34a"></i>kept (${
    counts.get("kept") ?? 0
  })</span><span><i class="dot" style="background:#9ca3af"></i>reverted (${
    counts.get("reverted") ?? 0
  })</span><span><i class="dot" style="background:#a21caf"></i>crashed (${
    counts.get("crashed") ?? 0
  })</span><span><i class="dot" style="background:#dc2626"></i>rejected (${
    counts.get("rejected") ?? 0
  })</span><span>— incumbent with its ${
    Math.round(confidence * 100)
  }% interval</span></div>
<h2>Iterations</h2>
<table id="iterations"><thead><tr><th>iter</th><th>decision</th><th>score</th><th>interval</th><th>p</th><th>effect</th><th>reason</th><th>tokens</th><th>cost</th><th>hypothesis</th><th>description</th></tr></thead>
<tbody>${records.map((r) => row(r, confidence)).join("\n")}</tbody></table>
<h2>Kept changes</h2>
${diffs || "<p class=sub>No change was kept.</p>"}
<h2>Tokens and cost</h2>
${
    dl([
      ["input", String(tokens.input)],
      ["output", String(tokens.output)],
      ["cache write", String(tokens.cache_write)],
      ["cache read", String(tokens.cache_read)],
      ["cost", fmtUsd(cost)],
    ])
  }
<h2>Configuration</h2>
${dl(Object.entries(run.config))}
<h2>Environment</h2>
${
    dl([
      ["run_id", run.run_id],
      ["start", run.start_sha],
      ["created", run.created_at],
      ["trial image", run.trial_image ?? "—"],
      ...Object.entries(input.environment),
    ])
  }
</body></html>
`;
}
