/** Number formatting shared by the views. */

/** A score with up to 6 significant digits. */
export function fmtNum(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "—";
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e7)) return x.toExponential(3);
  return String(Number(x.toPrecision(6)));
}

/** A relative change as a signed percentage. */
export function fmtPct(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "—";
  return `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)}%`;
}

/** An interval [lo, hi]. */
export function fmtCi(
  ci: readonly [number, number] | null | undefined,
  pct = false,
): string {
  if (!ci) return "";
  const f = pct ? fmtPct : fmtNum;
  return `[${f(ci[0])}, ${f(ci[1])}]`;
}

/** Dollars. */
export function fmtUsd(x: number): string {
  return `$${x.toFixed(x < 1 ? 3 : 2)}`;
}

/** A duration in seconds as 1h02m, 3m05s or 4.2s. */
export function fmtDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "—";
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0
    ? `${h}h${String(m).padStart(2, "0")}m`
    : `${m}m${String(r).padStart(2, "0")}s`;
}
