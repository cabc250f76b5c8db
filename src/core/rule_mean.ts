/**
 * The original keep-or-revert rule (`--decision mean`): the candidate's
 * average against the incumbent's recorded one, no test.
 */
import { fmt, goodSign, pct, relative } from "./_rule_math.ts";
import { mean } from "./stats.ts";
import { decideCrashed, type Direction, type Verdict } from "./verdict.ts";

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
