/** `ratchet log`: one row per iteration, then the trajectory chart. */
import type { IterationRecord } from "../core/state.ts";
import { meanCi } from "../core/stats.ts";
import { renderChart } from "./chart.ts";
import { fmtCi, fmtNum, fmtPct, fmtUsd } from "./format.ts";
import { styles } from "./output.ts";

/** The score cell: mean, with the interval of its trials when there are two or more. */
export function scoreCell(r: IterationRecord, confidence: number): string {
  if (r.avg === null) return "—";
  const ok = r.trial_scores.filter((s): s is number => s !== null);
  const ci = ok.length >= 2 ? meanCi(ok, confidence) : null;
  return `${fmtNum(r.avg)}${ci ? ` ${fmtCi(ci)}` : ""}`;
}

/** Render the table and the chart. */
export function renderLog(
  records: readonly IterationRecord[],
  options: { color: boolean; width: number; confidence?: number },
): string {
  if (records.length === 0) return "No iterations recorded yet.";
  const s = styles(options.color);
  const confidence = options.confidence ?? 0.95;
  const header = [
    "iter",
    "decision",
    "score",
    "p",
    "effect",
    "cost",
    "hypothesis",
  ];
  const rows = records.map((r) => [
    String(r.iter),
    r.decision,
    scoreCell(r, confidence),
    r.p_value === null ? "—" : r.p_value.toPrecision(2),
    fmtPct(r.effect),
    r.cost_usd > 0 ? fmtUsd(r.cost_usd) : "—",
    r.hypothesis.replaceAll("\n", " ") ||
    (r.reason ? `(${r.reason})` : ""),
  ]);
  const widths = header.slice(0, 6).map((h, i) =>
    Math.max(h.length, ...rows.map((row) => row[i]!.length))
  );
  const used = widths.reduce((a, b) => a + b + 2, 0);
  const hypWidth = Math.max(10, options.width - used);
  const fmtRow = (row: string[]) =>
    row.slice(0, 6).map((c, i) =>
      i <= 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)
    )
      .join("  ") +
    "  " +
    (row[6]!.length > hypWidth
      ? row[6]!.slice(0, hypWidth - 1) + "…"
      : row[6]!);
  const lines = [s.bold(fmtRow(header)), ...rows.map(fmtRow)];
  lines.push(
    "",
    renderChart(records, {
      width: options.width,
      height: 10,
      color: options.color,
    }),
  );
  return lines.join("\n");
}
