/**
 * A terminal chart of a run's trajectory: each iteration's score as a mark
 * (kept, reverted, crashed, rejected) and the incumbent as a line.
 */
import type { IterationRecord } from "../core/state.ts";
import { fmtNum } from "./format.ts";
import { styles } from "./output.ts";

/** How a record shows in charts. */
export type MarkKind = "kept" | "reverted" | "crashed" | "rejected";

/** The mark kind of a record. */
export function markKind(r: IterationRecord): MarkKind {
  if (r.kept) return "kept";
  if (r.decision === "crashed") return "crashed";
  if (r.decision === "rejected") return "rejected";
  return "reverted";
}

const GLYPH: Record<MarkKind, string> = {
  kept: "●",
  reverted: "·",
  crashed: "x",
  rejected: "!",
};

/** The incumbent's value after each record (the last kept avg). */
export function incumbentLine(
  records: readonly IterationRecord[],
): (number | null)[] {
  let current: number | null = null;
  return records.map((r) => {
    if (r.kept && r.avg !== null) current = r.avg;
    return current;
  });
}

/** Render the chart; iterations are compressed into `width` columns when needed. */
export function renderChart(
  records: readonly IterationRecord[],
  options: { width: number; height: number; color: boolean },
): string {
  if (records.length === 0) return "";
  const s = styles(options.color);
  const color: Record<MarkKind, (t: string) => string> = {
    kept: s.green,
    reverted: s.gray,
    crashed: s.magenta,
    rejected: s.red,
  };
  const labelWidth = 10;
  const available = Math.max(10, options.width - labelWidth - 2);
  // Spread short runs out (up to 4 columns an iteration); squeeze long ones.
  const cols = Math.min(available, Math.max(10, records.length * 4));
  const height = Math.max(3, options.height);
  const inc = incumbentLine(records);
  const values = [...records.map((r) => r.avg), ...inc].filter((
    v,
  ): v is number => v !== null);
  if (values.length === 0) return "(no scores yet)";
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (lo === hi) {
    lo -= Math.abs(lo) * 0.05 || 1;
    hi += Math.abs(hi) * 0.05 || 1;
  }
  const rowOf = (v: number) =>
    Math.round(((hi - v) / (hi - lo)) * (height - 1));
  const grid: string[][] = Array.from(
    { length: height },
    () => Array.from({ length: cols }, () => " "),
  );
  const last = Math.max(1, records.length - 1);
  const colOf = (i: number) => Math.round((i * (cols - 1)) / last);
  // Incumbent line first (held until the next record), marks on top of it.
  records.forEach((_, i) => {
    const v = inc[i];
    if (v === null || v === undefined) return;
    const end = i === records.length - 1 ? colOf(i) : colOf(i + 1) - 1;
    for (let c = colOf(i); c <= end; c++) grid[rowOf(v)]![c] = s.blue("─");
  });
  const rank: Record<MarkKind, number> = {
    kept: 3,
    crashed: 2,
    rejected: 1,
    reverted: 0,
  };
  const shown: (MarkKind | null)[] = Array.from({ length: cols }, () => null);
  records.forEach((r, i) => {
    const kind = markKind(r);
    const c = colOf(i);
    const prev = shown[c];
    if (prev !== null && prev !== undefined && rank[prev] > rank[kind]) return;
    shown[c] = kind;
    const row = r.avg === null ? height - 1 : rowOf(r.avg);
    grid[row]![c] = color[kind](GLYPH[kind]);
  });
  const lines = grid.map((row, i) => {
    const label = i === 0 ? fmtNum(hi) : i === height - 1 ? fmtNum(lo) : "";
    return `${label.padStart(labelWidth - 1)} │${row.join("")}`;
  });
  lines.push(`${" ".repeat(labelWidth - 1)} └${"─".repeat(cols)}`);
  const lastLabel = String(records.at(-1)!.iter);
  lines.push(
    `${" ".repeat(labelWidth + 1)}iter 0${
      " ".repeat(Math.max(1, cols - 6 - lastLabel.length))
    }${lastLabel}`,
  );
  lines.push(
    `${" ".repeat(labelWidth + 1)}${color.kept("● kept")}  ${
      color.reverted("· reverted")
    }  ${color.crashed("x crashed")}  ${color.rejected("! rejected")}  ${
      s.blue("─ incumbent")
    }`,
  );
  return lines.join("\n");
}
