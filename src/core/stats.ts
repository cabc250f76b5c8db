/**
 * Descriptive statistics and the distribution functions the decision rules
 * need. Welch's test and the t and normal quantiles come from stdlib (a
 * well-kept statistics library, as spec section 7 asks); the normal and t
 * CDFs are small, documented implementations here because the packages this
 * project may import do not export them.
 */
import ttest2 from "@stdlib/stats-ttest2";
import tQuantileLib from "@stdlib/stats-base-dists-t-quantile";
import normalQuantileLib from "@stdlib/stats-base-dists-normal-quantile";

/** Scale that turns a MAD into a standard deviation under normality. */
export const MAD_TO_SD = 1.4826;

/** Arithmetic mean; NaN for an empty list. */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** Sample variance (n − 1 denominator); NaN with fewer than two values. */
export function variance(values: readonly number[]): number {
  const n = values.length;
  if (n < 2) return NaN;
  const m = mean(values);
  let ss = 0;
  for (const v of values) ss += (v - m) * (v - m);
  return ss / (n - 1);
}

/** Sample standard deviation; NaN with fewer than two values. */
export function stdev(values: readonly number[]): number {
  return Math.sqrt(variance(values));
}

/** Median; NaN for an empty list. */
export function median(values: readonly number[]): number {
  const n = values.length;
  if (n === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = n >> 1;
  return n % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Median absolute deviation from the median, unscaled (multiply by
 * {@linkcode MAD_TO_SD} for a normal-consistent spread).
 */
export function mad(values: readonly number[]): number {
  const m = median(values);
  return median(values.map((v) => Math.abs(v - m)));
}

/** True when every value equals the first (an empty list counts). */
export function allEqual(values: readonly number[]): boolean {
  return values.every((v) => v === values[0]);
}

/**
 * 99th percentiles, under normality, of the largest |x − median| /
 * (1.4826 · MAD) in a sample of n: [n, limit]. Simulated once with the
 * seeded generator of rng.ts (seed 20250101; 2·10⁵ samples per n up to 100,
 * 5·10⁴ up to 300, 2·10⁴ beyond) and written down here; stats_test.ts
 * re-checks the 1% rate with fresh draws. A fixed multiple such as 3 would
 * flag about one normal sample in five at every n, because the MAD of a
 * small sample is itself noisy: most "outliers" it found would be chance.
 */
const OUTLIER_LIMITS: readonly (readonly [number, number])[] = [
  [3, 112.67],
  [4, 16.18],
  [5, 18.56],
  [6, 10.16],
  [7, 10.69],
  [8, 7.95],
  [9, 8.23],
  [10, 6.95],
  [11, 6.99],
  [12, 6.23],
  [14, 5.84],
  [16, 5.62],
  [18, 5.38],
  [20, 5.23],
  [25, 5.04],
  [30, 4.77],
  [40, 4.61],
  [50, 4.48],
  [60, 4.40],
  [80, 4.34],
  [100, 4.29],
  [150, 4.31],
  [200, 4.28],
  [300, 4.31],
  [500, 4.38],
  [1000, 4.48],
  [2000, 4.62],
];

/** Linear interpolation in a [n, value] table, flat beyond its ends. */
function interpolate(
  table: readonly (readonly [number, number])[],
  n: number,
): number {
  const first = table[0]!;
  if (n <= first[0]) return first[1];
  for (let i = 1; i < table.length; i++) {
    const [n1, k1] = table[i]!;
    if (n <= n1) {
      const [n0, k0] = table[i - 1]!;
      return k0 + (k1 - k0) * (n - n0) / (n1 - n0);
    }
  }
  return table[table.length - 1]![1];
}

/**
 * How many robust standard deviations (1.4826 · MAD) from the median a
 * value of a sample of `n` must lie to count as an outlier: the limit that
 * normal samples of that size exceed 1% of the time (linear between the
 * tabulated sizes; the last limit beyond 2000).
 */
export function outlierLimit(n: number): number {
  return interpolate(OUTLIER_LIMITS, n);
}

/**
 * 98th percentiles, under normality, of the largest |x − own median| over
 * two samples of n each, in units of 1.4826 × the MAD of all 2n such
 * residuals: [n, limit]. Simulated like {@linkcode OUTLIER_LIMITS} (same
 * seed and counts).
 */
const PAIR_OUTLIER_LIMITS: readonly (readonly [number, number])[] = [
  [3, 19.51],
  [4, 10.42],
  [5, 8.36],
  [6, 7.13],
  [7, 6.32],
  [8, 5.87],
  [9, 5.56],
  [10, 5.33],
  [11, 5.11],
  [12, 4.99],
  [14, 4.78],
  [16, 4.64],
  [18, 4.55],
  [20, 4.47],
  [25, 4.32],
  [30, 4.26],
  [40, 4.18],
  [50, 4.14],
  [60, 4.12],
  [80, 4.11],
  [100, 4.13],
  [150, 4.15],
  [200, 4.19],
  [300, 4.23],
  [500, 4.33],
  [1000, 4.45],
];

/** The limit of {@linkcode pairHasOutlier} for n trials a side. */
export function pairOutlierLimit(nPerSide: number): number {
  return interpolate(PAIR_OUTLIER_LIMITS, nPerSide);
}

/**
 * True when a trial of either sample lies farther from its own sample's
 * median than {@linkcode pairOutlierLimit} robust standard deviations, the
 * spread being the MAD of both samples' residuals together. Pooling the
 * residuals keeps the spread estimate usable at 3 trials a side, where a
 * single sample's MAD is little more than its smallest gap; the limit is
 * set so that two normal samples trip it 2% of the time. With a pooled MAD
 * of 0 (ties) any residual counts.
 */
export function pairHasOutlier(
  a: readonly number[],
  b: readonly number[],
): boolean {
  const residuals: number[] = [];
  for (const side of [a, b]) {
    const m = median(side);
    for (const v of side) residuals.push(Math.abs(v - m));
  }
  const limit = pairOutlierLimit(Math.floor(residuals.length / 2)) *
    MAD_TO_SD * median(residuals);
  return residuals.some((r) => r > limit);
}

/**
 * Indexes of the values farther than `k` robust standard deviations
 * (`k · 1.4826 · MAD`) from the median: Hampel's identifier, with `k`
 * calibrated to the sample size by default ({@linkcode outlierLimit}). The
 * median and MAD are not dragged by the outliers they look for, unlike
 * mean ± k·sd. When the MAD is 0 (more than half the values identical) any
 * value that differs from the median is flagged: the sample is then a
 * spike of ties plus stragglers, which is exactly the shape a mean-based
 * test handles badly.
 */
export function robustOutliers(
  values: readonly number[],
  k = outlierLimit(values.length),
): number[] {
  const m = median(values);
  const limit = k * MAD_TO_SD * mad(values);
  const out: number[] = [];
  values.forEach((v, i) => {
    if (Math.abs(v - m) > limit) out.push(i);
  });
  return out;
}

/** Standard normal density. */
export function normalPdf(x: number): number {
  return Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
}

/**
 * Standard normal CDF Φ(x). For |x| < 5 Marsaglia's Taylor series
 * (J. Stat. Softw. 11(4), 2004), which is exact to about 1e-15 absolute; in
 * the tails Laplace's continued fraction for the Mills ratio, so small tail
 * probabilities keep their relative precision.
 */
export function normalCdf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return 1;
  if (x === -Infinity) return 0;
  if (Math.abs(x) < 5) {
    let sum = x;
    let term = x;
    const q = x * x;
    for (let i = 3; i < 400; i += 2) {
      term *= q / i;
      const next = sum + term;
      if (next === sum) break;
      sum = next;
    }
    return 0.5 + sum * normalPdf(x);
  }
  const a = Math.abs(x);
  // Q(a) = φ(a) / (a + 1/(a + 2/(a + 3/(a + …)))), evaluated from the back.
  let frac = 0;
  for (let k = 60; k >= 1; k--) frac = k / (a + frac);
  const tail = normalPdf(a) / (a + frac);
  return x > 0 ? 1 - tail : tail;
}

/** Standard normal quantile Φ⁻¹(p) (stdlib). */
export function normalQuantile(p: number): number {
  return normalQuantileLib(p, 0, 1);
}

/** Quantile of Student's t with `df` degrees of freedom (stdlib). */
export function tQuantile(p: number, df: number): number {
  if (df === Infinity) return normalQuantile(p);
  return tQuantileLib(p, df);
}

/** log Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; about 1e-15 relative). */
export function logGamma(x: number): number {
  const c = [
    0.99999999999980993,
    676.5203681218851,
    -1259.1392167224028,
    771.32342877765313,
    -176.61502916214059,
    12.507343278686905,
    -0.13857109526572012,
    9.9843695780195716e-6,
    1.5056327351493116e-7,
  ];
  if (x < 0.5) {
    // Reflection keeps the series in its accurate range.
    return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) -
      logGamma(1 - x);
  }
  const z = x - 1;
  let a = c[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t +
    Math.log(a);
}

/** Continued fraction of the incomplete beta (modified Lentz). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 500; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = -((a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/**
 * Regularized incomplete beta I_x(a, b). `oneMinusX` may be passed when it
 * is known more precisely than `1 - x` (it is, for the t distribution).
 */
export function betaRegularized(
  x: number,
  a: number,
  b: number,
  oneMinusX = 1 - x,
): number {
  if (x <= 0) return 0;
  if (oneMinusX <= 0) return 1;
  const lnFront = logGamma(a + b) - logGamma(a) - logGamma(b) +
    a * Math.log(x) + b * Math.log(oneMinusX);
  const front = Math.exp(lnFront);
  // The fraction converges fast on this side; use symmetry on the other.
  if (x < (a + 1) / (a + b + 2)) {
    return (front * betaContinuedFraction(x, a, b)) / a;
  }
  return 1 - (front * betaContinuedFraction(oneMinusX, b, a)) / b;
}

/** CDF of Student's t with `df` degrees of freedom (df = ∞ is the normal). */
export function tCdf(t: number, df: number): number {
  if (Number.isNaN(t) || !(df > 0)) return NaN;
  if (df === Infinity) return normalCdf(t);
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  const t2 = t * t;
  // P(|T| > |t|) = I_{df/(df+t²)}(df/2, 1/2).
  const tail = 0.5 *
    betaRegularized(df / (df + t2), df / 2, 0.5, t2 / (df + t2));
  return t > 0 ? 1 - tail : tail;
}

/** Welch's two-sample comparison of `candidate` against `incumbent`. */
export interface WelchResult {
  /** mean(candidate) − mean(incumbent). */
  diff: number;
  /** Standard error of `diff`. */
  se: number;
  /** Welch–Satterthwaite degrees of freedom. */
  df: number;
  /** One-sided p-value for H1: the candidate's mean is greater. */
  pGreater: number;
  /** One-sided p-value for H1: the candidate's mean is smaller. */
  pLess: number;
}

/**
 * Welch's unequal-variance t-test (stdlib `ttest2`). Needs at least two
 * values a side and some variance on at least one side; with no variance on
 * either side the t statistic does not exist and this returns null (callers
 * use the rank test, which handles that case exactly).
 */
export function welch(
  candidate: readonly number[],
  incumbent: readonly number[],
): WelchResult | null {
  if (candidate.length < 2 || incumbent.length < 2) return null;
  const vc = variance(candidate);
  const vi = variance(incumbent);
  if (vc === 0 && vi === 0) return null;
  // stdlib computes "less" as tCDF(t), which keeps full relative precision
  // for small p-values; "greater" is 1 − tCDF(t), which would not. So the
  // small side is always obtained as a "less" test, with the samples in the
  // order that puts the smaller mean first; the other side is 1 − p.
  const candidateLower = mean(candidate) <= mean(incumbent);
  const r = candidateLower
    ? ttest2(candidate as number[], incumbent as number[], {
      alternative: "less",
    })
    : ttest2(incumbent as number[], candidate as number[], {
      alternative: "less",
    });
  const se = Math.sqrt(vc / candidate.length + vi / incumbent.length);
  const diff = candidateLower ? r.xmean - r.ymean : r.ymean - r.xmean;
  return {
    diff,
    se,
    df: r.df,
    pGreater: candidateLower ? 1 - r.pValue : r.pValue,
    pLess: candidateLower ? r.pValue : 1 - r.pValue,
  };
}

/**
 * Two-sided t interval for the mean at level `confidence` (0.95 → 95%).
 * A single value gives null (no spread to estimate); identical values give
 * the degenerate interval [v, v].
 */
export function meanCi(
  values: readonly number[],
  confidence: number,
): [number, number] | null {
  const n = values.length;
  if (n < 2) return null;
  const m = mean(values);
  const s = stdev(values);
  if (s === 0) return [m, m];
  const h = tQuantile(1 - (1 - confidence) / 2, n - 1) * s / Math.sqrt(n);
  return [m - h, m + h];
}

/**
 * Interval of the relative effect (candidate − incumbent) / |incumbent| of
 * two means, on the ratio scale, with each bound at one-sided level
 * `oneSided` (0.975 gives a two-sided 95% interval).
 *
 * When both means have the same sign, the ratio R = mean(candidate) /
 * mean(incumbent) is estimated on the log scale with the delta method:
 * log R ± t·√(s_c²/(n_c·m_c²) + s_i²/(n_i·m_i²)), t at the
 * Welch–Satterthwaite degrees of freedom of those two terms, and mapped
 * back (effect = R − 1, or 1 − R for negative means). The interval is
 * therefore never below −100% for a positive metric, and is asymmetric as
 * a ratio should be: halving a time is −50%, doubling it +100%. When the
 * means differ in sign (a metric that crosses zero) no ratio exists, and
 * the interval is the Welch interval of the difference divided by
 * |incumbent mean|.
 *
 * Null with fewer than two values on a side or an incumbent mean of 0;
 * the single point [effect, effect] when neither side varies.
 */
export function effectInterval(
  candidate: readonly number[],
  incumbent: readonly number[],
  oneSided: number,
): [number, number] | null {
  const nC = candidate.length;
  const nI = incumbent.length;
  if (nC < 2 || nI < 2) return null;
  const mC = mean(candidate);
  const mI = mean(incumbent);
  if (mI === 0) return null;
  const vC = variance(candidate) / nC;
  const vI = variance(incumbent) / nI;
  const effect = (mC - mI) / Math.abs(mI);
  if (vC === 0 && vI === 0) return [effect, effect];
  if (mC !== 0 && Math.sign(mC) === Math.sign(mI)) {
    const a = vC / (mC * mC);
    const b = vI / (mI * mI);
    const se = Math.sqrt(a + b);
    const df = (a + b) ** 2 / (a * a / (nC - 1) + b * b / (nI - 1));
    const q = tQuantile(oneSided, df) * se;
    const logR = Math.log(mC / mI);
    const lo = Math.exp(logR - q);
    const hi = Math.exp(logR + q);
    return mI > 0 ? [lo - 1, hi - 1] : [1 - hi, 1 - lo];
  }
  const se = Math.sqrt(vC + vI);
  const df = (vC + vI) ** 2 / (vC * vC / (nC - 1) + vI * vI / (nI - 1));
  const h = tQuantile(oneSided, df) * se / Math.abs(mI);
  return [effect - h, effect + h];
}
