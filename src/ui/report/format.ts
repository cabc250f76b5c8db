/**
 * Small text helpers of the HTML report: escaping, SVG coordinates, and the
 * numbers of a card.
 */
import type { Tokens } from "../../core/state.ts";
import { decimalsFor, fmtFixed } from "../chart.ts";

/** Escape text for HTML content and attribute values. */
export function esc(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;").replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

/** Round for SVG coordinates: enough precision, much smaller files. */
export function n1(x: number): string {
  return String(Math.round(x * 10) / 10);
}

/** Every token of a call or a run, whatever its kind. */
export function tokenTotal(t: Tokens): number {
  return t.input + t.output + t.cache_write + t.cache_read;
}

/**
 * A card's value and subtitle for a mean with its interval, rounded to what
 * the interval supports: ["9.63", "[9.48, 9.79] at iter 8"].
 */
export function estimateParts(
  mean: number | null,
  ci: [number, number] | null,
  suffix: string,
): [string, string] {
  if (mean === null) return ["—", suffix];
  const d = ci ? decimalsFor((ci[1] - ci[0]) / 2) : null;
  return [
    fmtFixed(mean, d),
    ci ? `[${fmtFixed(ci[0], d)}, ${fmtFixed(ci[1], d)}] ${suffix}` : suffix,
  ];
}
