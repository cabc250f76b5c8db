/**
 * How the run's claimed gain is written: from the end-of-run confirmation
 * when there is one (the start commit and the final incumbent measured side
 * by side), else the comparison of the incumbent's latest measurement with
 * the baseline's, marked as not confirmed.
 */
import type { Confirmation, ConfirmResult } from "../core/confirm.ts";
import { fmtPct } from "./format.ts";

/** A signed percentage with `decimals` decimals. */
function pctAt(x: number, decimals: number): string {
  return `${x >= 0 ? "+" : ""}${(x * 100).toFixed(decimals)}%`;
}

/**
 * A gain with its interval, `+12.3% [+10.1%, +14.6%]`, with as many
 * decimals as a narrow interval needs to show its width (up to 4).
 */
export function gainText(
  gain: number | null,
  ci: readonly [number, number] | null,
): string {
  if (gain === null) return "—";
  if (ci === null || (ci[0] === gain && ci[1] === gain)) return fmtPct(gain);
  const half = ((ci[1] - ci[0]) / 2) * 100;
  const d = half > 0
    ? Math.min(4, Math.max(1, Math.ceil(-Math.log10(half)) + 1))
    : 1;
  return `${pctAt(gain, d)} [${pctAt(ci[0], d)}, ${pctAt(ci[1], d)}]`;
}

/** What the confirmation measured, in one line after the gain. */
export function confirmationBasis(
  c: Confirmation & { result: ConfirmResult },
): string {
  const r = c.result;
  return `start commit and iter ${c.incumbent_iter} measured interleaved at the end of the run, ${r.final.n} vs ${r.baseline.n} trials${
    r.p_value === null
      ? ""
      : r.p_value < 0.001
      ? ", p<0.001"
      : `, p=${r.p_value.toFixed(3)}`
  }`;
}

/** Each guard's change in the confirmation: `accuracy −0.1% [−0.4%, +0.2%]`. */
export function confirmationGuards(r: ConfirmResult): string[] {
  return Object.entries(r.guards).map(([name, g]) =>
    `${name} ${gainText(g.effect, g.ci)}`
  );
}
