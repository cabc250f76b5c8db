/** The report's per-guard charts (inline SVG), one per `--guard`. */
import type { IterationRecord } from "../../core/state.ts";
import { parseGuardSpec } from "../../core/guards.ts";
import { markKind } from "../chart.ts";
import { fmtNum } from "../format.ts";
import { niceTicks } from "./axis.ts";
import { esc, n1 } from "./format.ts";

/**
 * One small chart per guard (`--guard`): each record's guard average by
 * kind of mark, the kept changes' values as a step line, and the bound the
 * next candidate must stay within (the kept value made worse by the
 * tolerance), dashed.
 */
export function guardChartsHtml(
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
