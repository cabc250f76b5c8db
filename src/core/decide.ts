/**
 * Keep-or-revert decisions (spec section 7). Pure: the loop measures, these
 * functions decide.
 *
 * - {@linkcode decideMean}: the original rule (`--decision mean`).
 * - {@linkcode planStat} + {@linkcode stepStat}: the adaptive sequential rule
 *   (`--decision stat`, the default). The caller measures the incumbent and
 *   the candidate interleaved (A B A B …), `startPerSide` pairs first, then
 *   calls `stepStat` after every added pair until it answers `done`.
 * - {@linkcode decideExact}: the deterministic-metric path of `stat`.
 * - {@linkcode decideCrashed}: the verdict for a candidate whose trial failed.
 *
 * How and why the sequential rule works is in docs/decisions.md.
 */
import { mannWhitney } from "./mann_whitney.ts";
import {
  FUTILITY_PREDICTIVE_POWER,
  type LookMethod,
  planBoundary,
  predictivePower,
} from "./sequential.ts";
import type { Decision, Reason } from "./state.ts";
import {
  allEqual,
  effectInterval,
  mean,
  normalQuantile,
  pairHasOutlier,
  tQuantile,
  welch,
} from "./stats.ts";

/**
 * The metric's direction (the same strings as the config's `Direction`,
 * restated here because src/core may not import src/config).
 */
export type Direction = "max" | "min";

/** Decisions a comparison can reach (`baseline`/`rejected` are not). */
export type VerdictDecision = Exclude<Decision, "baseline" | "rejected">;

/** A finished comparison, in the fields spec section 8 records. */
export interface Verdict {
  decision: VerdictDecision;
  reason: Reason | null;
  /** One line for the record's `detail`: rule, counts, p and level. */
  detail: string;
  p_value: number | null;
  /** (candidate − incumbent)/|incumbent| from the means; null if undefined. */
  effect: number | null;
  /** Interval of `effect`; null where not computed. */
  ci: [number, number] | null;
  n_incumbent: number;
  n_candidate: number;
  /**
   * Which rule decided: `mean`, `exact`, `welch-t`, `mann-whitney-exact`,
   * `mann-whitney-normal`, `crashed`, or `none` (too few ok incumbent
   * trials to compare).
   */
  rule: string;
}

/** The numbers of a look, whether or not it decided. */
export interface StatEstimate {
  p_value: number | null;
  effect: number | null;
  ci: [number, number] | null;
  rule: string;
}

/** One step of the sequential rule. */
export type StatStep =
  | {
    kind: "continue";
    /** The look just made (1-based) of `looks` planned. */
    look: number;
    looks: number;
    /** Why more trials are needed, for the live view. */
    detail: string;
    /** The look's p-value, effect and interval, once both sides have two values. */
    estimate?: StatEstimate;
  }
  | ({ kind: "done" } & Verdict);

/** Where a comparison with `pairs` pairs stands in its plan of looks. */
export interface LookPosition {
  /** The look (1-based) of `looks` planned. */
  look: number;
  looks: number;
  /** This look's nominal one-sided level α_k. */
  level: number;
  /** The last planned look: no more pairs may be added. */
  final: boolean;
}

/**
 * The look that `pairs` pairs make in a plan of `startPerSide` to
 * `maxPerSide` pairs, and its nominal level from the group-sequential
 * boundary at `confidence`. Guards test at the same levels as the metric.
 */
export function lookAt(
  pairs: number,
  plan: StatPlan & { confidence: number; lookMethod?: LookMethod },
): LookPosition {
  const boundary = planBoundary(
    plan.confidence,
    plan.startPerSide,
    plan.maxPerSide,
    plan.lookMethod,
  );
  const looks = boundary.times.length;
  const look = Math.min(looks, Math.max(1, pairs - plan.startPerSide + 1));
  return {
    look,
    looks,
    level: boundary.nominal[look - 1]!,
    final: pairs >= plan.maxPerSide,
  };
}

/** Sign that turns "candidate − incumbent" into "how much better". */
function goodSign(direction: Direction): 1 | -1 {
  return direction === "max" ? 1 : -1;
}

/** Relative effect, or null when the incumbent's mean is 0. */
function relative(diff: number, incumbentMean: number): number | null {
  return incumbentMean === 0 ? null : diff / Math.abs(incumbentMean);
}

/**
 * The absolute margin a candidate must beat: the larger of
 * `minEffect·|incumbent mean|` and `minImprovement`, so that "beyond the
 * margin" means both gates pass. With an incumbent mean of 0 a relative
 * effect does not exist and only `minImprovement` applies.
 */
export function improvementMargin(
  incumbentMean: number,
  minEffect: number,
  minImprovement: number,
): number {
  return Math.max(minEffect * Math.abs(incumbentMean), minImprovement);
}

function fmt(x: number): string {
  if (x === 0) return "0";
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e6 ? x.toPrecision(4) : x.toExponential(2);
}

function pct(x: number | null): string {
  return x === null ? "n/a" : `${(x * 100).toFixed(2)}%`;
}

// ---------------------------------------------------------------------------
// --decision mean

/** Input of {@linkcode decideMean}. */
export interface MeanInput {
  /** The candidate's trial scores; null for a trial that did not end ok. */
  candidate: readonly (number | null)[];
  /** The incumbent's recorded average. */
  incumbentMean: number;
  direction: Direction;
  minImprovement: number;
}

/**
 * The original rule: average the candidate's trials; `improved` when the
 * average beats the incumbent's recorded average by more than
 * `minImprovement` in the metric's direction, `regressed` when it is worse,
 * else `no_change` (`within_noise`). Any failed trial makes it `crashed`.
 */
export function decideMean(input: MeanInput): Verdict {
  const { candidate, incumbentMean, direction, minImprovement } = input;
  if (candidate.length === 0) {
    throw new RangeError("decideMean needs at least one candidate trial");
  }
  if (candidate.some((v) => v === null)) {
    return decideCrashed({ candidate, rule: "mean" });
  }
  const values = candidate as readonly number[];
  const avg = mean(values);
  const diff = avg - incumbentMean;
  const good = goodSign(direction) * diff;
  const effect = relative(diff, incumbentMean);
  const base = {
    p_value: null,
    effect,
    ci: null,
    n_incumbent: 0,
    n_candidate: values.length,
    rule: "mean",
  };
  const what = `mean of ${values.length} trial(s) ${fmt(avg)} vs recorded ${
    fmt(incumbentMean)
  } (${pct(effect)})`;
  if (good > minImprovement) {
    return { ...base, decision: "improved", reason: null, detail: what };
  }
  if (good < 0) {
    return { ...base, decision: "regressed", reason: null, detail: what };
  }
  return {
    ...base,
    decision: "no_change",
    reason: "within_noise",
    detail: `${what}; not better by more than ${fmt(minImprovement)}`,
  };
}

// ---------------------------------------------------------------------------
// crashed

/**
 * The verdict for a candidate with a failed trial: `crashed`
 * (`crashed_trials`), nothing estimated. The caller stops measuring at the
 * first failed candidate trial.
 */
export function decideCrashed(input: {
  candidate: readonly (number | null)[];
  incumbent?: readonly number[];
  rule?: string;
}): Verdict {
  const failed = input.candidate.filter((v) => v === null).length;
  return {
    decision: "crashed",
    reason: "crashed_trials",
    detail:
      `${failed} of ${input.candidate.length} candidate trial(s) did not end ok`,
    p_value: null,
    effect: null,
    ci: null,
    n_incumbent: input.incumbent?.length ?? 0,
    n_candidate: input.candidate.length - failed,
    rule: input.rule ?? "crashed",
  };
}

// ---------------------------------------------------------------------------
// --decision stat

/** Trials of the baseline at iteration 0 under `stat`: max(trials, 5). */
export function baselineTrials(trials: number): number {
  return Math.max(trials, 5);
}

/**
 * A metric is deterministic when every baseline trial gave the same value
 * (at least two trials; one value proves nothing).
 */
export function isDeterministic(values: readonly number[]): boolean {
  return values.length >= 2 && allEqual(values);
}

/** Trials per side of one comparison under `stat`. */
export interface StatPlan {
  startPerSide: number;
  maxPerSide: number;
}

/**
 * Start at max(trials, 3) pairs (one for a deterministic metric) and go up
 * to `maxTrials` pairs. When `maxTrials` is below the start, the start wins:
 * the spec's floor of three a side is what makes a test possible at all.
 */
export function planStat(
  config: { trials: number; maxTrials: number },
  deterministic = false,
): StatPlan {
  if (deterministic) return { startPerSide: 1, maxPerSide: 1 };
  const startPerSide = Math.max(config.trials, 3);
  return {
    startPerSide,
    maxPerSide: Math.max(config.maxTrials, startPerSide),
  };
}

/** What {@linkcode stepStat} is given: the scores measured so far. */
export interface StatState {
  /** The incumbent's ok scores in this iteration, in trial order. */
  incumbent: readonly number[];
  /** The candidate's scores, in trial order (all ok: crashes end earlier). */
  candidate: readonly number[];
}

/** Parameters of {@linkcode stepStat}. */
export interface StatParams extends StatPlan {
  direction: Direction;
  /** One-sided confidence, e.g. 0.95. */
  confidence: number;
  /** Smallest relative change that counts (0.02 = 2%). */
  minEffect: number;
  /** Smallest absolute change that counts. */
  minImprovement: number;
  /** The metric is deterministic: exact comparison of single trials. */
  deterministic: boolean;
  /**
   * How the looks hold the error rate; ratchet always uses the default,
   * O'Brien–Fleming (the others are for the comparison in the docs).
   */
  lookMethod?: LookMethod;
  /** Stop early for futility (default true; off only for that comparison). */
  futility?: boolean;
}

/**
 * Which test the data call for. The rank test when a trial lies beyond
 * its side's median ± k·1.4826·MAD ({@linkcode pairHasOutlier}: Hampel's
 * rule on both sides' residuals, k calibrated so normal data trip it 2% of
 * the time): an outlier or a heavy tail, where one trial drags a t-test's
 * mean and variance. Also when neither side varies (no t statistic
 * exists). Welch's t-test otherwise.
 */
export function chooseTest(
  candidate: readonly number[],
  incumbent: readonly number[],
): "welch-t" | "mann-whitney" {
  if (allEqual(candidate) && allEqual(incumbent)) return "mann-whitney";
  if (pairHasOutlier(candidate, incumbent)) return "mann-whitney";
  return "welch-t";
}

/**
 * The exact comparison of a deterministic metric: `improved` when the
 * candidate is better by more than the margin (both `minImprovement` and
 * `minEffect` relative), `regressed` when worse, else `no_change`.
 * The interval is the single point: a deterministic metric has no noise.
 */
export function decideExact(
  state: StatState,
  params: Pick<StatParams, "direction" | "minEffect" | "minImprovement">,
): Verdict {
  if (state.incumbent.length === 0 || state.candidate.length === 0) {
    return {
      decision: "inconclusive",
      reason: "trials_exhausted",
      detail: "exact: no ok trial on one side to compare",
      p_value: null,
      effect: null,
      ci: null,
      n_incumbent: state.incumbent.length,
      n_candidate: state.candidate.length,
      rule: "exact",
    };
  }
  const inc = mean(state.incumbent);
  const cand = mean(state.candidate);
  const diff = cand - inc;
  const good = goodSign(params.direction) * diff;
  const effect = relative(diff, inc);
  const margin = improvementMargin(
    inc,
    params.minEffect,
    params.minImprovement,
  );
  const detail = `exact: ${fmt(cand)} vs ${fmt(inc)} (${pct(effect)})`;
  const base = {
    p_value: null,
    effect,
    ci: effect === null ? null : [effect, effect] as [number, number],
    n_incumbent: state.incumbent.length,
    n_candidate: state.candidate.length,
    rule: "exact",
    detail,
  };
  if (good > margin) return { ...base, decision: "improved", reason: null };
  if (good < 0) return { ...base, decision: "regressed", reason: null };
  return {
    ...base,
    decision: "no_change",
    reason: good > 0 ? "below_min_effect" : "within_noise",
  };
}

/**
 * One look of the sequential rule. Call after the first `startPerSide`
 * pairs and after every added pair; at `maxPerSide` pairs it always answers
 * `done`. The look number is the pair count minus `startPerSide` plus one.
 *
 * At each look, with α_k the look's nominal level from the group-sequential
 * boundary (O'Brien–Fleming-type Lan–DeMets spending of 1 − confidence):
 *
 * 1. significant better (p ≤ α_k) and the mean difference beyond the margin
 *    → `improved`; significant but the interval cannot reach the margin
 *    (or it is the last look) → `no_change` (`below_min_effect`);
 * 2. significantly worse → `regressed`;
 * 3. the interval's better end cannot reach the margin → `no_change`;
 * 4. last look: a promising but unproven estimate → `inconclusive`
 *    (`trials_exhausted`), else `no_change` (`within_noise`);
 * 5. predictive power of the remaining looks below 10% → `no_change`
 *    (`within_noise`, futility);
 * 6. otherwise `continue`.
 */
export function stepStat(state: StatState, params: StatParams): StatStep {
  if (params.deterministic) {
    return { kind: "done", ...decideExact(state, params) };
  }
  const { startPerSide, maxPerSide, confidence, direction } = params;
  const nI = state.incumbent.length;
  const nC = state.candidate.length;
  const pairs = Math.max(nI, nC);
  const boundary = planBoundary(
    confidence,
    startPerSide,
    maxPerSide,
    params.lookMethod,
  );
  const looks = boundary.times.length;
  const look = Math.min(looks, Math.max(1, pairs - startPerSide + 1));
  const final = pairs >= maxPerSide;
  const alphaK = boundary.nominal[look - 1]!;
  const zFinal = boundary.z[looks - 1]!;
  const counts = `${nC} vs ${nI} trials, look ${look}/${looks}`;

  if (nI < 2 || nC < 2) {
    // Too few values to estimate a spread (the incumbent's trials failed).
    if (!final) {
      return { kind: "continue", look, looks, detail: `${counts}: too few` };
    }
    return {
      kind: "done",
      decision: "inconclusive",
      reason: "trials_exhausted",
      detail: `${counts}: too few ok trials on a side to compare`,
      p_value: null,
      effect: null,
      ci: null,
      n_incumbent: nI,
      n_candidate: nC,
      rule: "none",
    };
  }

  const { incumbent, candidate } = state;
  const sign = goodSign(direction);
  const incMean = mean(incumbent);
  const candMean = mean(candidate);
  const diff = candMean - incMean;
  const good = sign * diff;
  const margin = improvementMargin(
    incMean,
    params.minEffect,
    params.minImprovement,
  );

  // The test in the metric's direction.
  const test = chooseTest(candidate, incumbent);
  let pGood: number;
  let pBad: number;
  let rule: string;
  let minP = 0;
  const w = welch(candidate, incumbent);
  if (test === "welch-t" && w !== null) {
    pGood = sign === 1 ? w.pGreater : w.pLess;
    pBad = sign === 1 ? w.pLess : w.pGreater;
    rule = "welch-t";
  } else {
    const mw = mannWhitney(candidate, incumbent);
    pGood = sign === 1 ? mw.pGreater : mw.pLess;
    pBad = sign === 1 ? mw.pLess : mw.pGreater;
    rule = mw.exact ? "mann-whitney-exact" : "mann-whitney-normal";
    minP = mw.minP;
  }

  // Repeated confidence interval of the mean difference at this look's
  // nominal level (Welch standard error): consistent with the boundary, so
  // it covers the true difference at every look simultaneously.
  let lo = diff;
  let hi = diff;
  if (w !== null) {
    const q = tQuantile(1 - alphaK, w.df) * w.se;
    lo = diff - q;
    hi = diff + q;
  }
  const goodHi = sign === 1 ? hi : -lo;
  const effect = relative(diff, incMean);
  // The recorded interval is the same repeated interval on the ratio scale
  // (log of the means, delta method): a relative effect of a positive
  // metric cannot go below −100%. The decision above uses the difference.
  const ci = effectInterval(candidate, incumbent, 1 - alphaK);
  const pReported = Math.min(pGood, 1);
  const done = (
    decision: VerdictDecision,
    reason: Reason | null,
    why: string,
  ): StatStep => ({
    kind: "done",
    decision,
    reason,
    detail: `${rule}, ${counts}: p=${fmt(pGood)} vs level ${
      fmt(alphaK)
    }, effect ${pct(effect)}; ${why}`,
    p_value: pReported,
    effect,
    ci,
    n_incumbent: nI,
    n_candidate: nC,
    rule,
  });

  if (pGood <= alphaK) {
    if (good > margin) return done("improved", null, "significant");
    if (goodHi <= margin || final) {
      // With no margin, "significant but not better" can only mean the
      // rank test and the means disagree (an outlier): not a gain.
      return margin > 0
        ? done(
          "no_change",
          "below_min_effect",
          "significant but below the minimum effect",
        )
        : done(
          "no_change",
          "within_noise",
          "the ranks favour the candidate but its mean does not",
        );
    }
    return {
      kind: "continue",
      look,
      looks,
      detail: `${counts}: significant, effect not yet past the minimum`,
      estimate: { p_value: pReported, effect, ci, rule },
    };
  }
  if (pBad <= alphaK) return done("regressed", null, "significantly worse");
  if (goodHi <= margin) {
    return margin > 0 && goodHi > 0
      ? done(
        "no_change",
        "below_min_effect",
        "the interval excludes the minimum effect",
      )
      : done("no_change", "within_noise", "the interval excludes a gain");
  }
  if (final) {
    if (good > margin) {
      return done(
        "inconclusive",
        "trials_exhausted",
        "promising but not significant at the last look",
      );
    }
    return margin > 0 && good > 0
      ? done("no_change", "below_min_effect", "gain below the minimum effect")
      : done("no_change", "within_noise", "no gain beyond the noise");
  }
  // Futility: a p-value of 1 (all ties) maps to z = −∞ and stops at once.
  const z = pGood >= 1 ? -Infinity : -normalQuantile(pGood);
  const t = boundary.times[look - 1]!;
  const pp = predictivePower(z, t, zFinal);
  if (params.futility !== false && pp < FUTILITY_PREDICTIVE_POWER) {
    return done(
      "no_change",
      "within_noise",
      `futility: predictive power ${pct(pp)}`,
    );
  }
  const unreachable = minP > alphaK ? ` (rank test cannot reach it yet)` : "";
  return {
    kind: "continue",
    look,
    looks,
    detail: `${counts}: p=${fmt(pGood)} vs level ${fmt(alphaK)}${unreachable}`,
    estimate: { p_value: pReported, effect, ci, rule },
  };
}
