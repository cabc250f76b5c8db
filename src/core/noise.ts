/**
 * The noise report of `ratchet calibrate`: how the unchanged checkout's
 * scores scatter, whether they drift, and the `--trials`, `--max-trials`
 * and `--min-effect` that suit them.
 *
 * The recommendations come from the same model the `stat` rule decides
 * with: two samples with the observed coefficient of variation, measured
 * from 3 up to n trials a side, tested at every look against the same
 * group-sequential boundary and futility bound (see
 * {@linkcode sequentialPower}).
 */
import { STAT_MIN_PER_SIDE } from "./measure_plan.ts";
import {
  FUTILITY_PREDICTIVE_POWER,
  futilityBound,
  planBoundary,
  sequentialCrossing,
} from "./sequential.ts";
import {
  allEqual,
  mad,
  mean,
  median,
  normalCdf,
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
  /**
   * Indexes of values beyond median ± k·1.4826·MAD, k the limit a normal
   * sample of this size exceeds 1% of the time (`outlierLimit`).
   */
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
 * Probability that the `stat` rule keeps a candidate whose true relative
 * gain is `effect`, with `perSide` trials a side at most (from 3),
 * coefficient of variation `cv`, and `minEffect` 0.
 *
 * The rule's own looks, boundaries and futility bound, on the scale of
 * Welch's t: at look k (n_k trials a side, df 2n_k − 2) it keeps when
 * t ≥ t_{1−α_k} and stops for futility when t falls below the t quantile of
 * the futility bound's normal probability. t is treated as normal with mean
 * effect/(cv·√(2/n_k)) (the usual noncentral-t approximation), and the
 * crossing probabilities come from the exact grid recursion.
 */
export function sequentialPower(
  effect: number,
  cv: number,
  perSide: number,
  options: { confidence?: number; startPerSide?: number } = {},
): number {
  const confidence = options.confidence ?? 0.95;
  const start = Math.max(
    STAT_MIN_PER_SIDE,
    options.startPerSide ?? STAT_MIN_PER_SIDE,
  );
  const n = Math.max(perSide, start);
  const boundary = planBoundary(confidence, start, n);
  const zFinal = boundary.z[boundary.z.length - 1]!;
  // Mean of the statistic at the last look: the effect in standard errors.
  const drift = effect / (cv * Math.sqrt(2 / n));
  const upper: number[] = [];
  const lower: number[] = [];
  boundary.times.forEach((t, k) => {
    const df = 2 * (start + k) - 2;
    const mu = drift * Math.sqrt(t);
    // The t statistic with an estimated standard error spreads more than a
    // z: near c its spread is about √(1 + c²/(2·df)) (Johnson & Welch's
    // noncentral-t approximation). Each bound is moved so that the
    // normal statistic crosses it exactly as often as t crosses the real one.
    const moved = (c: number) =>
      c === -Infinity ? c : mu + (c - mu) / Math.sqrt(1 + c * c / (2 * df));
    upper.push(moved(tQuantile(1 - boundary.nominal[k]!, df)));
    const f = futilityBound(t, zFinal, FUTILITY_PREDICTIVE_POWER);
    lower.push(moved(f === -Infinity ? f : tQuantile(normalCdf(f), df)));
  });
  return sequentialCrossing(boundary.times, upper, lower, drift, 0.04).upper;
}

/**
 * Smallest relative effect the `stat` rule keeps with probability `power`
 * (default 0.8) at `perSide` trials a side at most and coefficient of
 * variation `cv`: {@linkcode sequentialPower} solved for the effect.
 */
export function detectableEffect(
  cv: number,
  perSide: number,
  options: { confidence?: number; power?: number } = {},
): number {
  const power = options.power ?? 0.8;
  const n = Math.max(perSide, 3);
  const at = (effect: number) =>
    sequentialPower(
      effect,
      cv,
      n,
      options.confidence === undefined
        ? {}
        : { confidence: options.confidence },
    );
  // Bisection on the effect in standard errors (power rises with it).
  const unit = cv * Math.sqrt(2 / n);
  let lo = 0;
  let hi = 12;
  for (let i = 0; i < 30; i++) {
    const mid = (lo + hi) / 2;
    if (at(mid * unit) < power) lo = mid;
    else hi = mid;
  }
  return hi * unit;
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
  const p = se === 0
    ? (slope === 0 ? 1 : 0)
    : 2 * tCdf(-Math.abs(slope / se), df);
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
  const cap = Math.max(STAT_MIN_PER_SIDE, options.maxTrialsCap ?? 30);
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
    recommend = { trials: STAT_MIN_PER_SIDE, maxTrials: 10, minEffect: 0 };
  } else {
    // The detectable effect shrinks as n grows: binary search for the
    // fewest trials that reach the target (the cap when none does).
    const reaches = (n: number) =>
      detectableEffect(cv, n, { confidence }) <= target;
    let lo = STAT_MIN_PER_SIDE;
    let hi = cap;
    if (!reaches(cap)) lo = cap;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (reaches(mid)) hi = mid;
      else lo = mid + 1;
    }
    const maxTrials = lo;
    recommend = {
      trials: STAT_MIN_PER_SIDE,
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

/** What `calibrate` reports for one guard (`--guard`). */
export interface GuardNoise {
  /** The guard's own noise report (its `recommend` is for a metric, not used). */
  noise: NoiseReport;
  /**
   * The smallest tolerance its non-inferiority test verifies with 80%
   * power at `maxTrials` a side when the guard does not change: 0 for a
   * deterministic guard, null when its mean is 0 (no relative tolerance).
   * At most 1.
   */
  tolerance: number | null;
}

/**
 * The noise of one guard and the tolerance to give it. The non-inferiority
 * test at tolerance δ on an unchanged guard is, to first order, the
 * one-sided test of a true relative difference δ with the guard's
 * coefficient of variation; so the tolerance it can verify is
 * {@linkcode detectableEffect} at the recommended `maxTrials`, rounded up.
 */
export function guardNoise(
  values: readonly number[],
  options: { maxTrials: number; confidence?: number },
): GuardNoise {
  const noise = analyzeNoise(
    values,
    options.confidence === undefined ? {} : { confidence: options.confidence },
  );
  let tolerance: number | null;
  if (noise.grade === "deterministic") tolerance = 0;
  else if (!Number.isFinite(noise.cv)) tolerance = null;
  else {
    tolerance = Math.min(
      1,
      roundUp2(
        detectableEffect(
          noise.cv,
          options.maxTrials,
          options.confidence === undefined
            ? {}
            : { confidence: options.confidence },
        ),
      ),
    );
  }
  return { noise, tolerance };
}
