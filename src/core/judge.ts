/**
 * Judging a measured candidate: the rule in force (measure_plan.ts) gives
 * a verdict on the metric (rule_mean.ts, rule_stat.ts, rule_exact.ts,
 * verdict.ts), the guards are checked beside it (guard_decide.ts), and the
 * result is a Judgement in the shape the loop records (spec section 8:
 * p-value, effect, interval, rule) and the commit message shows.
 */
import { exactGuard, type GuardLook, stepStatGuarded } from "./guard_decide.ts";
import type { GuardSpec } from "./guards.ts";
import { type MeasureRule, statPlanOf } from "./measure_plan.ts";
import { decideMean } from "./rule_mean.ts";
import { withRuleLabel } from "./rule_label.ts";
import type { Decision, Reason } from "./state.ts";
import { mean, meanCi } from "./stats.ts";
import { decideCrashed, type Direction, type Verdict } from "./verdict.ts";

/** A finished comparison. */
export interface Judgement {
  decision: Decision;
  reason: Reason | null;
  detail: string;
  p_value: number | null;
  effect: number | null;
  ci: [number, number] | null;
  /** Which rule decided: "mean", "exact", "welch-t", a rank test … */
  rule: string;
  /** The incumbent's mean as measured in this iteration (null under mean). */
  incumbentMean: number | null;
  /** Interval of the incumbent's mean from this iteration's trials. */
  incumbentCi: [number, number] | null;
  /** Interval of the candidate's mean. */
  candidateCi: [number, number] | null;
  /** Each guard at the deciding look; null without guards or comparison. */
  guards: Record<string, GuardLook> | null;
}

/** What judging reads of the run's configuration (the config's fields). */
export interface JudgeConfig {
  direction: Direction;
  confidence: number;
  minEffect: number;
  minImprovement: number;
  trials: number;
  maxTrials: number;
  guard: readonly GuardSpec[];
}

/** Every guard's values measured so far in one iteration (ok trials only). */
export interface GuardInput {
  /** By guard name, in the incumbent's ok-trial order. */
  incumbent: Record<string, readonly number[]>;
  /** By guard name, in the candidate's ok-trial order. */
  candidate: Record<string, readonly number[]>;
  /** The incumbent's recorded guard averages (the `mean` rule compares with them). */
  incumbentRecorded: Record<string, number | null>;
  /** Guards whose baseline trials were all identical: compared exactly. */
  deterministic: Record<string, boolean>;
}

/** The scores measured so far in one iteration. */
export interface JudgeInput {
  candidate: readonly (number | null)[];
  incumbent: readonly number[];
  /** The incumbent's recorded average (the `mean` rule compares with it). */
  incumbentRecordedMean: number;
  config: JudgeConfig;
  /** The guards' values; absent or empty without `--guard`. */
  guards?: GuardInput;
}

/** The interval of the mean of `values`; null for fewer than two. */
export function meanInterval(
  values: readonly number[],
  confidence: number,
): [number, number] | null {
  return values.length >= 2 ? meanCi(values, confidence) : null;
}

function toJudgement(
  v: Verdict,
  input: JudgeInput,
  guards: readonly GuardLook[] | null,
): Judgement {
  const inc = input.incumbent;
  const cand = input.candidate.filter((s): s is number => s !== null);
  return {
    decision: v.decision,
    reason: v.reason,
    detail: withRuleLabel(v.rule, v.detail),
    p_value: v.p_value,
    effect: v.effect,
    ci: v.ci,
    rule: v.rule,
    incumbentMean: inc.length > 0 ? mean(inc) : null,
    incumbentCi: meanInterval(inc, input.config.confidence),
    candidateCi: meanInterval(cand, input.config.confidence),
    guards: guards === null || guards.length === 0
      ? null
      : Object.fromEntries(guards.map((g) => [g.name, g])),
  };
}

/**
 * One look at the data: a Judgement when the rule can decide, or null when it
 * needs another pair of trials. A failed candidate trial decides at once.
 * With guards, a candidate the rule calls `improved` is kept only when every
 * guard is shown not worse than its tolerance (core/guard_decide.ts).
 */
export function judge(rule: MeasureRule, input: JudgeInput): Judgement | null {
  const { config } = input;
  const specs = config.guard;
  if (input.candidate.some((s) => s === null)) {
    return toJudgement(
      decideCrashed({ candidate: input.candidate, incumbent: input.incumbent }),
      input,
      null,
    );
  }
  if (rule === "mean") {
    const v = decideMean({
      candidate: input.candidate,
      incumbentMean: input.incumbentRecordedMean,
      direction: config.direction,
      minImprovement: config.minImprovement,
    });
    const looks = specs.flatMap((g) => {
      const values = input.guards?.candidate[g.name] ?? [];
      const recorded = input.guards?.incumbentRecorded[g.name] ?? null;
      return values.length === 0 || recorded === null
        ? []
        : [exactGuard(g, mean(values), recorded, "none")];
    });
    const worse = looks.filter((l) => l.state === "worse");
    if (v.decision === "improved" && worse.length > 0) {
      return toJudgement(
        {
          ...v,
          decision: "regressed",
          reason: "guard_regressed",
          detail: `${
            worse.map((l) => l.detail).join("; ")
          }; metric: ${v.detail}`,
        },
        input,
        looks,
      );
    }
    return toJudgement(
      v.decision === "improved" && looks.length > 0
        ? {
          ...v,
          detail: `${v.detail}; ${looks.map((l) => l.detail).join("; ")}`,
        }
        : v,
      input,
      looks,
    );
  }
  const p = statPlanOf(rule, config, input.guards?.deterministic ?? {});
  const candidate = input.candidate as readonly number[];
  const { step, looks } = stepStatGuarded(
    { incumbent: input.incumbent, candidate },
    {
      ...p,
      direction: config.direction,
      confidence: config.confidence,
      minEffect: config.minEffect,
      minImprovement: config.minImprovement,
      deterministic: rule === "exact",
    },
    {
      specs,
      incumbent: input.guards?.incumbent ?? {},
      candidate: input.guards?.candidate ?? {},
      deterministic: input.guards?.deterministic ?? {},
    },
  );
  return step.kind === "continue"
    ? null
    : toJudgement(step, input, looks.length === 0 ? null : looks);
}
