/**
 * A verdict: what one keep-or-revert rule concludes about the metric of a
 * measured candidate (spec section 7). The rules are pure: the loop
 * measures, they decide.
 *
 * - rule_mean.ts: the original rule (`--decision mean`);
 * - rule_stat.ts: the adaptive sequential rule (`--decision stat`, the
 *   default);
 * - rule_exact.ts: the deterministic-metric path of `stat`;
 * - {@linkcode decideCrashed} here: a candidate whose trial failed.
 *
 * judge.ts turns a verdict (with the guards) into the Judgement the loop
 * records; measure_plan.ts says which rule applies and how many trials it
 * gets. How and why the sequential rule works is in docs/decisions.md.
 */
import type { Decision, Reason } from "./state.ts";

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
