import assert from "node:assert/strict";
import {
  effectInterval,
  logGamma,
  mad,
  mean,
  meanCi,
  median,
  normalCdf,
  normalQuantile,
  outlierLimit,
  robustOutliers,
  stdev,
  tCdf,
  tQuantile,
  variance,
  welch,
} from "./stats.ts";
import { mulberry32 } from "./rng.ts";
import { near } from "../../tests/_helpers/core_stats.ts";

/**
 * P(T ≤ t) for Student's t by numeric integration, independent of the
 * library and of tCdf: with x = √ν·tan θ the density is ∝ cos^(ν−1) θ on
 * (−π/2, π/2), so the CDF is a ratio of two integrals of a smooth function
 * (composite Simpson, 20 000 panels).
 */
function tCdfByIntegration(t: number, df: number): number {
  const f = (theta: number) => Math.cos(theta) ** (df - 1);
  const simpson = (a: number, b: number) => {
    const n = 20000;
    const h = (b - a) / n;
    let s = f(a) + f(b);
    for (let i = 1; i < n; i++) s += (i % 2 === 1 ? 4 : 2) * f(a + i * h);
    return (s * h) / 3;
  };
  const upper = Math.atan(t / Math.sqrt(df));
  return simpson(-Math.PI / 2, upper) / simpson(-Math.PI / 2, Math.PI / 2);
}

// R's `sleep` data set: extra hours of sleep under two drugs.
const SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0];
const SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4];

Deno.test("mean(), variance(), stdev(), median() and mad() match hand values", () => {
  const xs = [2, 4, 4, 4, 5, 5, 7, 9];
  assert.equal(mean(xs), 5);
  near(variance(xs), 32 / 7, 1e-12);
  near(stdev(xs), Math.sqrt(32 / 7), 1e-12);
  assert.equal(median(xs), 4.5);
  assert.equal(median([3, 1, 2]), 2);
  // |x − 4.5| = 2.5 .5 .5 .5 .5 .5 2.5 4.5 → median 0.5.
  assert.equal(mad(xs), 0.5);
  assert.ok(Number.isNaN(variance([1])));
  assert.ok(Number.isNaN(mean([])));
});

Deno.test("robustOutliers() flags values beyond median ± k·1.4826·MAD", () => {
  // median 10, MAD 1 → with k = 3 the limit is 4.4478: 14.4 stays, 14.5 and
  // 5 go.
  assert.deepEqual(robustOutliers([9, 10, 11, 10, 9, 11, 14.4], 3), []);
  assert.deepEqual(robustOutliers([9, 10, 11, 10, 9, 11, 14.5], 3), [6]);
  assert.deepEqual(robustOutliers([5, 10, 11, 10, 9, 11, 9], 3), [0]);
  // The default limit for 7 values is 10.69 robust sds: 25 is out, 20 in.
  assert.deepEqual(robustOutliers([9, 10, 11, 10, 9, 11, 20]), []);
  assert.deepEqual(robustOutliers([9, 10, 11, 10, 9, 11, 25.9]), [6]);
  // MAD 0: every value off the median is flagged.
  assert.deepEqual(robustOutliers([3, 3, 3, 3, 4]), [4]);
  assert.deepEqual(robustOutliers([3, 3, 3]), []);
});

Deno.test("outlierLimit() flags 1% of normal samples at every size", () => {
  // Fresh draws (another seed than the table's): 20 000 samples per size,
  // standard error 0.07 points; allow 0.3.
  const rng = mulberry32(77);
  for (const n of [5, 10, 30]) {
    let flagged = 0;
    const runs = 20000;
    for (let r = 0; r < runs; r++) {
      const xs = Array.from({ length: n }, () => rng.normal());
      if (robustOutliers(xs).length > 0) flagged++;
    }
    near(flagged / runs, 0.01, 0.003, `n=${n}`);
  }
  assert.equal(outlierLimit(2), 112.67);
  near(outlierLimit(13), (6.23 + 5.84) / 2, 1e-12);
  assert.equal(outlierLimit(5000), 4.62);
});

Deno.test("normalCdf() matches published values in the body and the tails", () => {
  // Abramowitz & Stegun table 26.1 and its tail extension.
  near(normalCdf(0), 0.5, 1e-15);
  near(normalCdf(1.96), 0.9750021048517795, 1e-14);
  near(normalCdf(-1.644853626951472), 0.05, 1e-14);
  near(normalCdf(-3), 0.001349898031630095, 1e-15);
  // Tails keep relative precision.
  near(normalCdf(-6) / 9.865876450376946e-10, 1, 1e-9);
  near(normalCdf(-10) / 7.619853024160527e-24, 1, 1e-9);
  near(normalCdf(6), 1 - 9.865876450376946e-10, 1e-15);
  assert.equal(normalCdf(-Infinity), 0);
  // Inverse of the library's quantile.
  for (const p of [0.001, 0.025, 0.3, 0.5, 0.9, 0.999]) {
    near(normalCdf(normalQuantile(p)), p, 1e-12, `p=${p}`);
  }
});

Deno.test("logGamma() matches Γ at integers and halves", () => {
  near(logGamma(1), 0, 1e-14);
  near(logGamma(5), Math.log(24), 1e-13);
  near(logGamma(0.5), 0.5 * Math.log(Math.PI), 1e-13);
  near(logGamma(10.5), Math.log(1133278.3889487855), 1e-12);
});

Deno.test("tCdf() matches t tables and an independent numeric integration", () => {
  // Student's t table: t_{0.975,10} = 2.228138852, t_{0.95,5} = 2.015048373,
  // t_{0.995,2} = 9.924843201.
  near(tCdf(2.228138852, 10), 0.975, 1e-9);
  near(tCdf(-2.015048373, 5), 0.05, 1e-9);
  near(tCdf(9.924843201, 2), 0.995, 1e-9);
  // df = 1 is the Cauchy: F(t) = 1/2 + atan(t)/π.
  near(tCdf(3, 1), 0.5 + Math.atan(3) / Math.PI, 1e-12);
  for (const [t, df] of [[-1.8608, 17.776], [0.3, 3.5], [-4, 7.2], [2.5, 40]]) {
    near(tCdf(t!, df!), tCdfByIntegration(t!, df!), 1e-9, `t=${t} df=${df}`);
  }
  // And it inverts the library's quantile.
  near(tCdf(tQuantile(0.001, 4.3), 4.3), 0.001, 1e-10);
});

Deno.test("welch() reproduces R's t.test on the sleep data", () => {
  // R: t.test(extra ~ group, data = sleep) → t = -1.8608, df = 17.776,
  // p-value = 0.07939 (two-sided), so the one-sided "less" p is 0.039695.
  const w = welch(SLEEP_1, SLEEP_2)!;
  near(w.diff, 0.75 - 2.33, 1e-12);
  near(w.df, 17.776, 5e-4);
  near(w.diff / w.se, -1.8608, 5e-5);
  near(w.pLess * 2, 0.07939, 5e-6);
  near(w.pGreater, 1 - w.pLess, 1e-12);
  // R's 95% interval -3.3654832 0.2054832 from the same se and df.
  const h = tQuantile(0.975, w.df) * w.se;
  near(w.diff - h, -3.3654832, 1e-6);
  near(w.diff + h, 0.2054832, 1e-6);
});

Deno.test("welch() p-values equal the t integral at the Welch–Satterthwaite df", () => {
  const cases: [number[], number[]][] = [
    [[10.1, 10.4, 9.8, 10.3], [10.9, 11.2, 10.7, 11.5, 11.0]],
    [[1, 2, 3], [1.5, 2.5, 9]],
    [[100, 101, 99.5, 100.2, 100.8, 99.9], [100.5, 100.1, 101.2, 100.9]],
  ];
  for (const [c, i] of cases) {
    const w = welch(c, i)!;
    // Welch–Satterthwaite by hand.
    const a = variance(c) / c.length;
    const b = variance(i) / i.length;
    const df = (a + b) ** 2 / (a * a / (c.length - 1) + b * b / (i.length - 1));
    const t = (mean(c) - mean(i)) / Math.sqrt(a + b);
    near(w.df, df, 1e-9);
    near(w.pLess, tCdfByIntegration(t, df), 1e-8);
    near(w.pGreater, 1 - tCdfByIntegration(t, df), 1e-8);
  }
});

Deno.test("welch() keeps small p-values precise in both directions", () => {
  const low = [10, 10.1, 9.9, 10.05, 9.95];
  const high = low.map((v) => v + 1);
  const up = welch(high, low)!;
  const down = welch(low, high)!;
  assert.ok(up.pGreater < 1e-7 && up.pGreater > 0);
  near(up.pGreater / down.pLess, 1, 1e-12);
});

Deno.test("welch() returns null when no t statistic exists", () => {
  assert.equal(welch([5, 5, 5], [6, 6, 6]), null);
  assert.equal(welch([5], [6, 7]), null);
  // One constant side is fine: the spread comes from the other.
  const w = welch([5, 5, 5], [6, 7, 8])!;
  near(w.df, 2, 1e-12);
});

Deno.test("meanCi() is the two-sided t interval", () => {
  // mean 3, sd √2.5, t_{0.975,4} = 2.776445105 → half-width 1.963243.
  const [lo, hi] = meanCi([1, 2, 3, 4, 5], 0.95)!;
  near(lo, 3 - 2.776445105 * Math.sqrt(2.5 / 5), 1e-8);
  near(hi, 3 + 1.963243, 1e-6);
  assert.equal(meanCi([4], 0.95), null);
  assert.deepEqual(meanCi([4, 4, 4], 0.95), [4, 4]);
});

Deno.test("effectInterval() is the delta-method interval of log(mean ratio)", () => {
  // Means 12 and 10, variances 4 and 1, n 4 and 5.
  const c = [10, 12, 12, 14];
  const i = [9, 10, 10, 10, 11];
  const a = (8 / 3) / 4 / 144;
  const b = 0.5 / 5 / 100;
  const df = (a + b) ** 2 / (a * a / 3 + b * b / 4);
  const q = tQuantile(0.975, df) * Math.sqrt(a + b);
  const [lo, hi] = effectInterval(c, i, 0.975)!;
  near(lo, 1.2 * Math.exp(-q) - 1, 1e-12);
  near(hi, 1.2 * Math.exp(q) - 1, 1e-12);
  // Negative means: the same ratio, mirrored (a larger |mean| is lower).
  const [nlo, nhi] = effectInterval(c.map((v) => -v), i.map((v) => -v), 0.975)!;
  near(nlo, 1 - 1.2 * Math.exp(q), 1e-12);
  near(nhi, 1 - 1.2 * Math.exp(-q), 1e-12);
});

Deno.test("effectInterval() stays above −100% for positive data, however noisy", () => {
  const rng = mulberry32(17);
  for (let k = 0; k < 2000; k++) {
    const inc = Array.from({ length: 3 }, () => Math.exp(rng.normal()));
    const cand = Array.from({ length: 3 }, () => 0.01 * Math.exp(rng.normal()));
    const ci = effectInterval(cand, inc, 0.9995)!;
    assert.ok(ci[0] > -1 && ci[0] < ci[1], `${ci}`);
  }
});

Deno.test("effectInterval() covers the true ratio at its level (simulation)", () => {
  // Normal noise, CV 5%, 5 trials a side, true effect +10%: a two-sided
  // 95% interval should miss about 5% of the time (SE 0.5 points at 2000).
  const rng = mulberry32(23);
  let missed = 0;
  const n = 2000;
  for (let k = 0; k < n; k++) {
    const inc = Array.from(
      { length: 5 },
      () => 100 * (1 + 0.05 * rng.normal()),
    );
    const cand = Array.from(
      { length: 5 },
      () => 110 * (1 + 0.05 * rng.normal()),
    );
    const [lo, hi] = effectInterval(cand, inc, 0.975)!;
    if (lo > 0.1 || hi < 0.1) missed++;
  }
  assert.ok(missed / n > 0.03 && missed / n < 0.07, `missed ${missed / n}`);
});

Deno.test("effectInterval() falls back to the difference across zero, and says null where nothing exists", () => {
  const c = [-1, -2, 1, 0.5];
  const i = [2, 3, 4];
  const w = welch(c, i)!;
  const h = tQuantile(0.975, w.df) * w.se / 3;
  const [lo, hi] = effectInterval(c, i, 0.975)!;
  near(lo, w.diff / 3 - h, 1e-12);
  near(hi, w.diff / 3 + h, 1e-12);
  assert.equal(effectInterval([1], [1, 2], 0.975), null);
  assert.equal(effectInterval([1, 2], [-1, 1], 0.975), null);
  assert.deepEqual(effectInterval([6, 6], [5, 5, 5], 0.975), [0.2, 0.2]);
});
