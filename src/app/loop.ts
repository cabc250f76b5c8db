/**
 * The loop: the baseline (iteration 0), then iterations until a stop
 * condition, each one end to end: propose → integrity check → check command
 * → measure → decide → commit or revert → record. Everything outside arrives
 * through `LoopPorts`, so the same code runs against Docker and git in
 * production and against fakes in tests.
 *
 * Failures inside an iteration (a crashed trial, a rejected diff, a proposal
 * that never submits) are data: they become the record's decision and reason.
 * Only infrastructure failures (Docker or the API gone) and signals escape as
 * exceptions; the caller leaves the run resumable.
 */
import type { Config } from "../config/config.ts";
import { checkCandidateChanges } from "../core/integrity.ts";
import {
  addTokens,
  type CurrentIteration,
  emptyGuardRecord,
  emptyGuards,
  emptyTokens,
  type IterationRecord,
  makeRecord,
  meanOfScores,
  SCHEMA_VERSION,
} from "../core/state.ts";
import type {
  LoopPorts,
  ProposalSummary,
  TrialPort,
  TrialSummary,
} from "./ports.ts";
import { commitMessage } from "../core/commit_message.ts";
import { measureCandidate } from "./measure_candidate.ts";
import type { EventSink } from "../core/events.ts";
import { baselineSummary } from "../core/incumbent.ts";
import { BaselineError } from "../errors.ts";
import { baselineTrials, deterministicUnder } from "../core/measure_plan.ts";
import {
  type LoopEnd,
  loopEndOf,
  type RunState,
  stopNow,
  throwIfInterrupted,
} from "./run_state.ts";
import {
  diffSummary,
  guardNote,
  guardRecords,
  isoNow,
  type IterationOutcome,
  type RecordBase,
  recordIteration,
  recordUnsubmitted,
  setPhase,
} from "./iteration_record.ts";

/**
 * Iterate until a stop condition. Signals and upstream failures end the loop
 * with the worktree reset to the incumbent and nothing half-recorded.
 */
export async function driveLoop(
  ports: LoopPorts,
  state: RunState,
): Promise<LoopEnd> {
  try {
    while (true) {
      const reason = stopNow(state);
      // Spend carried from an iteration cut short goes into a record even
      // when it exhausted the budget: the retry's proposal makes no call and
      // records it (then the run stops for cost).
      if (reason !== null && !(reason === "cost" && state.carried)) {
        return { reason, error: null };
      }
      throwIfInterrupted(ports.signal);
      const iter = state.records.length;
      const outcome = await runIteration(ports, state, iter);
      if (outcome.kind === "cost_cap") return { reason: "cost", error: null };
    }
  } catch (error) {
    await ports.git.reset(state.incumbent.sha).catch(() => {});
    // current.json stays: what the cut-short iteration spent is carried
    // into its retry by `resume` (see `interruptedSpend`).
    const end = loopEndOf(error, ports.signal);
    if (end !== null) return end;
    throw error;
  }
}

/**
 * Measure iteration 0: `baselineTrials` trials (core/measure_plan.ts)
 * of the start commit. Every trial must yield the metric, or the run stops
 * before any API call (exit 5).
 */
export async function measureBaseline(
  deps: {
    trials: TrialPort;
    events: EventSink;
    signal: AbortSignal;
    now: () => Date;
    /** Told before each trial starts (current.json's `baseline` phase). */
    onTrialStart?: (k: number, n: number) => Promise<void>;
  },
  input: { runId: string; config: Config; tree: string; sha: string },
): Promise<
  {
    record: IterationRecord;
    deterministic: boolean;
    unit: string | null;
    /** Each guard's unit (from the first trial; the others matched it). */
    guardUnits: Record<string, string | null>;
    secondsPerTrial: number;
  }
> {
  const { config } = input;
  const n = baselineTrials(config);
  const started = deps.now().getTime();
  const results: TrialSummary[] = [];
  let unit: string | null | undefined = undefined;
  let guardUnits: Record<string, string | null> | undefined = undefined;
  for (let k = 1; k <= n; k++) {
    throwIfInterrupted(deps.signal);
    await deps.onTrialStart?.(k, n);
    const t = await deps.trials.trial({
      iter: 0,
      trial: k,
      tree: input.tree,
      side: "incumbent",
      // The first trial sets the units the others must match.
      ...(unit === undefined ? {} : { expectedUnit: unit }),
      ...(guardUnits === undefined ? {} : { expectedGuardUnits: guardUnits }),
    });
    deps.events({
      event: "trial",
      iter: 0,
      side: "incumbent",
      k,
      n,
      outcome: t.outcome,
      score: t.score,
      wall_s: t.wallSeconds,
    });
    if (t.outcome !== "ok" || t.score === null) {
      throw new BaselineError(
        `The baseline could not be measured: trial ${k} of ${n} ended ${t.outcome}${
          t.detail ? `: ${t.detail}` : ""
        }`,
        {
          hint: `See .ratchet/reports/iter-0000-trial-${
            String(k).padStart(2, "0")
          }.txt; try the command with "ratchet measure" until it prints the metric.`,
        },
      );
    }
    if (unit === undefined) unit = t.unit;
    if (guardUnits === undefined) guardUnits = { ...t.guardUnits };
    results.push(t);
  }
  const scores = results.map((r) => r.score as number);
  const guards = config.guard.length === 0 ? null : Object.fromEntries(
    config.guard.map((g) => {
      const values = results.map((r) => r.guards[g.name] ?? null);
      return [g.name, {
        ...emptyGuardRecord(),
        scores: values,
        avg: meanOfScores(values),
      }];
    }),
  );
  const deterministic = deterministicUnder(config.decision, scores);
  const seconds = (deps.now().getTime() - started) / 1000;
  const summary = baselineSummary(scores, config);
  const record = makeRecord({
    run_id: input.runId,
    iter: 0,
    decision: "baseline",
    kept: true,
    trial_scores: scores,
    trial_outcomes: results.map((r) => r.outcome),
    baseline_scores: [],
    sha: input.sha,
    ci: null,
    detail: deterministic
      ? `deterministic metric: all ${n} baseline trials gave ${
        scores[0]
      }; one trial per side from now on`
      : `mean ${summary.mean} over ${n} trials`,
    guards,
    duration_s: seconds,
    timestamp: deps.now().toISOString(),
  });
  return {
    record,
    deterministic,
    unit: unit ?? null,
    guardUnits: guardUnits ?? {},
    secondsPerTrial: seconds / n,
  };
}

/** Run iteration `iter` (≥ 1) and update `state`. */
export async function runIteration(
  ports: LoopPorts,
  state: RunState,
  iter: number,
): Promise<IterationOutcome> {
  const started = ports.now().getTime();
  const carried = state.carried ?? null;
  const current = await beginIteration(ports, state, iter);
  const proposal = await propose(ports, state, iter, current);
  state.costUsd += proposal.costUsd;
  state.carried = null;
  const tokens = carried === null
    ? proposal.tokens
    : addTokens(carried.tokens, proposal.tokens);
  const cost = (carried?.costUsd ?? 0) + proposal.costUsd;
  if (proposal.kind === "cost_cap" && cost === 0) {
    await ports.git.reset(state.incumbent.sha);
    await ports.store.clearCurrent();
    return { kind: "cost_cap", costUsd: state.costUsd };
  }
  current.hypothesis = proposal.hypothesis;
  current.description = proposal.description;
  current.tokens = tokens;
  current.cost_usd = cost;
  const base: RecordBase = (fields) =>
    makeRecord({
      run_id: state.runId,
      iter,
      hypothesis: proposal.hypothesis,
      description: proposal.description,
      tokens,
      cost_usd: cost,
      critic: proposal.critic,
      timestamp: isoNow(ports),
      duration_s: (ports.now().getTime() - started) / 1000,
      sha: null,
      guards: emptyGuards(state.config.guard.map((g) => g.name)),
      ...fields,
    });
  if (proposal.kind !== "submitted") {
    return await recordUnsubmitted(ports, state, iter, proposal, base);
  }
  return await judgeCandidate(ports, state, iter, current, proposal, base);
}

/** Open the iteration: its current.json (phase `proposing`). */
async function beginIteration(
  ports: LoopPorts,
  state: RunState,
  iter: number,
): Promise<CurrentIteration> {
  const carried = state.carried ?? null;
  const current: CurrentIteration = {
    schema_version: SCHEMA_VERSION,
    run_id: state.runId,
    iter,
    phase: "proposing",
    incumbent_sha: state.incumbent.sha,
    candidate_tree: null,
    hypothesis: "",
    description: "",
    started_at: isoNow(ports),
    tokens: carried?.tokens ?? emptyTokens(),
    cost_usd: carried?.costUsd ?? 0,
  };
  await setPhase(ports, current, "proposing");
  return current;
}

/**
 * Ask the proposer for one change, with the research log, the user's notes
 * and the last crash; every model call's spend goes into current.json as
 * it happens.
 */
async function propose(
  ports: LoopPorts,
  state: RunState,
  iter: number,
  current: CurrentIteration,
): Promise<ProposalSummary> {
  // Marked read in recordIteration() once this iteration is recorded: a
  // crash before that hands the notes to the resumed iteration instead of
  // losing them.
  const notes = await ports.store.peekUnreadNotes();
  state.notesThrough = notes.at(-1)?.id ?? null;
  const last = state.records.at(-1) ?? null;
  let saving: Promise<void> = Promise.resolve();
  return await ports.proposer.propose({
    iter,
    baseline: {
      mean: state.baseline.mean,
      ci: state.baseline.ci,
      n: state.baseline.scores.length,
    },
    incumbent: {
      iter: state.incumbent.iter,
      tree: state.incumbent.tree,
      mean: state.incumbent.mean,
      ci: state.incumbent.ci,
      n: state.incumbent.scores.length,
    },
    log: state.records.filter((r) => r.iter > 0).map((r) => ({
      iter: r.iter,
      hypothesis: r.hypothesis,
      decision: r.decision,
      reason: r.reason,
      score: r.avg,
      diffSummary: diffSummary(r),
      guard: guardNote(r),
    })),
    notes: notes.map((n) => n.text),
    crashTail: state.crashTail,
    lastDecision: last && last.iter > 0 ? last : null,
    spentUsd: state.costUsd,
    onSpend: (call) => {
      current.tokens = addTokens(current.tokens, call.tokens);
      current.cost_usd += call.costUsd;
      const snapshot = structuredClone(current);
      // In call order; a failed write is retried by the next one.
      saving = saving.then(() => ports.store.writeCurrent(snapshot)).catch(
        () => {},
      );
    },
  }, ports.signal).finally(() => saving);
}

/**
 * A submitted candidate: its tree, the integrity check of its diff, the
 * check command, then measuring and deciding.
 */
async function judgeCandidate(
  ports: LoopPorts,
  state: RunState,
  iter: number,
  current: CurrentIteration,
  proposal: ProposalSummary,
  base: RecordBase,
): Promise<IterationOutcome> {
  const { tree, oversized } = await ports.git.candidateTree(
    state.config.maxFileSize,
  );
  current.candidate_tree = tree;
  if (tree === state.incumbent.tree && oversized.length === 0) {
    return await recordIteration(
      ports,
      state,
      base({
        decision: "no_change",
        kept: false,
        reason: "empty_diff",
        detail: "the proposal changed nothing",
      }),
      null,
    );
  }
  const diff = await ports.git.diff(state.incumbent.sha, tree);
  await ports.store.saveDiff(iter, diff.patch);
  ports.fault("loop.diff-saved");
  const withDiff: RecordBase = (fields) =>
    base({ diff_stat: diff.stat, ...fields });

  // Files over the cap the sandbox did not bring back, and those git was
  // not let read: either way the candidate is rejected (file_too_large).
  const violation = checkCandidateChanges(diff.changes, state.policy, {
    links: diff.links,
    maxFileBytes: state.config.maxFileSize,
    oversized: [...proposal.oversized, ...oversized],
  });
  if (violation) {
    ports.events({
      event: "decision",
      iter,
      decision: "rejected",
      detail: violation.detail,
    });
    return await recordIteration(
      ports,
      state,
      withDiff({
        decision: "rejected",
        kept: false,
        reason: violation.reason,
        detail: violation.detail,
      }),
      null,
    );
  }

  await setPhase(ports, current, "checking");
  const check = await ports.trials.check({ iter, tree });
  if (check && !check.passed) {
    return await recordIteration(
      ports,
      state,
      withDiff({
        decision: "rejected",
        kept: false,
        reason: "check_failed",
        detail: check.detail,
      }),
      null,
    );
  }
  return await measureAndDecide(ports, state, iter, current, {
    tree,
    proposal,
    withDiff,
  });
}

/** Measure the candidate against the incumbent; commit it if it improved. */
async function measureAndDecide(
  ports: LoopPorts,
  state: RunState,
  iter: number,
  current: CurrentIteration,
  c: { tree: string; proposal: ProposalSummary; withDiff: RecordBase },
): Promise<IterationOutcome> {
  await setPhase(ports, current, "measuring");
  const measured = await measureCandidate(ports, state, iter, c.tree);
  await setPhase(ports, current, "deciding");
  const j = measured.judgement;
  let sha: string | null = null;
  if (j.decision === "improved") {
    sha = await ports.git.commit(
      c.tree,
      state.incumbent.sha,
      commitMessage({
        iter,
        runId: state.runId,
        description: c.proposal.description,
        hypothesis: c.proposal.hypothesis,
        judgement: j,
        candidateScores: measured.candidateScores,
        incumbentScores: measured.incumbentScores,
        direction: state.config.direction,
      }),
    );
    ports.fault("loop.committed");
  }
  const record = c.withDiff({
    decision: j.decision,
    kept: j.decision === "improved",
    sha,
    reason: j.reason,
    detail: j.detail,
    trial_scores: measured.candidateScores,
    trial_outcomes: measured.candidateOutcomes,
    baseline_scores: measured.incumbentScores,
    p_value: j.p_value,
    effect: j.effect,
    ci: j.ci,
    guards: guardRecords(state, measured),
  });
  return await recordIteration(ports, state, record, {
    tree: c.tree,
    measured,
  });
}
