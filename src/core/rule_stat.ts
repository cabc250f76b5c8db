/**
 * The adaptive sequential keep-or-revert rule (`--decision stat`, the
 * default). The caller measures the incumbent and the candidate
 * interleaved (A B A B …, the schedule in measure_plan.ts), `startPerSide`
 * pairs first, then calls {@linkcode stepStat} after every added pair until
 * it answers `done`.
 *
 * How and why the sequential rule works is in docs/decisions.md.
 */
import { fmt, goodSign, pct, relative } from "./_rule_math.ts";
import { mannWhitney } from "./mann_whitney.ts";
import type { StatPlan } from "./measure_plan.ts";
import { decideExact } from "./rule_exact.ts";
import {
  FUTILITY_PREDICTIVE_POWER,
  type LookMethod,
  planBoundary,
  predictivePower,
} from "./sequential.ts";
import type { Reason } from "./state.ts";
import {
  allEqual,
  effectInterval,
  mean,
  normalQuantile,
  pairHasOutlier,
  tQuantile,
  welch,
} from "./stats.ts";
import {
  type Direction,
  improvementMargin,
  type Verdict,
  type VerdictDecision,
} from "./verdict.ts";

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
