/**
 * `ratchet report`: one self-contained HTML file (inline CSS, inline SVG, one
 * small inline script; no fonts, images or requests) with the trajectory
 * chart, one table row per iteration, the diff of each kept change, tokens
 * and cost, the configuration and the environment.
 *
 * Everything from records, config and diffs is escaped: hypotheses and
 * descriptions are a model's words and diffs are code. The page's Content
 * Security Policy (page.ts) is the second line of defence.
 */
import type { IterationRecord } from "../../core/state.ts";
import { addTokens, emptyTokens } from "../../core/state.ts";
import type { RunFile } from "../../infra/store/store.ts";
import { claimOf, type Confirmation } from "../../core/confirm.ts";
import { ruleOfDetail } from "../../core/rule_label.ts";
import { incumbentSeries, type MarkKind, markKind } from "../chart.ts";
import { fmtDuration, fmtPct, fmtUsd } from "../format.ts";
import { trialCi } from "../log_view.ts";
import { gainText } from "../claim.ts";
import { engineModeText } from "../engine_text.ts";
import { esc, estimateParts, tokenTotal } from "./format.ts";
import { pageHtml } from "./page.ts";
import { chartSvg, trajectoryLegend } from "./trajectory_chart.ts";
import { guardChartsHtml } from "./guard_charts.ts";
import { iterationsTableHtml } from "./iterations_table.ts";
import { claimHtml, dl, keptChangesHtml, totalsHtml } from "./sections.ts";

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

  const stateText = run.state === "finished"
    ? `finished${run.stop_reason ? ` (${run.stop_reason})` : ""}`
    : run.stop_reason
    ? `stopped (${run.stop_reason}), resumable`
    : "running";

  return pageHtml(
    `ratchet report ${run.run_id}`,
    records.length,
    `<h1>ratchet run ${esc(run.run_id)}</h1>
<div class="sub">${esc(metric)}${
      direction
        ? ` (${direction === "max" ? "higher" : "lower"} is better)`
        : ""
    } · branch <code>${esc(run.branch)}</code> · ${
      esc(stateText)
    } · generated ${esc(input.generatedAt)}</div>
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
        ? card(
          "gain",
          fmtPct(gain),
          "best vs baseline, not confirmed",
          gainClass,
        )
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
${trajectoryLegend(counts, confidence)}
${claimHtml(claim)}${guardChartsHtml(run.config, records)}
<h2>Iterations</h2>
${iterationsTableHtml(records, confidence, columns)}
<h2>Kept changes</h2>
${keptChangesHtml(kept, input.diffs)}
<h2>Tokens and cost</h2>
${totalsHtml(tokens, cost)}
<h2>Configuration</h2>
${dl(Object.entries(run.config))}
<h2>Environment</h2>
${
      dl([
        ...Object.entries(input.environment),
        ...(run.engine == null ? [] : [[
          "trial engine",
          `${run.engine.endpoint}; ${
            engineModeText(run.engine.shares_filesystem)
          }`,
        ] as [string, string]]),
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
    }. This file is self-contained: no network, no external files.</footer>`,
  );
}
