/**
 * The report's text sections below the charts: the claimed gain, the kept
 * changes with their diffs, the token totals, and key–value lists
 * (configuration, environment).
 */
import type { IterationRecord, Tokens } from "../../core/state.ts";
import type { claimOf } from "../../core/confirm.ts";
import { fmtPct, fmtUsd } from "../format.ts";
import { confirmationBasis, confirmationGuards, gainText } from "../claim.ts";
import { esc, tokenTotal } from "./format.ts";

/** The claimed gain's section: what was measured, and each guard's change. */
export function claimHtml(
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

/** Each kept change: its description, effect, commit, size and diff. */
export function keptChangesHtml(
  kept: readonly IterationRecord[],
  diffs: ReadonlyMap<number, string>,
): string {
  const parts = kept.map((r) => {
    const patch = diffs.get(r.iter);
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
  return parts || `<p class="sub">No change was kept.</p>`;
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

/** The run's tokens by kind, their total, and the cost. */
export function totalsHtml(tokens: Tokens, cost: number): string {
  return `<table class="totals"><thead><tr><th>input</th><th>output</th><th>cache write</th><th>cache read</th><th>total tokens</th><th>cost</th></tr></thead>
<tbody><tr>${
    [
      tokens.input,
      tokens.output,
      tokens.cache_write,
      tokens.cache_read,
      tokenTotal(tokens),
    ].map((v) => `<td>${v.toLocaleString("en-US")}</td>`).join("")
  }<td>${esc(fmtUsd(cost))}</td></tr></tbody></table>`;
}

/** Keys and values as a definition list; non-strings as JSON. */
export function dl(entries: [string, unknown][]): string {
  return `<dl>${
    entries.map(([k, v]) =>
      `<dt>${esc(k)}</dt><dd>${
        esc(typeof v === "string" ? v : JSON.stringify(v) ?? String(v))
      }</dd>`
    ).join("")
  }</dl>`;
}
