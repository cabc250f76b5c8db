/**
 * The noise report of `ratchet calibrate`: how the unchanged checkout's
 * scores scatter, whether they drift, and the `--trials`, `--max-trials`
 * and `--min-effect` that suit them.
 *
 * The recommendations come from the same model the `stat` rule tests with:
 * two samples of n trials with the observed coefficient of variation,
 * compared one-sided at the nominal level of the LAST look of the
 * group-sequential plan (3 to n trials a side), with Welch's degrees of
 * freedom for equal variances (2n − 2).
 */
import { planBoundary } from "./sequential.ts";
import {
  allEqual,
  mad,
  mean,
  median,
  robustOutliers,
  stdev,
  tCdf,
  tQuantile,
} from "./stats.ts";

/** How noisy a metric is, from best to worst. */
export type NoiseGrade = "deterministic" | "low_noise" | "noisy" | "unstable";

/** A linear trend of the scores over trial order. */
export interface Drift {
  /** Least-squares slope, in metric units per trial. */
  slope_per_trial: number;
  /** The slope relative to |mean| (0.001 = 0.1% per trial); null at mean 0. */
  relative_per_trial: number | null;
  /** Two-sided p-value of the slope (t-test with n − 2 degrees of freedom). */
  p_value: number;
  /** p_value below 1 − confidence. */
  significant: boolean;
}

/** What `calibrate` recommends. */
export interface Recommendation {
  trials: number;
  maxTrials: number;
  minEffect: number;
}

/** The full noise report. */
export interface NoiseReport {
  n: number;
  mean: number;
  median: number;
  stdev: number;
  /** stdev / |mean|; Infinity when the mean is 0 and the values vary. */
  cv: number;
  /** Median absolute deviation (unscaled). */
  mad: number;
  /** Indexes of values beyond median ± 3·1.4826·MAD (the rank-test trigger). */
  outliers: number[];
  drift: Drift;
  grade: NoiseGrade;
  recommend: Recommendation;
  /**
   * Upper bound of trial time per iteration under the recommendation
   * (2 × maxTrials × mean trial seconds); present when trial times are given.
   */
  estimated_trial_seconds_per_iteration?: number;
}

/** Options of {@linkcode analyzeNoise}. */
export interface NoiseOptions {
  /** One-sided confidence of the `stat` rule; default 0.95. */
  confidence?: number;
  /**
   * Relative effect the run should be able to detect; `maxTrials` is the
   * fewest trials a side that detect it with 80% power. Default 0.02.
   */
  targetEffect?: number;
  /** Most trials a side ever recommended; default 30. */
  maxTrialsCap?: number;
  /** Mean wall time of one trial in seconds, for the time estimate. */
  trialSeconds?: number;
}

/** Grade thresholds on the coefficient of variation. */
export const LOW_NOISE_CV = 0.01;
export const UNSTABLE_CV = 0.1;

/**
 * Smallest relative effect the `stat` rule detects with probability
 * `power` when both sides have `perSide` trials and coefficient of
 * variation `cv`: δ = (t_{1−α_K} + t_{power}) · cv · √(2/n) with α_K the
 * final look's nominal level and df = 2n − 2 (the normal-theory power of a
 * one-sided two-sample t-test, with the t quantiles for small n).
 */
export function detectableEffect(
  cv: number,
  perSide: number,
  options: { confidence?: number; power?: number } = {},
): number {
  const confidence = options.confidence ?? 0.95;
  const power = options.power ?? 0.8;
  const n = Math.max(perSide, 3);
  const boundary = planBoundary(confidence, 3, n);
  const alpha = boundary.nominal[boundary.nominal.length - 1]!;
  const df = 2 * n - 2;
  return (tQuantile(1 - alpha, df) + tQuantile(power, df)) * cv *
    Math.sqrt(2 / n);
}

function driftOf(values: readonly number[], confidence: number): Drift {
  const n = values.length;
  const m = mean(values);
  const none = (p: number): Drift => ({
    slope_per_trial: 0,
    relative_per_trial: m === 0 ? null : 0,
    p_value: p,
    significant: false,
  });
  if (n < 3 || allEqual(values)) return none(1);
  const mx = (n - 1) / 2;
  let sxx = 0;
  let sxy = 0;
  values.forEach((y, x) => {
    sxx += (x - mx) * (x - mx);
    sxy += (x - mx) * (y - m);
  });
  const slope = sxy / sxx;
  let sse = 0;
  values.forEach((y, x) => {
    const r = y - (m + slope * (x - mx));
    sse += r * r;
  });
  const df = n - 2;
  const se = Math.sqrt(sse / df / sxx);
  const p = se === 0 ? (slope === 0 ? 1 : 0) : 2 * tCdf(-Math.abs(slope / se), df);
  return {
    slope_per_trial: slope,
    relative_per_trial: m === 0 ? null : slope / Math.abs(m),
    p_value: p,
    significant: p < 1 - confidence,
  };
}

/** Round a relative effect up to two significant digits, for a flag value. */
function roundUp2(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) return x;
  const scale = 10 ** (Math.floor(Math.log10(x)) - 1);
  return Math.ceil(x / scale - 1e-9) * scale;
}

/**
 * Analyse repeated scores of the same checkout. Needs at least two values.
 *
 * Grades: `deterministic` when every value is identical; `unstable` when
 * the scores drift significantly or the CV is 10% or more; `low_noise`
 * below 1% CV; `noisy` between.
 *
 * Recommendations: a deterministic metric needs one trial a side and any
 * change counts. Otherwise `trials` is 3 (the sequential rule adds pairs
 * itself; a larger start only spends trials on proposals that futility
 * would have stopped), `maxTrials` the fewest trials a side that detect
 * `targetEffect` with 80% power (capped), and `minEffect` the effect
 * detectable with 80% power at that `maxTrials`: true changes smaller than
 * it are mostly missed anyway, and the gate keeps lucky small estimates of
 * nothing from being kept.
 */
export function analyzeNoise(
  values: readonly number[],
  options: NoiseOptions = {},
): NoiseReport {
  if (values.length < 2) {
    throw new RangeError(
      `analyzeNoise needs at least 2 scores, got ${values.length}`,
    );
  }
  const confidence = options.confidence ?? 0.95;
  const target = options.targetEffect ?? 0.02;
  const cap = Math.max(3, options.maxTrialsCap ?? 30);
  const m = mean(values);
  const sd = stdev(values);
  const deterministic = allEqual(values);
  const cv = deterministic ? 0 : m === 0 ? Infinity : sd / Math.abs(m);
  const drift = driftOf(values, confidence);

  let grade: NoiseGrade;
  if (deterministic) grade = "deterministic";
  else if (drift.significant || cv >= UNSTABLE_CV) grade = "unstable";
  else if (cv < LOW_NOISE_CV) grade = "low_noise";
  else grade = "noisy";

  let recommend: Recommendation;
  if (deterministic) {
    recommend = { trials: 1, maxTrials: 1, minEffect: 0 };
  } else if (!Number.isFinite(cv)) {
    // A mean of 0 has no relative effects: keep the defaults' shape.
    recommend = { trials: 3, maxTrials: 10, minEffect: 0 };
  } else {
    let maxTrials = cap;
    for (let n = 3; n <= cap; n++) {
      if (detectableEffect(cv, n, { confidence }) <= target) {
        maxTrials = n;
        break;
      }
    }
    recommend = {
      trials: 3,
      maxTrials,
      minEffect: roundUp2(detectableEffect(cv, maxTrials, { confidence })),
    };
  }

  const report: NoiseReport = {
    n: values.length,
    mean: m,
    median: median(values),
    stdev: sd,
    cv,
    mad: mad(values),
    outliers: robustOutliers(values),
    drift,
    grade,
    recommend,
  };
  if (options.trialSeconds !== undefined) {
    report.estimated_trial_seconds_per_iteration = 2 * recommend.maxTrials *
      options.trialSeconds;
  }
  return report;
}
