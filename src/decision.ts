/**
 * The bridge between the loop's measurements and the pure decision core:
 * which rule is in force, one step of it, and the summaries (baseline,
 * incumbent) the prompts, records and views show.
 */
import type { Config } from "./config/config.ts";
import {
  decideCrashed,
  decideMean,
  planStat,
  stepStat,
  type Verdict,
} from "./core/decide.ts";
import type { Judgement } from "./core/judgement.ts";
import type { IterationRecord } from "./core/state.ts";
import { mean, meanCi } from "./core/stats.ts";
import { incumbentOf } from "./core/stop.ts";

export type { Judgement };

/** The rule deciding a candidate: the original mean, the sequential test, or exact comparison. */
export type MeasureRule = "mean" | "stat" | "exact";

/** The scores measured so far in one iteration. */
export interface JudgeInput {
  candidate: readonly (number | null)[];
  incumbent: readonly number[];
  /** The incumbent's recorded average (the `mean` rule compares with it). */
  incumbentRecordedMean: number;
  config: Config;
}

function ciOf(
  values: readonly number[],
  confidence: number,
): [number, number] | null {
  return values.length >= 2 ? meanCi(values, confidence) : null;
}

function toJudgement(v: Verdict, input: JudgeInput): Judgement {
  const inc = input.incumbent;
  const cand = input.candidate.filter((s): s is number => s !== null);
  return {
    decision: v.decision,
    reason: v.reason,
    detail: v.detail,
    p_value: v.p_value,
    effect: v.effect,
    ci: v.ci,
    rule: v.rule,
    incumbentMean: inc.length > 0 ? mean(inc) : null,
    incumbentCi: ciOf(inc, input.config.confidence),
    candidateCi: ciOf(cand, input.config.confidence),
  };
}

/** Trials per side: where a comparison starts and how far it may go. */
export function plan(
  rule: MeasureRule,
  config: Config,
): { start: number; max: number } {
  if (rule === "mean") return { start: config.trials, max: config.trials };
  const p = planStat(config, rule === "exact");
  return { start: p.startPerSide, max: p.maxPerSide };
}

/**
 * One look at the data: a Judgement when the rule can decide, or null when it
 * needs another pair of trials. A failed candidate trial decides at once.
 */
export function judge(rule: MeasureRule, input: JudgeInput): Judgement | null {
  const { config } = input;
  if (input.candidate.some((s) => s === null)) {
    return toJudgement(
      decideCrashed({ candidate: input.candidate, incumbent: input.incumbent }),
      input,
    );
  }
  if (rule === "mean") {
    return toJudgement(
      decideMean({
        candidate: input.candidate,
        incumbentMean: input.incumbentRecordedMean,
        direction: config.direction,
        minImprovement: config.minImprovement,
      }),
      input,
    );
  }
  const p = planStat(config, rule === "exact");
  const step = stepStat(
    {
      incumbent: input.incumbent,
      candidate: input.candidate as readonly number[],
    },
    {
      ...p,
      direction: config.direction,
      confidence: config.confidence,
      minEffect: config.minEffect,
      minImprovement: config.minImprovement,
      deterministic: rule === "exact",
    },
  );
  return step.kind === "continue" ? null : toJudgement(step, input);
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
