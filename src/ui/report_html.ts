/**
 * `ratchet report`: one self-contained HTML file (inline CSS, inline SVG, one
 * small inline script; no fonts, images or requests) with the trajectory
 * chart, one table row per iteration, the diff of each kept change, tokens
 * and cost, the configuration and the environment.
 *
 * Everything from records, config and diffs is escaped: hypotheses and
 * descriptions are a model's words and diffs are code. A Content Security
 * Policy forbids every fetch and allows only the report's own script (by its
 * hash), so even a mistake in escaping could not run injected script or
 * phone home.
 */
import { createHash } from "node:crypto";
import type { IterationRecord, Tokens } from "../core/state.ts";
import { addTokens, emptyTokens } from "../core/state.ts";
import type { Incumbent } from "../core/incumbent.ts";
import type { RunFile } from "../infra/store.ts";
import {
  decimalsFor,
  fmtFixed,
  incumbentSeries,
  MARK_KINDS,
  type MarkKind,
  markKind,
} from "./chart.ts";
import { fmtCi, fmtDuration, fmtNum, fmtPct, fmtUsd } from "./format.ts";
import { fmtP, guardsCell, ruleCell, trialCi } from "./log_view.ts";
import { claimOf, type Confirmation } from "../core/confirm.ts";
import { parseGuardSpec } from "../core/guards.ts";
import { detailText, ruleOfDetail } from "../core/rule_label.ts";
import { confirmationBasis, confirmationGuards, gainText } from "./claim.ts";

/** What the report shows. */
export interface ReportInput {
  run: RunFile;
  records: IterationRecord[];
  /** Patches of kept changes, by iteration. */
  diffs: Map<number, string>;
  /** ratchet version, Deno version, OS, Docker engine when known… */
  environment: Record<string, string>;
  generatedAt: string;
  /** `.ratchet/confirmation.json`: the claimed gain when it confirms this incumbent. */
  confirmation?: Confirmation | null;
}

/** Escape text for HTML content and attribute values. */
export function esc(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;").replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

/** Round for SVG coordinates: enough precision, much smaller files. */
function n1(x: number): string {
  return String(Math.round(x * 10) / 10);
}

/**
 * A log axis when every value is positive and the largest is more than 10×
 * the smallest.
 */
export function isLogScale(lo: number, hi: number): boolean {
  return lo > 0 && Number.isFinite(hi) && hi / lo > 10;
}

/**
 * Ticks of a log axis over [lo, hi] (log10 units): the powers of ten, with
 * 2× and 5× between them when fewer than four decades are shown.
 */
export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  const steps = hi - lo < 4 ? [1, 2, 5] : [1];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
    for (const m of steps) {
      const v = m * 10 ** e;
      const l = Math.log10(v);
      if (l >= lo && l <= hi) out.push(Number(v.toPrecision(12)));
    }
  }
  return out;
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step =
    [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) =>
      (hi - lo) / s <= count
    ) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    // Clean up the binary noise of repeated addition (0.30000000000000004).
    ticks.push(Number(v.toPrecision(12)));
  }
  return ticks;
}

const W = 1000;
const PLOT = { left: 76, right: 988, top: 34, bottom: 300 };
const LANE_Y = 322;
const AXIS_Y = 338;
const H = 382;

const COLORS: Record<MarkKind, string> = {
  kept: "#15803d",
  reverted: "#94a3b8",
  crashed: "#a21caf",
  rejected: "#dc2626",
};

/** The shape of one mark: a circle, a cross for crashes, a diamond for rejections. */
function markSvg(
  kind: MarkKind,
  iter: number,
  x: number,
  y: number,
  scale: number,
  title: string,
): string {
  const attrs = `class="mark ${kind}" data-iter="${iter}"`;
  const t = `<title>${esc(title)}</title>`;
  if (kind === "crashed") {
    const d = 4.5 * scale;
    return `<path ${attrs} d="M${n1(x - d)} ${n1(y - d)}L${n1(x + d)} ${
      n1(y + d)
    }M${n1(x - d)} ${n1(y + d)}L${n1(x + d)} ${n1(y - d)}">${t}</path>`;
  }
  if (kind === "rejected") {
    const d = 5.5 * scale;
    return `<path ${attrs} d="M${n1(x)} ${n1(y - d)}L${n1(x + d)} ${n1(y)}L${
      n1(x)
    } ${n1(y + d)}L${n1(x - d)} ${n1(y)}Z">${t}</path>`;
  }
  const r = (kind === "kept" ? 6 : 4.5) * scale;
  return `<circle ${attrs} cx="${n1(x)}" cy="${n1(y)}" r="${
    n1(r)
  }">${t}</circle>`;
}

/** A record's one-line summary for a mark's tooltip. */
function markTitle(r: IterationRecord): string {
  const chars = Array.from(r.hypothesis);
  const hyp = chars.length > 140
    ? chars.slice(0, 139).join("") + "…"
    : r.hypothesis;
  return [
    `iter ${r.iter}: ${r.decision}`,
    r.avg === null ? "no score" : `score ${fmtNum(r.avg)}`,
    r.reason ?? "",
    hyp,
  ].filter((p) => p !== "").join(" · ");
}

/**
 * The chart: incumbent line (a step: it changes at the iteration that kept
 * or re-measured it) over its interval band, one mark per record at its
 * score, records without a score in a lane on the x axis.
 */
function chartSvg(
  records: readonly IterationRecord[],
  inc: readonly (Incumbent | null)[],
  direction: "max" | "min" | undefined,
): string {
  let lo = Infinity;
  let hi = -Infinity;
  const see = (v: number) => {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  };
  for (const r of records) if (r.avg !== null) see(r.avg);
  for (const v of inc) {
    if (v === null) continue;
    see(v.mean);
    if (v.ci) {
      see(v.ci[0]);
      see(v.ci[1]);
    }
  }
  if (lo === Infinity) {
    lo = 0;
    hi = 1;
  }
  if (lo === hi) {
    lo -= Math.abs(lo) * 0.05 || 1;
    hi += Math.abs(hi) * 0.05 || 1;
  }
  // Scores spanning more than 10× (a time cut from 0.08 s to 0.0008 s) sit
  // on the floor of a linear axis after the first big gain: use a log axis.
  const log = isLogScale(lo, hi);
  const t = (v: number) => log ? Math.log10(v) : v;
  if (log) {
    lo = Math.log10(lo);
    hi = Math.log10(hi);
  }
  const margin = (hi - lo) * 0.06;
  lo -= margin;
  hi += margin;
  const first = records[0]?.iter ?? 0;
  const last = records.at(-1)?.iter ?? 0;
  const span = Math.max(1, last - first);
  const x = (iter: number) =>
    records.length === 1
      ? (PLOT.left + PLOT.right) / 2
      : PLOT.left + ((iter - first) / span) * (PLOT.right - PLOT.left - 12) +
        6;
  const y = (v: number) =>
    PLOT.top + ((hi - t(v)) / (hi - lo)) * (PLOT.bottom - PLOT.top);
  const out: string[] = [];

  // Grid and axes.
  const ticks = log ? logTicks(lo, hi) : niceTicks(lo, hi, 6);
  for (const tick of ticks) {
    out.push(
      `<line class="grid" x1="${PLOT.left}" y1="${
        n1(y(tick))
      }" x2="${PLOT.right}" y2="${n1(y(tick))}"/><text class="label" x="${
        PLOT.left - 8
      }" y="${n1(y(tick) + 4)}" text-anchor="end">${esc(fmtNum(tick))}</text>`,
    );
  }
  if (log) {
    out.push(
      `<text class="label axis-scale" x="${PLOT.right}" y="${
        PLOT.top - 14
      }" text-anchor="end">log scale (scores span ${
        Math.round(10 ** (hi - lo - 2 * margin))
      }×)</text>`,
    );
  }
  out.push(
    `<line class="axis" x1="${PLOT.left}" y1="${AXIS_Y}" x2="${PLOT.right}" y2="${AXIS_Y}"/>`,
    `<line class="lane" x1="${PLOT.left}" y1="${LANE_Y}" x2="${PLOT.right}" y2="${LANE_Y}"/>`,
    `<text class="label" x="${PLOT.left - 8}" y="${
      LANE_Y + 4
    }" text-anchor="end">no score</text>`,
  );
  const xTicks = niceTicks(first, last, 10).filter((t) => Number.isInteger(t));
  for (const t of xTicks) {
    out.push(
      `<line class="axis" x1="${n1(x(t))}" y1="${AXIS_Y}" x2="${
        n1(x(t))
      }" y2="${AXIS_Y + 5}"/><text class="label" x="${n1(x(t))}" y="${
        AXIS_Y + 19
      }" text-anchor="middle">${t}</text>`,
    );
  }
  out.push(
    `<text class="label" x="${(PLOT.left + PLOT.right) / 2}" y="${
      H - 6
    }" text-anchor="middle">iteration</text>`,
  );
  if (direction) {
    out.push(
      `<text class="label dir" x="${PLOT.left + 4}" y="${PLOT.top - 14}">${
        direction === "max" ? "↑ higher is better" : "↓ lower is better"
      }</text>`,
    );
  }

  // Incumbent: constant stretches between the records that change it.
  const segments: { x0: number; x1: number; v: Incumbent }[] = [];
  records.forEach((r, i) => {
    const v = inc[i];
    if (!v) return;
    const x1 = i + 1 < records.length ? x(records[i + 1]!.iter) : x(r.iter);
    const prev = segments.at(-1);
    if (
      prev && prev.v.mean === v.mean && prev.v.ci?.[0] === v.ci?.[0] &&
      prev.v.ci?.[1] === v.ci?.[1] && prev.x1 === x(r.iter)
    ) {
      prev.x1 = x1;
    } else segments.push({ x0: x(r.iter), x1, v });
  });
  for (const s of segments) {
    if (!s.v.ci) continue;
    const top = y(s.v.ci[1]);
    out.push(
      `<rect class="band" x="${n1(s.x0)}" y="${n1(top)}" width="${
        n1(Math.max(s.x1 - s.x0, 1))
      }" height="${n1(Math.max(y(s.v.ci[0]) - top, 0.5))}"/>`,
    );
  }
  if (segments.length > 0) {
    let d = "";
    segments.forEach((s, i) => {
      const prev = segments[i - 1];
      d += prev && prev.x1 === s.x0
        ? `V${n1(y(s.v.mean))}H${n1(s.x1)}`
        : `M${n1(s.x0)} ${n1(y(s.v.mean))}H${n1(s.x1)}`;
    });
    out.push(`<path class="incumbent" d="${d}"/>`);
  }

  // Marks: scale down when there are many; kept ones last so they sit on top.
  const scale = Math.max(0.35, Math.min(1, 600 / records.length));
  const order = [...MARK_KINDS].reverse();
  for (const kind of order) {
    for (const r of records) {
      if (markKind(r) !== kind) continue;
      out.push(markSvg(
        kind,
        r.iter,
        x(r.iter),
        r.avg === null ? LANE_Y : y(r.avg),
        scale,
        markTitle(r),
      ));
    }
  }
  return `<svg id="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="score by iteration">${
    out.join("")
  }</svg>`;
}

/**
 * A card's value and subtitle for a mean with its interval, rounded to what
 * the interval supports: ["9.63", "[9.48, 9.79] at iter 8"].
 */
function estimateParts(
  mean: number | null,
  ci: [number, number] | null,
  suffix: string,
): [string, string] {
  if (mean === null) return ["—", suffix];
  const d = ci ? decimalsFor((ci[1] - ci[0]) / 2) : null;
  return [
    fmtFixed(mean, d),
    ci ? `[${fmtFixed(ci[0], d)}, ${fmtFixed(ci[1], d)}] ${suffix}` : suffix,
  ];
}

function tokenTotal(t: Tokens): number {
  return t.input + t.output + t.cache_write + t.cache_read;
}

function criticHtml(r: IterationRecord): string {
  const c = r.critic;
  if (c === null) return "";
  const items = c.proposals.map((p, i) =>
    `<li${i === (c.choice === "A" ? 0 : 1) ? ' class="chosen"' : ""}><b>${
      esc(p.title)
    }</b>: ${esc(p.hypothesis)}<div class="sub">${esc(p.plan)}</div></li>`
  ).join("");
  return `<details class="critic"><summary>critic chose ${
    esc(c.choice)
  }</summary><ol type="A">${items}</ol><div class="sub">${
    esc(c.rationale)
  }</div></details>`;
}

/** Characters of a record's detail shown before the rest is one click away. */
export const DETAIL_SHOWN = 240;

/**
 * A record's detail cell: short ones in full, long ones (a check command's
 * output) cut at {@linkcode DETAIL_SHOWN} characters with the whole text
 * one click away (`<details>`, no script needed).
 */
export function detailHtml(detail: string): string {
  if (detail === "") return "";
  const chars = Array.from(detail);
  if (chars.length <= DETAIL_SHOWN && !detail.includes("\n")) {
    return `<div class="detail">${esc(detail)}</div>`;
  }
  const head = chars.slice(0, DETAIL_SHOWN).join("").split("\n")[0]!;
  return `<details class="detail long"><summary>${
    esc(head)
  }… <span class="more">(${chars.length} characters: show all)</span></summary><pre>${
    esc(detail)
  }</pre></details>`;
}

function row(
  r: IterationRecord,
  confidence: number,
  columns: { rule: boolean; guards: boolean },
): string {
  const ok = r.trial_scores.filter((s): s is number => s !== null);
  const ci = trialCi(r, confidence);
  const d = ci ? decimalsFor((ci[1] - ci[0]) / 2) : null;
  const trials = r.trial_scores.length === 0
    ? "—"
    : `${ok.length}/${r.trial_scores.length}`;
  const cells = [
    `<td class="num">${r.iter}</td>`,
    `<td><span class="badge ${esc(r.decision)}">${esc(r.decision)}</span></td>`,
    `<td class="num">${r.avg === null ? "—" : esc(fmtFixed(r.avg, d))}</td>`,
    `<td class="num">${
      ci ? esc(`[${fmtFixed(ci[0], d)}, ${fmtFixed(ci[1], d)}]`) : "—"
    }</td>`,
    `<td class="num">${esc(trials)}</td>`,
    `<td class="num">${esc(fmtP(r.p_value))}</td>`,
    `<td class="num">${esc(fmtPct(r.effect))}${
      r.ci ? `<div class="sub">${esc(fmtCi(r.ci, true))}</div>` : ""
    }</td>`,
    ...(columns.rule ? [`<td class="rule">${esc(ruleCell(r))}</td>`] : []),
    ...(columns.guards
      ? [`<td class="guards">${esc(guardsCell(r))}</td>`]
      : []),
    `<td>${r.reason ? `<code>${esc(r.reason)}</code>` : ""}${
      detailHtml(columns.rule ? detailText(r.detail) : r.detail)
    }</td>`,
    `<td class="num">${tokenTotal(r.tokens).toLocaleString("en-US")}</td>`,
    `<td class="num">${esc(fmtUsd(r.cost_usd))}</td>`,
    `<td class="num">${esc(fmtDuration(r.duration_s))}</td>`,
    `<td class="text">${esc(r.hypothesis)}</td>`,
    `<td class="text">${esc(r.description)}${criticHtml(r)}</td>`,
  ];
  return `<tr id="iter-${r.iter}" data-iter="${r.iter}" class="${
    markKind(r)
  }">${cells.join("")}</tr>`;
}

/** A patch with its lines classed for colour (added, removed, hunk, header). */
function diffHtml(patch: string): string {
  return patch.replace(/\n$/, "").split("\n").map((line) => {
    const cls = /^(diff |index |--- |\+\+\+ )/.test(line)
      ? "meta"
      : line.startsWith("@@")
      ? "hunk"
      : line.startsWith("+")
      ? "add"
      : line.startsWith("-")
      ? "del"
      : "";
    return cls ? `<span class="${cls}">${esc(line)}</span>` : esc(line);
  }).join("\n");
}

function dl(entries: [string, unknown][]): string {
  return `<dl>${
    entries.map(([k, v]) =>
      `<dt>${esc(k)}</dt><dd>${
        esc(typeof v === "string" ? v : JSON.stringify(v) ?? String(v))
      }</dd>`
    ).join("")
  }</dl>`;
}

/**
 * Inline behaviour: clicking a mark highlights its table row, and the page
 * records what it rendered (marks of each kind, table rows) on <body> so a
 * browser test can read the counts the DOM really holds.
 */
const SCRIPT = `(() => {
  const counts = {};
  for (const k of ${JSON.stringify(MARK_KINDS)}) {
    counts[k] = document.querySelectorAll("#chart .mark." + k).length;
  }
  document.body.dataset.marks = JSON.stringify(counts);
  document.body.dataset.rows = String(
    document.querySelectorAll("#iterations tbody tr[data-iter]").length,
  );
  document.getElementById("chart").addEventListener("click", (e) => {
    const mark = e.target.closest(".mark");
    const row = mark && document.getElementById("iter-" + mark.dataset.iter);
    if (!row) return;
    for (const r of document.querySelectorAll("tr.hl")) r.classList.remove("hl");
    row.classList.add("hl");
    row.scrollIntoView({ block: "center", behavior: "smooth" });
  });
})();`;

const SCRIPT_HASH = createHash("sha256").update(SCRIPT).digest("base64");

const CSP = [
  "default-src 'none'",
  "style-src 'unsafe-inline'",
  `script-src 'sha256-${SCRIPT_HASH}'`,
  "img-src data:",
].join("; ");

const CSS = `
:root{--fg:#1e293b;--muted:#64748b;--line:#e2e8f0;--soft:#f8fafc}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1320px;color:var(--fg);padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:32px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:14px;margin:18px 0 6px}
.sub{color:var(--muted);font-size:12px}code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px;margin:18px 0}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 14px;background:#fff}
.card .k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .v{font-size:20px;font-weight:600;margin:2px 0}.good{color:#15803d}.bad{color:#b91c1c}
#chart{width:100%;height:auto;border:1px solid var(--line);border-radius:8px;background:#fff}
#chart .grid{stroke:#eef2f6}#chart .axis{stroke:#94a3b8}#chart .lane{stroke:#e2e8f0;stroke-dasharray:3 4}
#chart .label{font-size:12px;fill:var(--muted)}#chart .dir{font-weight:600}
#chart .band{fill:#3b82f6;opacity:.14}#chart .incumbent{fill:none;stroke:#2563eb;stroke-width:2}
#chart .mark{cursor:pointer}#chart .mark.kept{fill:${COLORS.kept};stroke:#fff;stroke-width:1.5}
#chart .mark.reverted{fill:${COLORS.reverted}}#chart .mark.rejected{fill:${COLORS.rejected}}
#chart .mark.crashed{fill:none;stroke:${COLORS.crashed};stroke-width:2.5;stroke-linecap:round}
.legend{display:flex;flex-wrap:wrap;gap:6px 18px;margin:8px 2px;font-size:13px}
.legend svg{vertical-align:-2px;margin-right:5px}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid var(--line);padding:6px 7px;text-align:left;vertical-align:top}
th{background:var(--soft);position:sticky;top:0;font-weight:600;white-space:nowrap}
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
td.text{min-width:180px;max-width:340px;overflow-wrap:anywhere}
tr.kept td:first-child{box-shadow:inset 3px 0 ${COLORS.kept}}tr.crashed td:first-child{box-shadow:inset 3px 0 ${COLORS.crashed}}
tr.rejected td:first-child{box-shadow:inset 3px 0 ${COLORS.rejected}}
tr.hl td,tr:target td{background:#fef9c3}
.detail{color:var(--muted);font-size:12px;max-width:300px;overflow-wrap:anywhere}
details.detail summary{cursor:pointer}details.detail .more{color:#2563eb}details.detail pre{max-height:320px;white-space:pre-wrap}
td.rule,td.guards{white-space:nowrap;font-size:12px}
.guard-charts{display:flex;flex-wrap:wrap;gap:12px}.guard-chart{width:480px;max-width:100%;height:auto;border:1px solid var(--line);border-radius:8px;background:#fff}
.guard-chart .grid{stroke:#eef2f6}.guard-chart .label{font-size:11px;fill:var(--muted)}.guard-chart .dir{font-weight:600}
.guard-chart .incumbent{fill:none;stroke:#2563eb;stroke-width:2}.guard-chart .bound{fill:none;stroke:#dc2626;stroke-width:1.2;stroke-dasharray:4 3}
.guard-chart .mark.kept{fill:${COLORS.kept}}.guard-chart .mark.reverted{fill:${COLORS.reverted}}.guard-chart .mark.crashed{fill:${COLORS.crashed}}.guard-chart .mark.rejected{fill:${COLORS.rejected}}
.badge{border-radius:4px;padding:1px 7px;font-size:12px;background:#f1f5f9;white-space:nowrap}
.badge.improved,.badge.baseline{background:#dcfce7;color:#14532d}.badge.regressed{background:#ffedd5;color:#7c2d12}
.badge.rejected{background:#fee2e2;color:#7f1d1d}.badge.crashed{background:#fae8ff;color:#701a75}
.badge.inconclusive{background:#fef9c3;color:#713f12}
details.critic{margin-top:4px;font-size:12px}details.critic ol{margin:4px 0;padding-left:20px}li.chosen{font-weight:600}
pre{background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:10px 12px;overflow:auto;font:12px/1.5 ui-monospace,SFMono-Regular,Menlo,monospace;max-height:520px}
pre .add{color:#166534;background:#f0fdf4;display:inline-block;width:100%}pre .del{color:#991b1b;background:#fef2f2;display:inline-block;width:100%}
pre .hunk{color:#6d28d9}pre .meta{color:var(--muted);font-weight:600}
dl{display:grid;grid-template-columns:max-content 1fr;gap:3px 18px;margin:0}dt{color:var(--muted)}
dd{margin:0;font:12px/1.6 ui-monospace,SFMono-Regular,Menlo,monospace;overflow-wrap:anywhere}
.totals td,.totals th{text-align:right}.totals{width:auto}
footer{margin-top:36px;color:var(--muted);font-size:12px}
`;

function legendSwatch(kind: MarkKind): string {
  const inner = kind === "crashed"
    ? `<path d="M2 2L10 10M2 10L10 2" stroke="${COLORS.crashed}" stroke-width="2.5" stroke-linecap="round"/>`
    : kind === "rejected"
    ? `<path d="M6 0L12 6L6 12L0 6Z" fill="${COLORS.rejected}"/>`
    : `<circle cx="6" cy="6" r="${kind === "kept" ? 5.5 : 4.5}" fill="${
      COLORS[kind]
    }"/>`;
  return `<svg width="12" height="12" viewBox="0 0 12 12" aria-hidden="true">${inner}</svg>`;
}

/** The claimed gain's section: what was measured, and each guard's change. */
function claimHtml(
  claim: ReturnType<typeof claimOf>,
): string {
  if (claim === null) return "";
  const guards = confirmationGuards(claim.result);
  return `<h2>Claimed gain</h2>
<p id="claim"><b>${esc(gainText(claim.result.gain, claim.result.ci))}</b>: ${
    esc(confirmationBasis(claim))
  }. ${esc(claim.result.detail)}.${
    guards.length > 0 ? ` Guards: ${esc(guards.join(", "))}.` : ""
  }</p>
`;
}

/**
 * One small chart per guard (`--guard`): each record's guard average by
 * kind of mark, the kept changes' values as a step line, and the bound the
 * next candidate must stay within (the kept value made worse by the
 * tolerance), dashed.
 */
function guardChartsHtml(
  config: Record<string, unknown>,
  records: readonly IterationRecord[],
): string {
  const specs = (Array.isArray(config.guard) ? config.guard : []).flatMap(
    (text) => {
      const g = parseGuardSpec(String(text));
      return g.ok ? [g.guard] : [];
    },
  );
  if (specs.length === 0 || records.length === 0) return "";
  const w = 480;
  const h = 150;
  const box = { left: 56, right: w - 10, top: 26, bottom: h - 18 };
  const charts = specs.map((g) => {
    const points = records.flatMap((r) => {
      const v = r.guards?.[g.name]?.avg ?? null;
      return v === null ? [] : [{ r, v }];
    });
    let kept: number | null = null;
    const steps = records.map((r) => {
      const v = r.guards?.[g.name]?.avg ?? null;
      if (r.kept && v !== null) kept = v;
      return kept;
    });
    const bound = (v: number) =>
      v * (g.direction === "max" ? 1 - g.tolerance : 1 + g.tolerance);
    const values = [
      ...points.map((p) => p.v),
      ...steps.flatMap((v) => v === null ? [] : [v, bound(v)]),
    ];
    let lo = Math.min(...values);
    let hi = Math.max(...values);
    if (!(hi > lo)) {
      lo -= Math.abs(lo) * 0.05 || 1;
      hi += Math.abs(hi) * 0.05 || 1;
    }
    const first = records[0]!.iter;
    const span = Math.max(1, records.at(-1)!.iter - first);
    const x = (iter: number) =>
      box.left + ((iter - first) / span) * (box.right - box.left);
    const y = (v: number) =>
      box.top + ((hi - v) / (hi - lo)) * (box.bottom - box.top);
    const parts: string[] = [];
    for (const t of niceTicks(lo, hi, 3)) {
      parts.push(
        `<line class="grid" x1="${box.left}" y1="${
          n1(y(t))
        }" x2="${box.right}" y2="${n1(y(t))}"/><text class="label" x="${
          box.left - 6
        }" y="${n1(y(t) + 4)}" text-anchor="end">${esc(fmtNum(t))}</text>`,
      );
    }
    let line = "";
    let dash = "";
    records.forEach((r, i) => {
      const v = steps[i];
      if (v === null || v === undefined) return;
      const x1 = i + 1 < records.length ? x(records[i + 1]!.iter) : x(r.iter);
      line += `M${n1(x(r.iter))} ${n1(y(v))}H${n1(x1)}`;
      dash += `M${n1(x(r.iter))} ${n1(y(bound(v)))}H${n1(x1)}`;
    });
    parts.push(
      `<path class="incumbent" d="${line}"/><path class="bound" d="${dash}"/>`,
    );
    for (const p of points) {
      parts.push(
        `<circle class="mark ${markKind(p.r)}" data-iter="${p.r.iter}" cx="${
          n1(x(p.r.iter))
        }" cy="${n1(y(p.v))}" r="3.5"><title>${
          esc(
            `iter ${p.r.iter}: ${g.name} ${fmtNum(p.v)}${
              p.r.reason === "guard_regressed" ? " (guard_regressed)" : ""
            }`,
          )
        }</title></circle>`,
      );
    }
    parts.push(
      `<text class="label dir" x="${box.left}" y="${box.top - 10}">${
        esc(
          `${g.name} (${
            g.direction === "max" ? "higher" : "lower"
          } is better, tolerance ${
            Number((g.tolerance * 100).toPrecision(3))
          }%)`,
        )
      }</text>`,
    );
    return `<svg class="guard-chart" data-guard="${
      esc(g.name)
    }" viewBox="0 0 ${w} ${h}" role="img" aria-label="${
      esc(`guard ${g.name} by iteration`)
    }">${parts.join("")}</svg>`;
  });
  return `<h2>Guards</h2>
<div class="guard-charts">${charts.join("")}</div>
<div class="legend sub">Each guard's average per iteration; the solid line is the kept value, the dashed line the bound a candidate must stay within.</div>
`;
}

/** Render the whole report as one HTML document. */
export function renderReport(input: ReportInput): string {
  const { run, records } = input;
  const confidence = typeof run.config.confidence === "number"
    ? run.config.confidence
    : 0.95;
  const direction = run.config.direction === "max" ||
      run.config.direction === "min"
    ? run.config.direction
    : undefined;
  const series = incumbentSeries(records, { confidence });
  const best = series.at(-1) ?? null;
  const base = records[0];
  const baseCi = base ? trialCi(base, confidence) : null;
  const baseline = base?.avg ?? null;
  let tokens = emptyTokens();
  let cost = 0;
  let seconds = 0;
  const counts: Record<MarkKind, number> = {
    kept: 0,
    reverted: 0,
    crashed: 0,
    rejected: 0,
  };
  for (const r of records) {
    tokens = addTokens(tokens, r.tokens);
    cost += r.cost_usd;
    seconds += r.duration_s;
    counts[markKind(r)]++;
  }
  const kept = records.filter((r) => r.iter > 0 && r.kept);
  const gain = best && baseline !== null && baseline !== 0 && best.iter > 0
    ? (best.mean - baseline) / Math.abs(baseline)
    : null;
  const gainClass = gain === null || direction === undefined
    ? ""
    : (direction === "max" ? gain > 0 : gain < 0)
    ? "good"
    : "bad";
  const metric = String(run.config["metric-name"] ?? "score");
  const claim = claimOf(
    input.confirmation ?? null,
    run.run_id,
    best?.sha ?? null,
  );
  const claimGain = claim?.result.gain ?? null;
  const claimClass = claimGain === null || direction === undefined
    ? ""
    : (direction === "max" ? claimGain > 0 : claimGain < 0)
    ? "good"
    : "bad";
  const columns = {
    rule: records.some((r) => ruleOfDetail(r.detail) !== null),
    guards: records.some((r) => r.guards !== null),
  };

  const card = (k: string, v: string, sub: string, cls = "") =>
    `<div class="card"><div class="k">${esc(k)}</div><div class="v ${cls}">${
      esc(v)
    }</div><div class="sub">${esc(sub)}</div></div>`;

  const diffs = kept.map((r) => {
    const patch = input.diffs.get(r.iter);
    const st = r.diff_stat;
    return `<h3>iter ${r.iter}: ${esc(r.description.split("\n")[0] ?? "")}</h3>
<div class="sub">${esc(fmtPct(r.effect))} · ${
      r.sha ? `<code>${esc(r.sha.slice(0, 12))}</code> · ` : ""
    }${st.files} file(s), +${st.insertions} −${st.deletions}</div>
${
      patch === undefined
        ? `<p class="sub">(no diff found in .ratchet/diffs/)</p>`
        : `<pre>${diffHtml(patch)}</pre>`
    }`;
  }).join("\n");

  const stateText = run.state === "finished"
    ? `finished${run.stop_reason ? ` (${run.stop_reason})` : ""}`
    : run.stop_reason
    ? `stopped (${run.stop_reason}), resumable`
    : "running";

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(CSP)}">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>ratchet report ${esc(run.run_id)}</title><style>${CSS}</style></head>
<body data-records="${records.length}">
<h1>ratchet run ${esc(run.run_id)}</h1>
<div class="sub">${esc(metric)}${
    direction ? ` (${direction === "max" ? "higher" : "lower"} is better)` : ""
  } · branch <code>${esc(run.branch)}</code> · ${esc(stateText)} · generated ${
    esc(input.generatedAt)
  }</div>
<div class="cards">
${
    card(
      "baseline",
      ...estimateParts(baseline, baseCi, "at iter 0"),
    )
  }
${
    card(
      "best",
      ...(best
        ? estimateParts(best.mean, best.ci, `at iter ${best.iter}`)
        : ["—", "no kept change"] as [string, string]),
    )
  }
${
    claim === null
      ? card("gain", fmtPct(gain), "best vs baseline, not confirmed", gainClass)
      : card(
        "claimed gain",
        gainText(claim.result.gain, claim.result.ci),
        `start commit vs iter ${claim.incumbent_iter}, interleaved at the end (${claim.result.final.n} vs ${claim.result.baseline.n} trials)`,
        claimClass,
      )
  }
${
    card(
      "iterations",
      String(records.length),
      `${kept.length} change(s) kept · ${counts.crashed} crashed · ${counts.rejected} rejected`,
    )
  }
${
    card(
      "cost",
      fmtUsd(cost),
      `${tokenTotal(tokens).toLocaleString("en-US")} tokens`,
    )
  }
${card("time", fmtDuration(seconds), "sum of iterations")}
</div>
<h2>Trajectory</h2>
${chartSvg(records, series, direction)}
<div class="legend">${
    MARK_KINDS.map((k) => `<span>${legendSwatch(k)}${k} (${counts[k]})</span>`)
      .join("")
  }<span><svg width="22" height="12" aria-hidden="true"><rect x="0" y="2" width="22" height="8" fill="#3b82f6" opacity=".14"/><path d="M0 6H22" stroke="#2563eb" stroke-width="2"/></svg>incumbent (latest measured mean) with its ${
    esc(String(Math.round(confidence * 1000) / 10))
  }% interval</span><span class="sub">iterations without a score sit on the “no score” lane; click a mark for its row</span></div>
${claimHtml(claim)}${guardChartsHtml(run.config, records)}
<h2>Iterations</h2>
<div class="table-wrap"><table id="iterations"><thead><tr><th>iter</th><th>decision</th><th>score</th><th>interval</th><th>trials ok</th><th>p</th><th>effect</th>${
    columns.rule ? "<th>rule</th>" : ""
  }${
    columns.guards ? "<th>guards</th>" : ""
  }<th>reason / detail</th><th>tokens</th><th>cost</th><th>time</th><th>hypothesis</th><th>description</th></tr></thead>
<tbody>
${records.map((r) => row(r, confidence, columns)).join("\n")}
</tbody></table></div>
<h2>Kept changes</h2>
${diffs || `<p class="sub">No change was kept.</p>`}
<h2>Tokens and cost</h2>
<table class="totals"><thead><tr><th>input</th><th>output</th><th>cache write</th><th>cache read</th><th>total tokens</th><th>cost</th></tr></thead>
<tbody><tr>${
    [
      tokens.input,
      tokens.output,
      tokens.cache_write,
      tokens.cache_read,
      tokenTotal(tokens),
    ].map((v) => `<td>${v.toLocaleString("en-US")}</td>`).join("")
  }<td>${esc(fmtUsd(cost))}</td></tr></tbody></table>
<h2>Configuration</h2>
${dl(Object.entries(run.config))}
<h2>Environment</h2>
${
    dl([
      ...Object.entries(input.environment),
      ["trial image", run.trial_image ?? "—"],
      ["deterministic metric", run.deterministic ?? "—"],
      ["unit", run.unit ?? "—"],
      ["start commit", run.start_sha],
      ["started", run.created_at],
      ["finished", run.finished_at ?? "—"],
    ])
  }
<footer>Generated by ratchet at ${
    esc(input.generatedAt)
  }. This file is self-contained: no network, no external files.</footer>
<script>${SCRIPT}</script>
</body></html>
`;
}
