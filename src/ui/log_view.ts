/** `ratchet log`: one row per iteration, then the trajectory chart. */
import type { IterationRecord } from "../core/state.ts";
import { meanCi } from "../core/stats.ts";
import { decimalsFor, fmtFixed, markKind, renderChart } from "./chart.ts";
import { fmtNum, fmtPct, fmtUsd } from "./format.ts";
import { type Style, styles } from "./output.ts";
import type { Confirmation, ConfirmResult } from "../core/confirm.ts";
import { type RuleLabel, ruleOfDetail } from "../core/rule_label.ts";
import { confirmationBasis, confirmationGuards, gainText } from "./claim.ts";

/** The claimed gain under the table (nothing without a confirmation). */
function claimLines(
  claim: (Confirmation & { result: ConfirmResult }) | null,
  s: Style,
): string[] {
  if (claim === null) return [];
  const guards = confirmationGuards(claim.result);
  return [
    `${s.bold("claimed gain")} ${
      gainText(claim.result.gain, claim.result.ci)
    } (${confirmationBasis(claim)})`,
    ...(guards.length > 0 ? [`${s.bold("guards")} ${guards.join(", ")}`] : []),
  ];
}

/** Options of {@linkcode renderLog}. */
export interface LogOptions {
  /**
   * The run's end-of-run confirmation when it holds the claim
   * (`claimOf`): shown under the table as the claimed gain.
   */
  claim?: (Confirmation & { result: ConfirmResult }) | null;
  color: boolean;
  /** Terminal width; the hypothesis column takes what the others leave. */
  width: number;
  /** The run's confidence, for the score intervals (default 0.95). */
  confidence?: number;
  /** The metric's direction, shown on the chart. */
  direction?: "max" | "min";
}

/**
 * Model-written text made safe for a one-line cell: control characters
 * (which could move the cursor or recolour the terminal) and line breaks
 * become spaces.
 */
export function oneLine(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ").trim();
}

/** Cut `text` to `width` code points, marking the cut with an ellipsis. */
export function truncate(text: string, width: number): string {
  const chars = Array.from(text);
  if (chars.length <= width) return text;
  return width <= 0 ? "" : chars.slice(0, width - 1).join("") + "…";
}

/** A p-value with three decimals, or `<0.001`. */
export function fmtP(p: number | null): string {
  if (p === null || !Number.isFinite(p)) return "—";
  return p < 0.001 ? "<0.001" : p.toFixed(3);
}

/**
 * A mean and its interval, both rounded to what the interval's half-width
 * supports: `9.63 [9.48, 9.79]`; the mean alone (as fmtNum) without one.
 */
export function fmtEstimate(
  mean: number | null | undefined,
  ci: readonly [number, number] | null | undefined,
): string {
  if (mean === null || mean === undefined || !Number.isFinite(mean)) {
    return "—";
  }
  if (!ci) return fmtNum(mean);
  const d = decimalsFor((ci[1] - ci[0]) / 2);
  return `${fmtFixed(mean, d)} [${fmtFixed(ci[0], d)}, ${fmtFixed(ci[1], d)}]`;
}

/** The interval of a record's own trial scores (two or more), or null. */
export function trialCi(
  r: IterationRecord,
  confidence: number,
): [number, number] | null {
  const ok = r.trial_scores.filter((s): s is number => s !== null);
  return meanCi(ok, confidence);
}

/**
 * The score cell: the candidate's mean and, with two or more trial scores,
 * ± the half-width of its interval at `confidence`, rounded alike.
 */
export function scoreCell(r: IterationRecord, confidence: number): string {
  if (r.avg === null) return "—";
  const ci = trialCi(r, confidence);
  if (ci === null) return fmtNum(r.avg);
  const half = (ci[1] - ci[0]) / 2;
  const d = decimalsFor(half);
  return d === null
    ? `${fmtNum(r.avg)} ± 0`
    : `${fmtFixed(r.avg, d)} ± ${fmtFixed(half, d)}`;
}

const GLYPH = { kept: "●", reverted: "·", crashed: "x", rejected: "!" };

function decisionPaint(s: Style, r: IterationRecord): (t: string) => string {
  switch (markKind(r)) {
    case "kept":
      return s.green;
    case "crashed":
      return s.magenta;
    case "rejected":
      return s.red;
    case "reverted":
      return r.decision === "regressed" ? s.yellow : (t) => t;
  }
}

/** What the hypothesis column says for a record. */
/** Short names of the deciding rules for the `rule` column. */
const RULE_CELL: Record<RuleLabel, string> = {
  "mean": "mean",
  "exact": "exact",
  "stat/welch-t": "welch",
  "stat/mann-whitney-exact": "rank",
  "stat/mann-whitney-normal": "rank~",
  "none": "—",
};

/** The rule column: which rule decided the record (from its detail). */
export function ruleCell(r: IterationRecord): string {
  const label = ruleOfDetail(r.detail);
  return label === null ? "" : RULE_CELL[label];
}

/**
 * The guards column: each guard's effect where the record compared it
 * (`accuracy −10.0%`), in the order of the record.
 */
export function guardsCell(r: IterationRecord): string {
  if (r.guards === null) return "";
  return Object.entries(r.guards)
    .filter(([, g]) => g.effect !== null)
    .map(([name, g]) => `${name} ${fmtPct(g.effect)}`)
    .join(", ");
}

function hypothesisCell(r: IterationRecord): string {
  const text = oneLine(r.hypothesis);
  if (r.iter === 0 && text === "") return "(baseline)";
  if (text === "") return r.reason ? `(${r.reason})` : "";
  return text;
}

/**
 * The table (iter, decision, score, p, effect, cost, hypothesis cut to the
 * width), a summary line, and the chart of the trajectory.
 */
export function renderLog(
  records: readonly IterationRecord[],
  options: LogOptions,
): string {
  if (records.length === 0) {
    return "No iterations recorded yet: the baseline is still being measured.";
  }
  const s = styles(options.color);
  const confidence = options.confidence ?? 0.95;
  const hasRule = records.some((r) => ruleOfDetail(r.detail) !== null);
  const hasGuards = records.some((r) => r.guards !== null);
  const header = [
    "iter",
    "decision",
    "score",
    "p",
    "effect",
    ...(hasRule ? ["rule"] : []),
    ...(hasGuards ? ["guards"] : []),
    "cost",
  ];
  const rows = records.map((r) => [
    String(r.iter),
    `${GLYPH[markKind(r)]} ${r.decision}`,
    scoreCell(r, confidence),
    fmtP(r.p_value),
    fmtPct(r.effect),
    ...(hasRule ? [ruleCell(r)] : []),
    ...(hasGuards ? [guardsCell(r)] : []),
    r.cost_usd > 0 ? fmtUsd(r.cost_usd) : "—",
  ]);
  const textColumns = new Set([
    0,
    1,
    ...(hasRule ? [5] : []),
    ...(hasGuards ? [hasRule ? 6 : 5] : []),
  ]);
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((row) => Array.from(row[i]!).length))
  );
  const used = widths.reduce((a, w) => a + w + 2, 0);
  const hypWidth = Math.max(12, options.width - used);
  // Numbers align right; iter and decision read better flush left.
  const cell = (text: string, i: number) =>
    textColumns.has(i) ? text.padEnd(widths[i]!) : text.padStart(widths[i]!);
  const lines = [
    s.bold(
      [...header.map(cell), "hypothesis"].join("  "),
    ),
  ];
  records.forEach((r, n) => {
    const row = rows[n]!;
    const paint = decisionPaint(s, r);
    const cells = row.map((text, i) =>
      i === 1 ? paint(cell(text, i)) : cell(text, i)
    );
    const hyp = truncate(hypothesisCell(r), hypWidth);
    lines.push([...cells, hyp].join("  ").trimEnd());
  });
  const kept = records.filter((r) => r.iter > 0 && r.kept).length;
  const cost = records.reduce((a, r) => a + r.cost_usd, 0);
  lines.push(
    "",
    s.dim(
      `iterations ${records[0]!.iter}–${
        records.at(-1)!.iter
      } · ${kept} change(s) kept · ${fmtUsd(cost)}`,
    ),
    ...claimLines(options.claim ?? null, s),
    "",
    renderChart(records, {
      width: options.width,
      height: 10,
      color: options.color,
      confidence,
      ...(options.direction ? { direction: options.direction } : {}),
    }),
  );
  return lines.join("\n");
}
