/**
 * The text view of `ratchet measure`: every trial's score and outcome, the
 * rule that matched, and the summary statistics; when no trial yielded the
 * metric, the extraction message (which rules were tried and what to do).
 */
import type { MetricRule } from "../core/metric.ts";
import type {
  MeasureResult,
  MeasureRun,
  MeasureTrial,
} from "../app/measure.ts";
import { fmtNum, fmtPct } from "./format.ts";
import { styles } from "./output.ts";

const RULE_NAMES: Record<MetricRule, string> = {
  wall:
    "wall time of the run command, measured by ratchet (--report-source wall)",
  pattern: "--metric-pattern (first capture group of the last match)",
  json: "JSON (the metric as a key of the report's JSON)",
  line: 'last "NAME: VALUE" line',
};

function seconds(x: number | null): string {
  return x === null ? "—" : `${x.toFixed(3)}s`;
}

/** One line per trial, for progress output while `measure` runs. */
export function measureTrialLine(
  k: number,
  n: number,
  trial: MeasureTrial,
  unit: string | null,
  detail: string,
  options: { color: boolean },
): string {
  const s = styles(options.color);
  const width = String(n).length;
  const outcome = trial.outcome === "ok"
    ? s.green(trial.outcome.padEnd(9))
    : s.red(trial.outcome.padEnd(9));
  const score = trial.score === null
    ? "—"
    : `${fmtNum(trial.score)}${unit === null ? "" : ` ${unit}`}`;
  const exit = trial.exit_code === null ? "—" : String(trial.exit_code);
  let line = `trial ${String(k).padStart(width)}/${n}  ${outcome} score ${
    score.padEnd(12)
  } wall ${seconds(trial.wall_s).padEnd(9)} exit ${exit}`;
  const guards = Object.entries(trial.guards ?? {});
  if (guards.length > 0 && trial.outcome === "ok") {
    line += `  ${guards.map(([n, v]) => `${n} ${fmtNum(v)}`).join("  ")}`;
  }
  if (trial.outcome !== "ok" && detail !== "") {
    line += `\n  ${s.dim(detail)}`;
  }
  return line;
}

/** One line per guard: its statistics and noise over the ok trials. */
export function guardSummaryLines(
  r: MeasureResult,
  bold: (t: string) => string = (t) => t,
): string[] {
  return Object.entries(r.guards ?? {}).map(([name, g]) => {
    const unit = g.unit === null ? "" : ` ${g.unit}`;
    return `${bold(`guard ${name}`)}  mean ${fmtNum(g.mean)}${unit}  median ${
      fmtNum(g.median)
    }  stdev ${fmtNum(g.stdev)}  cv ${
      g.cv === null ? "—" : fmtPct(g.cv).replace(/^\+/, "")
    }  min ${fmtNum(g.min)}  max ${fmtNum(g.max)}  (${g.n_ok} ok)`;
  });
}

/**
 * The whole `measure` report as text (no trailing newline). Without
 * `trialLines` (the progress showed them on the same terminal) the per-trial
 * lines are left out and the report starts with the summary.
 */
export function renderMeasure(
  run: MeasureRun,
  options: { color: boolean; trialLines?: boolean },
): string {
  const s = styles(options.color);
  const r = run.result;
  const lines: string[] = [];
  if (options.trialLines ?? true) {
    r.trials.forEach((trial, i) => {
      lines.push(
        measureTrialLine(
          i + 1,
          r.n,
          trial,
          r.unit,
          run.details[i] ?? "",
          options,
        ),
      );
    });
    lines.push("");
  }
  if (r.n_ok === 0) {
    lines.push(
      s.red(s.bold(`No trial yielded the metric (0 of ${r.n} ok).`)),
    );
    if (run.message !== null) lines.push(run.message);
    return lines.join("\n");
  }
  const unit = r.unit === null ? "" : ` ${r.unit}`;
  lines.push(
    `${s.bold("rule")}    ${r.rule === null ? "—" : RULE_NAMES[r.rule]}`,
  );
  if (r.unit !== null) lines.push(`${s.bold("unit")}    ${r.unit}`);
  lines.push(
    `${s.bold("trials")}  ${r.n_ok} of ${r.n} ok`,
    `${s.bold("mean")}    ${fmtNum(r.mean)}${unit}`,
    `${s.bold("median")}  ${fmtNum(r.median)}${unit}`,
    `${s.bold("stdev")}   ${fmtNum(r.stdev)}${r.stdev === null ? "" : unit}`,
    `${s.bold("cv")}      ${
      r.cv === null ? "—" : fmtPct(r.cv).replace(/^\+/, "")
    }`,
    `${s.bold("min")}     ${fmtNum(r.min)}${unit}`,
    `${s.bold("max")}     ${fmtNum(r.max)}${unit}`,
  );
  lines.push(...guardSummaryLines(r, s.bold));
  if (r.n_ok < r.n) {
    lines.push(
      s.yellow(
        `${
          r.n - r.n_ok
        } trial(s) did not end ok; the statistics cover the ${r.n_ok} that did.`,
      ),
    );
  }
  return lines.join("\n");
}
