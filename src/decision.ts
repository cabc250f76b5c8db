/**
 * The bridge between the loop's measurements and the pure decision core:
 * which rule is in force, one step of it (with the guards), and the
 * summaries (baseline, incumbent) the prompts, records and views show.
 */
import type { Config } from "./config/config.ts";
import {
  decideCrashed,
  decideMean,
  planStat,
  type Verdict,
} from "./core/decide.ts";
import {
  exactGuard,
  type GuardLook,
  stepStatGuarded,
} from "./core/guard_decide.ts";
import type { Judgement } from "./core/judgement.ts";
import { withRuleLabel } from "./core/rule_label.ts";
import type { IterationRecord } from "./core/state.ts";
import { mean, meanCi } from "./core/stats.ts";
import { incumbentOf } from "./core/stop.ts";

export type { Judgement };

/** The rule deciding a candidate: the original mean, the sequential test, or exact comparison. */
export type MeasureRule = "mean" | "stat" | "exact";

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
  config: Config;
  /** The guards' values; absent or empty without `--guard`. */
  guards?: GuardInput;
}

function ciOf(
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
    incumbentCi: ciOf(inc, input.config.confidence),
    candidateCi: ciOf(cand, input.config.confidence),
    guards: guards === null || guards.length === 0
      ? null
      : Object.fromEntries(guards.map((g) => [g.name, g])),
  };
}

/** True when some guard is noisy: it needs the sequential plan's pairs. */
function noisyGuards(config: Config, guards: GuardInput | undefined): boolean {
  return config.guard.some((g) => !(guards?.deterministic[g.name] ?? false));
}

/**
 * Trials per side: where a comparison starts and how far it may go. A
 * deterministic metric needs one pair, unless a guard is noisy: its
 * non-inferiority test needs the sequential plan's pairs.
 */
export function plan(
  rule: MeasureRule,
  config: Config,
  guardDeterministic: Record<string, boolean> = {},
): { start: number; max: number } {
  if (rule === "mean") return { start: config.trials, max: config.trials };
  const exact = rule === "exact" &&
    !config.guard.some((g) => !(guardDeterministic[g.name] ?? false));
  const p = planStat(config, exact);
  return { start: p.startPerSide, max: p.maxPerSide };
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
  const p = planStat(
    config,
    !noisyGuards(config, input.guards) && rule === "exact",
  );
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

/** The baseline's scores, mean and interval. */
export function baselineSummary(
  scores: readonly number[],
  config: Config,
): { mean: number; ci: [number, number] | null; scores: number[] } {
  return {
    mean: mean(scores),
    ci: ciOf(scores, config.confidence),
    scores: [...scores],
  };
}

/** The incumbent (latest kept record) with its latest measured mean. */
export function incumbentSummary(
  records: readonly IterationRecord[],
  config: Config,
): {
  iter: number;
  sha: string;
  mean: number;
  ci: [number, number] | null;
  scores: number[];
} {
  const inc = incumbentOf(records, { confidence: config.confidence });
  if (inc === null || inc.sha === null) {
    throw new Error("no kept record with a commit: the baseline is missing");
  }
  return {
    iter: inc.iter,
    sha: inc.sha,
    mean: inc.mean,
    ci: inc.ci,
    scores: inc.scores,
  };
}
