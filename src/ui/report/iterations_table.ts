/** The report's table of iterations: one row per record. */
import type { IterationRecord } from "../../core/state.ts";
import { detailText } from "../../core/rule_label.ts";
import { decimalsFor, fmtFixed, markKind } from "../chart.ts";
import { fmtCi, fmtDuration, fmtPct, fmtUsd } from "../format.ts";
import { fmtP, guardsCell, ruleCell, trialCi } from "../log_view.ts";
import { esc, tokenTotal } from "./format.ts";

/** Optional columns, shown when some record has something to put there. */
export interface IterationColumns {
  rule: boolean;
  guards: boolean;
}

/**
 * The table: a header naming the columns shown, and one row per record
 * (`id="iter-N"`, so a click on a chart mark can find it).
 */
export function iterationsTableHtml(
  records: readonly IterationRecord[],
  confidence: number,
  columns: IterationColumns,
): string {
  return `<div class="table-wrap"><table id="iterations"><thead><tr><th>iter</th><th>decision</th><th>score</th><th>interval</th><th>trials ok</th><th>p</th><th>effect</th>${
    columns.rule ? "<th>rule</th>" : ""
  }${
    columns.guards ? "<th>guards</th>" : ""
  }<th>reason / detail</th><th>tokens</th><th>cost</th><th>time</th><th>hypothesis</th><th>description</th></tr></thead>
<tbody>
${records.map((r) => row(r, confidence, columns)).join("\n")}
</tbody></table></div>`;
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
  columns: IterationColumns,
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
