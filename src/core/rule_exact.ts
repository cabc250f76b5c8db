/**
 * The deterministic-metric path of `--decision stat`: when every baseline
 * trial gave the same value (measure_plan.ts's `isDeterministic`), one
 * trial a side compared exactly.
 */
import { fmt, goodSign, pct, relative } from "./_rule_math.ts";
import { mean } from "./stats.ts";
import { type Direction, improvementMargin, type Verdict } from "./verdict.ts";

/**
 * The exact comparison of a deterministic metric: `improved` when the
 * candidate is better by more than the margin (both `minImprovement` and
 * `minEffect` relative), `regressed` when worse, else `no_change`.
 * The interval is the single point: a deterministic metric has no noise.
 */
export function decideExact(
  /** The ok scores of each side (rule_stat.ts's `StatState`). */
  state: { incumbent: readonly number[]; candidate: readonly number[] },
  params: { direction: Direction; minEffect: number; minImprovement: number },
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
