/**
 * One iteration, end to end: propose → integrity check → check command →
 * measure → decide → commit or revert → record. Everything outside arrives
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
import type { ProtectionPolicy } from "../core/protect.ts";
import {
  addTokens,
  type CurrentIteration,
  type Decision,
  type DiffStat,
  emptyGuards,
  emptyTokens,
  type GuardRecord,
  type IterationRecord,
  makeRecord,
  meanOfScores,
  type Reason,
  SCHEMA_VERSION,
  type Tokens,
} from "../core/state.ts";
import type { LoopPorts } from "./ports.ts";
import { commitMessage } from "../core/commit_message.ts";
import { type StopSignal, stopSignalOf } from "../errors.ts";
import { measureCandidate, type Measured } from "./measure_candidate.ts";

/** The signal that aborted `signal`. */
export function signalName(signal: AbortSignal): StopSignal {
  return stopSignalOf(signal);
}

/** What the loop knows about the run between iterations. */
export interface RunState {
  runId: string;
  config: Config;
  policy: ProtectionPolicy;
  /** Metric is deterministic: one trial per side, exact comparison. */
  deterministic: boolean;
  /** Unit of the baseline's scores (null for plain numbers and times). */
  unit: string | null;
  /**
   * `--guard`: each guard's baseline unit (trials must match it), whether
   * its baseline trials were all identical (compared exactly), and the
   * incumbent's recorded average (what `--decision mean` compares with).
   * Empty maps without guards.
   */
  guards?: {
    units: Record<string, string | null>;
    deterministic: Record<string, boolean>;
    incumbentMeans: Record<string, number | null>;
  };
  baseline: { mean: number; ci: [number, number] | null; scores: number[] };
  incumbent: {
    iter: number;
    sha: string;
    tree: string;
    /** The incumbent's latest measured mean and interval. */
    mean: number;
    ci: [number, number] | null;
    /** Its scores from the latest measurement (the recorded trials for `mean`). */
    scores: number[];
  };
  records: IterationRecord[];
  costUsd: number;
  /** Tail of the last crashed trial's output, for the next proposal. */
  crashTail: string | null;
  /** Last `ratchet instruct` note given to the proposal in flight; marked read once it is recorded. */
  notesThrough?: number | null;
  /**
   * What an interrupted attempt at the next iteration spent (from
   * current.json, already in `costUsd`): added to that iteration's record.
   */
  carried?: Spend | null;
  /**
   * The last iteration recorded when a finished run was extended: patience
   * and crash counts start after it (see `StopParams.since`).
   */
  since?: number;
}

/** Tokens and cost of model calls. */
export interface Spend {
  tokens: Tokens;
  costUsd: number;
}

/** How an iteration ended. */
export type IterationOutcome =
  | { kind: "recorded"; record: IterationRecord }
  /**
   * The cost cap stopped the proposal before a call: nothing recorded when it
   * had spent nothing, else a `no_change` record carrying what it spent.
   */
  | { kind: "cost_cap"; costUsd: number };

function isoNow(ports: LoopPorts): string {
  return ports.now().toISOString();
}

/** The first lines of the research log the model sees for a record. */
function diffSummary(r: IterationRecord): string {
  const d = r.diff_stat;
  return `${d.files} file(s), +${d.insertions} -${d.deletions}`;
}

/**
 * For the research log: the guards that stopped a change (shown worse) or
 * kept it from being kept (still open when the trials ran out), from the
 * record's detail; null when no guard did.
 */
export function guardNote(r: IterationRecord): string | null {
  if (r.guards === null) return null;
  if (r.decision !== "regressed" && r.decision !== "inconclusive") return null;
  const stopped = r.detail.split("; ").filter((part) =>
    part.startsWith("guard ") && /: (worse|open)\b/.test(part)
  ).map((part) => part.replace(/, non-inferiority p=.*$/, ""));
  return stopped.length === 0 ? null : stopped.join("; ");
}

async function setPhase(
  ports: LoopPorts,
  current: CurrentIteration,
  phase: CurrentIteration["phase"],
): Promise<void> {
  current.phase = phase;
  await ports.store.writeCurrent(current);
  ports.events({ event: "phase", iter: current.iter, phase });
}

/** Run iteration `iter` (≥ 1) and update `state`. */
export async function runIteration(
  ports: LoopPorts,
  state: RunState,
  iter: number,
): Promise<IterationOutcome> {
  const started = ports.now().getTime();
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
  // Marked read in finish() once this iteration is recorded: a crash before
  // that hands the notes to the resumed iteration instead of losing them.
  const notes = await ports.store.peekUnreadNotes();
  state.notesThrough = notes.at(-1)?.id ?? null;
  const last = state.records.at(-1) ?? null;
  let saving: Promise<void> = Promise.resolve();
  const proposal = await ports.proposer.propose({
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

  const base = (fields: Partial<IterationRecord> & { decision: Decision }) =>
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
    const reason: Reason = proposal.kind === "tool_cap"
      ? "tool_cap"
      : "no_submit";
    const detail = proposal.kind === "tool_cap"
      ? `the proposal hit --max-tool-calls ${state.config.maxToolCalls}`
      : proposal.detail || "the model stopped without calling submit_change";
    const diffStat = await saveUnsubmittedDiff(ports, state, iter);
    const recorded = await finish(
      ports,
      state,
      base({
        decision: "no_change",
        kept: false,
        reason,
        detail,
        ...(diffStat === null ? {} : { diff_stat: diffStat }),
      }),
      null,
    );
    // A proposal the cap cut short after it had spent is recorded (its
    // tokens and cost count toward the run and a resumed run's budget),
    // and the run still stops for cost.
    return proposal.kind === "cost_cap"
      ? { kind: "cost_cap", costUsd: state.costUsd }
      : recorded;
  }

  const { tree, oversized } = await ports.git.candidateTree(
    state.config.maxFileSize,
  );
  current.candidate_tree = tree;
  if (tree === state.incumbent.tree && oversized.length === 0) {
    return await finish(
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
  const withDiff = (
    fields: Partial<IterationRecord> & { decision: Decision },
  ) => base({ diff_stat: diff.stat, ...fields });

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
    return await finish(
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
    return await finish(
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

  await setPhase(ports, current, "measuring");
  const measured = await measureCandidate(ports, state, iter, tree);
  await setPhase(ports, current, "deciding");
  const j = measured.judgement;
  let sha: string | null = null;
  if (j.decision === "improved") {
    sha = await ports.git.commit(
      tree,
      state.incumbent.sha,
      commitMessage({
        iter,
        runId: state.runId,
        description: proposal.description,
        hypothesis: proposal.hypothesis,
        judgement: j,
        candidateScores: measured.candidateScores,
        incumbentScores: measured.incumbentScores,
        direction: state.config.direction,
      }),
    );
    ports.fault("loop.committed");
  }
  const record = withDiff({
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
  return await finish(ports, state, record, {
    tree,
    measured,
  });
}

/**
 * A proposal that edited files but never submitted (it stopped, or hit the
 * tool or cost cap) is still a candidate whose diff is kept (spec section
 * 8: every candidate's diff, kept or not): save it and return its stat;
 * null when it changed nothing.
 */
async function saveUnsubmittedDiff(
  ports: LoopPorts,
  state: RunState,
  iter: number,
): Promise<DiffStat | null> {
  // Files above the cap stay out unread here too (a 4 GB file left by a
  // proposal that never submitted must not be hashed either).
  const { tree } = await ports.git.candidateTree(state.config.maxFileSize);
  if (tree === state.incumbent.tree) return null;
  const diff = await ports.git.diff(state.incumbent.sha, tree);
  await ports.store.saveDiff(iter, diff.patch);
  return diff.stat;
}

/** The record's `guards`: every guard's values and its comparison. */
function guardRecords(
  state: RunState,
  measured: Measured,
): Record<string, GuardRecord> | null {
  const specs = state.config.guard;
  if (specs.length === 0) return null;
  return Object.fromEntries(specs.map((g) => {
    const values = measured.guardScores[g.name] ??
      { candidate: [], incumbent: [] };
    const look = measured.judgement.guards?.[g.name] ?? null;
    return [g.name, {
      scores: values.candidate,
      baseline_scores: values.incumbent,
      avg: meanOfScores(values.candidate),
      effect: look?.effect ?? null,
      ci: look?.ci ?? null,
      p_value: look?.p_value ?? null,
    }];
  }));
}

/** Record the iteration, move the incumbent or revert, and update the state. */
async function finish(
  ports: LoopPorts,
  state: RunState,
  record: IterationRecord,
  kept: { tree: string; measured: Measured } | null,
): Promise<IterationOutcome> {
  if (record.kept && record.sha !== null && kept) {
    state.incumbent = {
      iter: record.iter,
      sha: record.sha,
      tree: kept.tree,
      mean: record.avg ?? state.incumbent.mean,
      ci: kept.measured.judgement.candidateCi,
      scores: record.trial_scores.filter((s): s is number => s !== null),
    };
    if (state.guards && record.guards) {
      state.guards.incumbentMeans = Object.fromEntries(
        Object.entries(record.guards).map(([name, g]) => [name, g.avg]),
      );
    }
  } else {
    await ports.git.reset(state.incumbent.sha);
    ports.fault("loop.reverted");
    if (kept && kept.measured.incumbentScores.length > 0) {
      // The incumbent was re-measured: its reported value is that mean.
      state.incumbent.scores = kept.measured.incumbentScores;
      state.incumbent.mean = kept.measured.judgement.incumbentMean ??
        state.incumbent.mean;
      state.incumbent.ci = kept.measured.judgement.incumbentCi;
    }
  }
  state.crashTail = record.decision === "crashed"
    ? kept?.measured.crashTail ?? null
    : null;
  await ports.store.appendRecord(record);
  ports.fault("loop.recorded");
  if (state.notesThrough !== undefined && state.notesThrough !== null) {
    await ports.store.markNotesRead(state.notesThrough);
    state.notesThrough = null;
  }
  state.records.push(record);
  // Trees no longer needed leave the engine (the start tree's image stays).
  await ports.trials.retain([state.incumbent.tree]);
  await ports.store.clearCurrent();
  ports.events({ event: "iteration", record });
  return { kind: "recorded", record };
}
