/**
 * An iteration's record: the research-log lines the model sees of it, its
 * phase in current.json, the diff of a proposal that never submitted, the
 * guards' values, and writing it (the incumbent moved or the worktree
 * reverted, the state updated).
 */
import {
  type CurrentIteration,
  type Decision,
  type DiffStat,
  type GuardRecord,
  type IterationRecord,
  meanOfScores,
  type Reason,
} from "../core/state.ts";
import type { LoopPorts, ProposalSummary } from "./ports.ts";
import type { RunState } from "./run_state.ts";
import type { Measured } from "./measure_candidate.ts";

/** How an iteration ended. */
export type IterationOutcome =
  | { kind: "recorded"; record: IterationRecord }
  /**
   * The cost cap stopped the proposal before a call: nothing recorded when it
   * had spent nothing, else a `no_change` record carrying what it spent.
   */
  | { kind: "cost_cap"; costUsd: number };

export function isoNow(ports: LoopPorts): string {
  return ports.now().toISOString();
}

/** The first lines of the research log the model sees for a record. */
export function diffSummary(r: IterationRecord): string {
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

export async function setPhase(
  ports: LoopPorts,
  current: CurrentIteration,
  phase: CurrentIteration["phase"],
): Promise<void> {
  current.phase = phase;
  await ports.store.writeCurrent(current);
  ports.events({ event: "phase", iter: current.iter, phase });
}

/**
 * A proposal that edited files but never submitted (it stopped, or hit the
 * tool or cost cap) is still a candidate whose diff is kept (spec section
 * 8: every candidate's diff, kept or not): save it and return its stat;
 * null when it changed nothing.
 */
export async function saveUnsubmittedDiff(
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
export function guardRecords(
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
export async function recordIteration(
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

/** A record of this iteration with the fields every record shares. */
export type RecordBase = (
  fields: Partial<IterationRecord> & { decision: Decision },
) => IterationRecord;

/** A proposal that never submitted: recorded as `no_change` with its diff. */
export async function recordUnsubmitted(
  ports: LoopPorts,
  state: RunState,
  iter: number,
  proposal: ProposalSummary,
  base: RecordBase,
): Promise<IterationOutcome> {
  const reason: Reason = proposal.kind === "tool_cap"
    ? "tool_cap"
    : "no_submit";
  const detail = proposal.kind === "tool_cap"
    ? `the proposal hit --max-tool-calls ${state.config.maxToolCalls}`
    : proposal.detail || "the model stopped without calling submit_change";
  const diffStat = await saveUnsubmittedDiff(ports, state, iter);
  const recorded = await recordIteration(
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
