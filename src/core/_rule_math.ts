/**
 * Helpers the keep-or-revert rules (rule_mean.ts, rule_exact.ts,
 * rule_stat.ts) share: the metric's direction as a sign, the relative
 * effect, and the number formats of a verdict's `detail`.
 */
import type { Direction } from "./verdict.ts";

/** Sign that turns "candidate − incumbent" into "how much better". */
export function goodSign(direction: Direction): 1 | -1 {
  return direction === "max" ? 1 : -1;
}

/** Relative effect, or null when the incumbent's mean is 0. */
export function relative(diff: number, incumbentMean: number): number | null {
  return incumbentMean === 0 ? null : diff / Math.abs(incumbentMean);
}

/** A number in a detail: four significant digits, exponent when far from 1. */
export function fmt(x: number): string {
  if (x === 0) return "0";
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e6 ? x.toPrecision(4) : x.toExponential(2);
}

/** A relative effect in a detail, as a percentage. */
export function pct(x: number | null): string {
  return x === null ? "n/a" : `${(x * 100).toFixed(2)}%`;
}
