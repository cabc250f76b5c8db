/**
 * The report's trajectory chart (inline SVG): the incumbent as a step line
 * over its interval band, one mark per record at its score, and its legend.
 */
import type { IterationRecord } from "../../core/state.ts";
import type { Incumbent } from "../../core/incumbent.ts";
import { MARK_KINDS, type MarkKind, markKind } from "../chart.ts";
import { fmtNum } from "../format.ts";
import { isLogScale, logTicks, niceTicks } from "./axis.ts";
import { esc, n1 } from "./format.ts";
import { COLORS } from "./page.ts";

const W = 1000;
const PLOT = { left: 76, right: 988, top: 34, bottom: 300 };
const LANE_Y = 322;
const AXIS_Y = 338;
const H = 382;

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
export function chartSvg(
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

/** The chart's legend: each kind of mark with its count, the band, the lane. */
export function trajectoryLegend(
  counts: Record<MarkKind, number>,
  confidence: number,
): string {
  return `<div class="legend">${
    MARK_KINDS.map((k) => `<span>${legendSwatch(k)}${k} (${counts[k]})</span>`)
      .join("")
  }<span><svg width="22" height="12" aria-hidden="true"><rect x="0" y="2" width="22" height="8" fill="#3b82f6" opacity=".14"/><path d="M0 6H22" stroke="#2563eb" stroke-width="2"/></svg>incumbent (latest measured mean) with its ${
    esc(String(Math.round(confidence * 1000) / 10))
  }% interval</span><span class="sub">iterations without a score sit on the “no score” lane; click a mark for its row</span></div>`;
}
