/**
 * A terminal chart of a run's trajectory: each iteration's score as a mark
 * (kept, reverted, crashed, rejected), the incumbent as a line over time, and
 * iterations without a score (all trials failed, rejected, no submission) as
 * marks on the x axis so every record shows. Also the pieces the HTML report
 * shares: {@linkcode markKind} and {@linkcode incumbentSeries}.
 */
import type { IterationRecord } from "../core/state.ts";
import { type Incumbent, incumbentOf } from "../core/incumbent.ts";
import { fmtNum } from "./format.ts";
import { styles } from "./output.ts";

/** How a record shows in charts. */
export type MarkKind = "kept" | "reverted" | "crashed" | "rejected";

/** Every mark kind, in legend order. */
export const MARK_KINDS: readonly MarkKind[] = [
  "kept",
  "reverted",
  "crashed",
  "rejected",
];

/**
 * The mark kind of a record: kept (the baseline and every `improved`),
 * crashed, rejected, or reverted (regressed, no_change, inconclusive).
 */
export function markKind(r: IterationRecord): MarkKind {
  if (r.kept) return "kept";
  if (r.decision === "crashed") return "crashed";
  if (r.decision === "rejected") return "rejected";
  return "reverted";
}

function sameScores(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * The incumbent after each record, exactly as {@linkcode incumbentOf} would
 * report it for that prefix of the records (null before the first kept
 * record), in one pass.
 *
 * incumbentOf takes the newest re-measurement of the incumbent among the
 * records that compared against it; which records count is its rule, so it
 * is asked rather than re-implemented, with at most three records at a time:
 * the incumbent, the record whose re-measurement is in force (`source`), and
 * the new one. Asking with every prefix would make a long run's report
 * quadratic.
 */
export function incumbentSeries(
  records: readonly IterationRecord[],
  options: { confidence?: number } = {},
): (Incumbent | null)[] {
  const opts = options.confidence === undefined
    ? {}
    : { confidence: options.confidence };
  const out: (Incumbent | null)[] = [];
  let kept: IterationRecord | null = null;
  let source: IterationRecord | null = null;
  let current: Incumbent | null = null;
  for (const r of records) {
    if (r.kept) {
      kept = r;
      source = null;
      current = incumbentOf([r], opts);
    } else if (kept !== null && r.baseline_scores.length > 0) {
      const next = incumbentOf(
        source === null ? [kept, r] : [kept, source, r],
        opts,
      );
      // A new value means r's re-measurement won; an equal one means r can
      // stand in for `source` or not matter, which is the same for later asks.
      if (
        next !== null &&
        (current === null || !sameScores(next.scores, current.scores))
      ) {
        source = r;
      }
      current = next;
    }
    out.push(current);
  }
  return out;
}

/**
 * Decimals that show `spread` to two significant digits, so a mean is not
 * printed more precisely than its interval supports; null when the spread
 * gives no guide (zero, or not a number).
 */
export function decimalsFor(spread: number): number | null {
  if (!(spread > 0) || !Number.isFinite(spread)) return null;
  return Math.min(10, Math.max(0, 1 - Math.floor(Math.log10(spread))));
}

/** `x` with `decimals` decimals, or {@linkcode fmtNum}'s form when null. */
export function fmtFixed(x: number, decimals: number | null): string {
  return decimals === null ? fmtNum(x) : x.toFixed(decimals);
}

const GLYPH: Record<MarkKind, string> = {
  kept: "●",
  reverted: "·",
  crashed: "x",
  rejected: "!",
};

/** When marks share a cell, the one that says the most wins. */
const RANK: Record<MarkKind, number> = {
  kept: 3,
  crashed: 2,
  rejected: 1,
  reverted: 0,
};

/** Options of {@linkcode renderChart}. */
export interface ChartOptions {
  /** Total width in columns, labels included. */
  width: number;
  /** Rows of the plot area (the axis and legend come on top of it). */
  height: number;
  color: boolean;
  /** The metric's direction, to say which way is better. */
  direction?: "max" | "min";
  /** Confidence of the incumbent's interval (for the re-measured mean). */
  confidence?: number;
}

/**
 * Render the chart. Short runs are spread over up to 4 columns an
 * iteration; runs longer than the width are compressed, several iterations
 * to a column, each still drawn at its own height (the strongest mark wins
 * a shared cell: kept, crashed, rejected, reverted).
 */
export function renderChart(
  records: readonly IterationRecord[],
  options: ChartOptions,
): string {
  if (records.length === 0) return "";
  const s = styles(options.color);
  const paint: Record<MarkKind, (t: string) => string> = {
    kept: s.green,
    reverted: s.gray,
    crashed: s.magenta,
    rejected: s.red,
  };
  const inc = incumbentSeries(
    records,
    options.confidence === undefined ? {} : { confidence: options.confidence },
  );
  let lo = Infinity;
  let hi = -Infinity;
  const values = [
    ...records.map((r) => r.avg),
    ...inc.map((v) => v?.mean ?? null),
  ];
  for (const v of values) {
    if (v === null) continue;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (lo === Infinity) return "(no scores yet)";
  if (lo === hi) {
    lo -= Math.abs(lo) * 0.05 || 1;
    hi += Math.abs(hi) * 0.05 || 1;
  }
  const height = Math.max(3, options.height);
  // Each label names the value of its own row, at the precision a row step
  // can tell apart.
  const valueOfRow = (row: number) => hi - (row / (height - 1)) * (hi - lo);
  const midRow = Math.floor((height - 1) / 2);
  const d = decimalsFor((hi - lo) / (height - 1));
  const labels = [0, midRow, height - 1].map((row) =>
    fmtFixed(valueOfRow(row), d)
  );
  const labelWidth = Math.max(...labels.map((l) => l.length));
  const available = Math.max(10, options.width - labelWidth - 3);
  const cols = Math.min(available, Math.max(10, records.length * 4));
  const last = Math.max(1, records.length - 1);
  const colOf = (i: number) => Math.round((i * (cols - 1)) / last);
  const rowOf = (v: number) =>
    Math.round(((hi - v) / (hi - lo)) * (height - 1));

  const blank = (): string[] => Array.from({ length: cols }, () => " ");
  const grid: string[][] = Array.from({ length: height }, blank);
  const axis: string[] = Array.from({ length: cols }, () => "─");
  const cellKind: (MarkKind | null)[][] = Array.from(
    { length: height + 1 },
    () => Array.from({ length: cols }, () => null),
  );

  // The incumbent holds from its record until the next record's column.
  const onLine: boolean[][] = Array.from(
    { length: height },
    () => Array.from({ length: cols }, () => false),
  );
  records.forEach((_, i) => {
    const v = inc[i];
    if (v === null || v === undefined) return;
    const end = i === records.length - 1 ? colOf(i) : colOf(i + 1) - 1;
    for (let c = colOf(i); c <= end; c++) {
      grid[rowOf(v.mean)]![c] = s.blue("─");
      onLine[rowOf(v.mean)]![c] = true;
    }
  });
  // Squeezed, the reverted candidates near the incumbent would hide its
  // line; spread out, each of them is worth seeing.
  const squeezed = cols < records.length * 2;
  records.forEach((r, i) => {
    const kind = markKind(r);
    const c = colOf(i);
    const row = r.avg === null ? height : rowOf(r.avg);
    const prev = cellKind[row]![c];
    if (prev !== null && prev !== undefined && RANK[prev] >= RANK[kind]) {
      return;
    }
    if (squeezed && kind === "reverted" && onLine[row]?.[c]) return;
    cellKind[row]![c] = kind;
    const glyph = paint[kind](GLYPH[kind]);
    if (row === height) axis[c] = glyph;
    else grid[row]![c] = glyph;
  });

  const pad = " ".repeat(labelWidth);
  const lines: string[] = [];
  if (options.direction) {
    lines.push(
      `${pad}  ${
        s.dim(
          options.direction === "max"
            ? "↑ higher is better"
            : "↓ lower is better",
        )
      }`,
    );
  }
  grid.forEach((row, i) => {
    const label = i === 0
      ? labels[0]!
      : i === height - 1
      ? labels[2]!
      : i === midRow && height >= 5
      ? labels[1]!
      : "";
    const tick = label === "" ? "│" : "┤";
    lines.push(`${label.padStart(labelWidth)} ${tick}${row.join("")}`);
  });
  lines.push(`${pad} └${axis.join("")}`);
  const firstIter = String(records[0]!.iter);
  const lastIter = String(records.at(-1)!.iter);
  // "iteration" goes in the middle of the gap between the first and last
  // iteration numbers when it fits there.
  const gap = Math.max(1, cols - firstIter.length - lastIter.length);
  const word = "iteration";
  const left = Math.floor((gap - word.length) / 2);
  lines.push(
    `${pad}  ${firstIter}${
      gap >= word.length + 4
        ? " ".repeat(left) + s.dim(word) +
          " ".repeat(gap - left - word.length)
        : " ".repeat(gap)
    }${lastIter}`,
  );
  // The legend wraps to the width; lengths are counted before colouring.
  const items: [string, (t: string) => string][] = [
    ...MARK_KINDS.map((k): [string, (t: string) => string] => [
      `${GLYPH[k]} ${k}`,
      paint[k],
    ]),
    ["─ incumbent", s.blue],
    ["(no score: on the axis)", s.dim],
  ];
  let line = "";
  let plain = pad + " ";
  for (const [text, style] of items) {
    if (line !== "" && plain.length + 2 + text.length > options.width) {
      lines.push(`${pad} ${line}`.trimEnd());
      line = "";
      plain = pad + " ";
    }
    line += ` ${style(text)} `;
    plain += ` ${text} `;
  }
  if (line !== "") lines.push(`${pad} ${line}`.trimEnd());
  return lines.join("\n");
}
