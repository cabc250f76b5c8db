/**
 * The measurement plan, every number and rule of it in one place: which
 * keep-or-revert rule decides a candidate, how many trials the baseline
 * gets, how many trials a side a comparison starts with and may grow to,
 * and the A/B schedule that runs them.
 *
 * The schedule is a pure stepper: {@linkcode nextMeasureAction} reads what
 * has been measured so far and says what to do next (a trial of one side, a
 * look by the rule, or stop); {@linkcode afterTrial} and
 * {@linkcode afterLook} fold each result in. The caller
 * (app/measure_candidate.ts) runs the trials and asks the rule (judge.ts),
 * so the schedule can be tested without a container.
 */
import { allEqual } from "./stats.ts";

/**
 * The rule deciding a candidate: the original mean, the sequential test, or
 * the exact comparison of a deterministic metric.
 */
export type MeasureRule = "mean" | "stat" | "exact";

/** `--decision` (the config's `DecisionRule`; core may not import config). */
export type DecisionFlag = "stat" | "mean";

/**
 * Fewest trials a side under `stat`: the floor that makes a test possible
 * at all, whatever `--trials` says.
 */
export const STAT_MIN_PER_SIDE = 3;

/** Fewest baseline trials under `stat`: enough to tell a deterministic metric. */
export const STAT_MIN_BASELINE_TRIALS = 5;

/**
 * Failed incumbent trials after which a comparison gives up: the incumbent
 * itself no longer measures, so nothing can be compared.
 */
export const MAX_INCUMBENT_FAILURES = 3;

/** What the plan reads of the run's configuration. */
export interface PlanConfig {
  decision: DecisionFlag;
  trials: number;
  maxTrials: number;
  guard: readonly { name: string }[];
}

/**
 * A metric is deterministic when every baseline trial gave the same value
 * (at least two trials; one value proves nothing).
 */
export function isDeterministic(values: readonly number[]): boolean {
  return values.length >= 2 && allEqual(values);
}

/**
 * Whether the baseline's values make a metric (or a guard) deterministic
 * for the run: only `stat` compares exactly; `mean` never looks.
 */
export function deterministicUnder(
  decision: DecisionFlag,
  values: readonly number[],
): boolean {
  return decision === "stat" && isDeterministic(values);
}

/** The rule in force: `--decision mean`, else exact for a deterministic metric, else stat. */
export function measureRule(
  decision: DecisionFlag,
  deterministic: boolean,
): MeasureRule {
  if (decision === "mean") return "mean";
  return deterministic ? "exact" : "stat";
}

/** Trials of the baseline at iteration 0: max(trials, 5) under stat, trials under mean. */
export function baselineTrials(
  config: Pick<PlanConfig, "decision" | "trials">,
): number {
  return config.decision === "stat"
    ? Math.max(config.trials, STAT_MIN_BASELINE_TRIALS)
    : config.trials;
}

/** Where each side of a `stat` comparison starts: max(trials, 3). */
export function statStartPerSide(trials: number): number {
  return Math.max(trials, STAT_MIN_PER_SIDE);
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
  const startPerSide = statStartPerSide(config.trials);
  return {
    startPerSide,
    maxPerSide: Math.max(config.maxTrials, startPerSide),
  };
}

/** True when every guard's baseline was deterministic (none missing). */
export function allGuardsDeterministic(
  guards: readonly { name: string }[],
  guardDeterministic: Record<string, boolean>,
): boolean {
  return guards.every((g) => guardDeterministic[g.name] ?? false);
}

/** Trials a side: where a comparison starts and how far it may go. */
export interface PerSide {
  start: number;
  max: number;
}

/**
 * Trials per side under `rule`: `--trials` under mean; under stat the
 * sequential plan. A deterministic metric needs one pair, unless a guard is
 * noisy: its non-inferiority test needs the sequential plan's pairs.
 */
export function perSide(
  rule: MeasureRule,
  config: Pick<PlanConfig, "trials" | "maxTrials" | "guard">,
  guardDeterministic: Record<string, boolean> = {},
): PerSide {
  if (rule === "mean") return { start: config.trials, max: config.trials };
  const p = planStat(config, statExact(rule, config, guardDeterministic));
  return { start: p.startPerSide, max: p.maxPerSide };
}

/**
 * The sequential plan the rule steps through: that of {@linkcode perSide}
 * in the shape `stepStat` takes (mean has none: it never steps).
 */
export function statPlanOf(
  rule: Exclude<MeasureRule, "mean">,
  config: Pick<PlanConfig, "trials" | "maxTrials" | "guard">,
  guardDeterministic: Record<string, boolean> = {},
): StatPlan {
  return planStat(config, statExact(rule, config, guardDeterministic));
}

function statExact(
  rule: MeasureRule,
  config: Pick<PlanConfig, "guard">,
  guardDeterministic: Record<string, boolean>,
): boolean {
  return rule === "exact" &&
    allGuardsDeterministic(config.guard, guardDeterministic);
}

/**
 * Trials an iteration runs before the rule's first look: the candidate's
 * under mean (the incumbent has its recorded average), both sides' under
 * stat and exact. The run's time estimate reads it.
 */
export function trialsBeforeFirstLook(
  rule: MeasureRule,
  plan: PerSide,
): number {
  return rule === "mean" ? plan.start : 2 * plan.start;
}

// ---------------------------------------------------------------------------
// The A/B schedule

/** Which commit a trial measures. */
export type Side = "incumbent" | "candidate";

/** What to do next. */
export type MeasureAction =
  /** Run trial `k` of `n` planned on `side` (`n` grows as pairs are added). */
  | { kind: "trial"; side: Side; k: number; n: number }
  /** Ask the rule whether the trials so far decide. */
  | { kind: "look" }
  /**
   * Stop measuring: the rule decided, or the plan ran out (or the
   * incumbent kept failing) without a decision.
   */
  | { kind: "done" };

/** What has been measured so far in one comparison. */
export interface Schedule {
  readonly rule: MeasureRule;
  readonly plan: PerSide;
  /** Pairs planned (candidate trials under mean). */
  readonly planned: number;
  readonly incumbentRun: number;
  /** Incumbent trials that ended ok with a score. */
  readonly incumbentOk: number;
  readonly incumbentFailures: number;
  readonly candidateRun: number;
  /** A candidate trial did not end ok: the rule decides at once (crashed). */
  readonly candidateFailed: boolean;
  /** Candidate trials run when the rule last looked; null before any look. */
  readonly lookedAt: number | null;
  readonly decided: boolean;
}

/** The schedule of a comparison under `rule` with `plan` trials a side. */
export function startSchedule(rule: MeasureRule, plan: PerSide): Schedule {
  return {
    rule,
    plan,
    planned: plan.start,
    incumbentRun: 0,
    incumbentOk: 0,
    incumbentFailures: 0,
    candidateRun: 0,
    candidateFailed: false,
    lookedAt: null,
    decided: false,
  };
}

/**
 * The next step of the schedule.
 *
 * - `mean` runs the candidate's `start` trials (stopping at the first
 *   failed one) and looks once: it compares with the recorded average.
 * - `stat` and `exact` interleave incumbent and candidate (A B A B …) so
 *   drift over time hits both sides alike. A failed candidate trial ends
 *   the pair with a look (the rule calls it crashed);
 *   {@linkcode MAX_INCUMBENT_FAILURES} failed incumbent trials end the
 *   comparison undecided. Once the planned pairs are in, the rule looks
 *   (under stat only with two ok incumbent values, the least that has a
 *   spread); while it cannot decide, one pair at a time is added up to
 *   `max`.
 */
export function nextMeasureAction(s: Schedule): MeasureAction {
  if (s.decided) return { kind: "done" };
  if (s.rule === "mean") {
    if (!s.candidateFailed && s.candidateRun < s.plan.start) {
      return trial("candidate", s.candidateRun + 1, s.plan.start);
    }
    return s.lookedAt === null ? { kind: "look" } : { kind: "done" };
  }
  if (s.incumbentRun > s.candidateRun) {
    return trial("candidate", s.candidateRun + 1, s.planned);
  }
  const pairs = s.candidateRun;
  if (s.candidateFailed) {
    return s.lookedAt === pairs ? { kind: "done" } : { kind: "look" };
  }
  if (s.incumbentFailures >= MAX_INCUMBENT_FAILURES) return { kind: "done" };
  if (pairs < s.planned) return trial("incumbent", pairs + 1, s.planned);
  const canLook = s.incumbentOk >= 2 || s.rule === "exact";
  if (canLook && s.lookedAt !== pairs) return { kind: "look" };
  return s.planned < s.plan.max
    ? trial("incumbent", pairs + 1, s.planned + 1)
    : { kind: "done" };
}

function trial(side: Side, k: number, n: number): MeasureAction {
  return { kind: "trial", side, k, n };
}

/**
 * The schedule after the trial `action` asked for: `ok` when it ended ok
 * (for the incumbent: with a score).
 */
export function afterTrial(
  s: Schedule,
  action: Extract<MeasureAction, { kind: "trial" }>,
  ok: boolean,
): Schedule {
  if (action.side === "candidate") {
    return {
      ...s,
      planned: action.n,
      candidateRun: s.candidateRun + 1,
      candidateFailed: s.candidateFailed || !ok,
    };
  }
  return {
    ...s,
    planned: action.n,
    incumbentRun: s.incumbentRun + 1,
    incumbentOk: s.incumbentOk + (ok ? 1 : 0),
    incumbentFailures: s.incumbentFailures + (ok ? 0 : 1),
  };
}

/** The schedule after a look: `decided` when the rule reached a verdict. */
export function afterLook(s: Schedule, decided: boolean): Schedule {
  return { ...s, lookedAt: s.candidateRun, decided };
}
