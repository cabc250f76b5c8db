/**
 * Measuring one candidate against the incumbent: the trials the measuring
 * schedule asks for (core/measure_plan.ts) run through the trial port, and
 * the rule in force judges them (core/judge.ts). The schedule is pure; this
 * file is the I/O around it.
 */
import { judge, type Judgement } from "../core/judge.ts";
import {
  afterLook,
  afterTrial,
  measureRule,
  nextMeasureAction,
  perSide,
  type Side,
  startSchedule,
} from "../core/measure_plan.ts";
import { withRuleLabel } from "../core/rule_label.ts";
import type { TrialOutcome } from "../core/state.ts";
import { InterruptedError, stopSignalOf } from "../errors.ts";
import type { LoopPorts, TrialSummary } from "./ports.ts";
import type { RunState } from "./run_state.ts";

/** What measuring reads of the loop's state. */
export type MeasureSetting =
  & Pick<RunState, "config" | "deterministic" | "unit" | "guards">
  & { incumbent: Pick<RunState["incumbent"], "tree" | "mean"> };

/** A measured candidate: the judgement and every value behind it. */
export interface Measured {
  judgement: Judgement;
  candidateScores: (number | null)[];
  candidateOutcomes: TrialOutcome[];
  incumbentScores: number[];
  crashTail: string | null;
  /** Each guard's values: the candidate's (null when not ok), the incumbent's ok ones. */
  guardScores: Record<
    string,
    { candidate: (number | null)[]; incumbent: number[] }
  >;
}

/**
 * Measure the candidate against the incumbent under the run's rule: `mean`
 * runs the candidate's trials and compares with the recorded average; `stat`
 * interleaves incumbent and candidate trials (A B A B …) and adds pairs until
 * the sequential test can tell.
 */
export async function measureCandidate(
  ports: LoopPorts,
  state: MeasureSetting,
  iter: number,
  tree: string,
): Promise<Measured> {
  const config = state.config;
  const rule = measureRule(config.decision, state.deterministic);
  const candidateScores: (number | null)[] = [];
  const candidateOutcomes: TrialOutcome[] = [];
  const incumbentScores: number[] = [];
  const guardScores: Measured["guardScores"] = Object.fromEntries(
    config.guard.map((g) => [g.name, { candidate: [], incumbent: [] }]),
  );
  let trialNo = 0;
  let crash: TrialSummary | null = null;

  /** Run one trial; true when it counts as ok for the schedule. */
  const runSide = async (side: Side, k: number, n: number) => {
    if (ports.signal.aborted) {
      throw new InterruptedError(stopSignalOf(ports.signal));
    }
    trialNo++;
    const t = await ports.trials.trial({
      iter,
      trial: trialNo,
      tree: side === "candidate" ? tree : state.incumbent.tree,
      side,
      expectedUnit: state.unit,
      ...(state.guards === undefined
        ? {}
        : { expectedGuardUnits: state.guards.units }),
    });
    ports.events({
      event: "trial",
      iter,
      side,
      k,
      n,
      outcome: t.outcome,
      score: t.score,
      wall_s: t.wallSeconds,
    });
    const ok = t.outcome === "ok";
    if (side === "candidate") {
      candidateScores.push(ok ? t.score : null);
      candidateOutcomes.push(t.outcome);
      for (const [name, g] of Object.entries(guardScores)) {
        g.candidate.push(ok ? t.guards[name] ?? null : null);
      }
      if (!ok && crash === null) crash = t;
      return ok;
    }
    if (ok && t.score !== null) {
      incumbentScores.push(t.score);
      for (const [name, g] of Object.entries(guardScores)) {
        const v = t.guards[name];
        if (v !== null && v !== undefined) g.incumbent.push(v);
      }
      return true;
    }
    return false;
  };

  const okValues = (values: readonly (number | null)[]) =>
    values.filter((v): v is number => v !== null);
  const input = () => ({
    candidate: candidateScores,
    incumbent: incumbentScores,
    incumbentRecordedMean: state.incumbent.mean,
    config,
    guards: {
      incumbent: Object.fromEntries(
        Object.entries(guardScores).map(([n, g]) => [n, g.incumbent]),
      ),
      candidate: Object.fromEntries(
        Object.entries(guardScores).map(([n, g]) => [n, okValues(g.candidate)]),
      ),
      incumbentRecorded: state.guards?.incumbentMeans ?? {},
      deterministic: state.guards?.deterministic ?? {},
    },
  });

  let schedule = startSchedule(
    rule,
    perSide(rule, config, state.guards?.deterministic),
  );
  let judgement: Judgement | null = null;
  for (
    let action = nextMeasureAction(schedule);
    action.kind !== "done";
    action = nextMeasureAction(schedule)
  ) {
    if (action.kind === "look") {
      judgement = judge(rule, input());
      schedule = afterLook(schedule, judgement !== null);
    } else {
      const ok = await runSide(action.side, action.k, action.n);
      schedule = afterTrial(schedule, action, ok);
    }
  }
  if (judgement === null) {
    judgement = {
      decision: "inconclusive",
      reason: "trials_exhausted",
      detail: withRuleLabel(
        "none",
        `the incumbent's own trials failed ${schedule.incumbentFailures} time(s); nothing could be compared`,
      ),
      p_value: null,
      effect: null,
      ci: null,
      rule,
      incumbentMean: null,
      incumbentCi: null,
      candidateCi: null,
      guards: null,
    };
  }
  const crashTail = crash === null ? null : (crash as TrialSummary).outputTail;
  return {
    judgement,
    candidateScores,
    candidateOutcomes,
    incumbentScores,
    crashTail,
    guardScores,
  };
}
