/**
 * How the run's claimed gain is written: from the end-of-run confirmation
 * when there is one (the start commit and the final incumbent measured side
 * by side), else the comparison of the incumbent's latest measurement with
 * the baseline's, marked as not confirmed.
 */
import type { Confirmation, ConfirmResult } from "../core/confirm.ts";
import { fmtCi, fmtPct } from "./format.ts";

/** A gain with its interval: `+12.3% [+10.1%, +14.6%]`. */
export function gainText(
  gain: number | null,
  ci: readonly [number, number] | null,
): string {
  if (gain === null) return "—";
  return ci === null || (ci[0] === gain && ci[1] === gain)
    ? fmtPct(gain)
    : `${fmtPct(gain)} ${fmtCi(ci, true)}`;
}

/** What the confirmation measured, in one line after the gain. */
export function confirmationBasis(
  c: Confirmation & { result: ConfirmResult },
): string {
  const r = c.result;
  return `start commit and iter ${c.incumbent_iter} measured interleaved at the end of the run, ${r.final.n} vs ${r.baseline.n} trials${
    r.p_value === null
      ? ""
      : `, p=${r.p_value < 0.001 ? "<0.001" : r.p_value.toFixed(3)}`
  }`;
}

/** Each guard's change in the confirmation: `accuracy −0.1% [−0.4%, +0.2%]`. */
export function confirmationGuards(r: ConfirmResult): string[] {
  return Object.entries(r.guards).map(([name, g]) =>
    `${name} ${gainText(g.effect, g.ci)}`
  );
}
