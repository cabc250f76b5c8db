/** Tick values of the report's chart axes (pure arithmetic). */

/**
 * A log axis when every value is positive and the largest is more than 10×
 * the smallest.
 */
export function isLogScale(lo: number, hi: number): boolean {
  return lo > 0 && Number.isFinite(hi) && hi / lo > 10;
}

/**
 * Ticks of a log axis over [lo, hi] (log10 units): the powers of ten, with
 * 2× and 5× between them when fewer than four decades are shown.
 */
export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  const steps = hi - lo < 4 ? [1, 2, 5] : [1];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
    for (const m of steps) {
      const v = m * 10 ** e;
      const l = Math.log10(v);
      if (l >= lo && l <= hi) out.push(Number(v.toPrecision(12)));
    }
  }
  return out;
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step =
    [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) =>
      (hi - lo) / s <= count
    ) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    // Clean up the binary noise of repeated addition (0.30000000000000004).
    ticks.push(Number(v.toPrecision(12)));
  }
  return ticks;
}
