/**
 * What one iteration needs from the outside world, as narrow interfaces. The
 * real implementations (git, Docker trials, the agent, the store) are wired in
 * `run.ts`; tests pass fakes from `tests/_fakes/`.
 */
import type {
  FileChange,
  OversizedFile,
  TreeLinks,
} from "../core/integrity.ts";
import type {
  CriticRecord,
  CurrentIteration,
  Decision,
  DiffStat,
  IterationRecord,
  Reason,
  Tokens,
  TrialOutcome,
} from "../core/state.ts";
import type { EventSink } from "../core/events.ts";
import type { Note } from "../infra/store/store.ts";

/** Git operations on the run's worktree. */
export interface GitPort {
  /**
   * Stage everything in the worktree and return its tree. Files above
   * `maxFileBytes` (null: no cap) are left out unread and listed.
   */
  candidateTree(
    maxFileBytes: number | null,
  ): Promise<{ tree: string; oversized: OversizedFile[] }>;
  /** Tree of a commit. */
  treeOf(commit: string): Promise<string>;
  /** Commit `tree` on the run branch with `parent`; returns the commit. */
  commit(tree: string, parent: string, message: string): Promise<string>;
  /** Put the worktree back exactly at `commit` (untracked files removed). */
  reset(commit: string): Promise<void>;
  /**
   * The candidate's change against the incumbent commit, with every symlink
   * of both trees (path → target) for resolving links inside them.
   */
  diff(
    fromCommit: string,
    toTree: string,
  ): Promise<
    {
      patch: Uint8Array;
      stat: DiffStat;
      changes: FileChange[];
      links: { before: TreeLinks; after: TreeLinks };
    }
  >;
}

/** One trial's result as the loop needs it. */
export interface TrialSummary {
  outcome: TrialOutcome;
  score: number | null;
  unit: string | null;
  wallSeconds: number | null;
  /** Why the trial did not end ok (extraction message, exit code …). */
  detail: string;
  /** The last part of stdout/stderr, fed to the model after a crash. */
  outputTail: string;
  /** Each `--guard`'s value; null when missing (the trial is then not ok). */
  guards: Record<string, number | null>;
  /** Each guard's non-time unit, to hold later trials to the baseline's. */
  guardUnits: Record<string, string | null>;
}

/** Runs trials and the check command of trees (git tree or commit ids). */
export interface TrialPort {
  trial(input: {
    iter: number;
    /** 1-based, across both sides, for the report file name. */
    trial: number;
    tree: string;
    /** `baseline`: the start commit, in the end-of-run confirmation. */
    side: "incumbent" | "candidate" | "baseline";
    /** The baseline's unit; a different unit is `no_metric`. Absent: not checked. */
    expectedUnit?: string | null;
    /** The baseline's guard units; a different unit is `no_metric`. Absent: not checked. */
    expectedGuardUnits?: Record<string, string | null>;
  }): Promise<TrialSummary>;
  /** Run --check-command on `tree`; null when no check is configured. */
  check(
    input: { iter: number; tree: string },
  ): Promise<{ passed: boolean; detail: string } | null>;
  /**
   * The trees still needed (the incumbent): the images of the others are
   * removed (the start tree's is always kept).
   */
  retain(trees: readonly string[]): Promise<void>;
}

/** One research-log line for the model. */
export interface LogEntry {
  iter: number;
  hypothesis: string;
  decision: Decision;
  reason: Reason | null;
  score: number | null;
  diffSummary: string;
  /** Which guard stopped the change (or stayed open), in words; null when none did. */
  guard?: string | null;
}

/** What the proposer is told this iteration. */
export interface ProposalInput {
  iter: number;
  /** Mean, interval and trial count of the baseline. */
  baseline: { mean: number; ci: [number, number] | null; n: number };
  /** The incumbent's latest measured mean, interval and trial count. */
  incumbent: {
    iter: number;
    /** The incumbent's git tree: the sandbox starts from its image. */
    tree: string;
    mean: number;
    ci: [number, number] | null;
    n: number;
  };
  log: LogEntry[];
  notes: string[];
  /** After a crash: the tail of the crashed trial's output. */
  crashTail: string | null;
  /** The previous iteration's decision, for `reverting.md`. */
  lastDecision: IterationRecord | null;
  /** Cost spent by the whole run before this proposal. */
  spentUsd: number;
  /**
   * Told after each completed model call, so the spend survives an
   * interruption (it is written to current.json at once).
   */
  onSpend?: (call: { tokens: Tokens; costUsd: number }) => void;
}

/** How a proposal ended. */
export interface ProposalSummary {
  kind: "submitted" | "no_submit" | "tool_cap" | "cost_cap";
  hypothesis: string;
  description: string;
  tokens: Tokens;
  costUsd: number;
  critic: CriticRecord | null;
  /** Why it ended, in words. */
  detail: string;
  /**
   * Files the model made larger than the file-size cap: not brought back
   * from the sandbox, and the candidate is rejected (`file_too_large`).
   */
  oversized: { path: string; size: number }[];
}

/** The agent: one proposal edits the worktree through its tools. */
export interface ProposerPort {
  propose(input: ProposalInput, signal: AbortSignal): Promise<ProposalSummary>;
}

/** The parts of the store one iteration writes. */
export interface StorePort {
  appendRecord(record: IterationRecord): Promise<void>;
  writeCurrent(current: CurrentIteration): Promise<void>;
  clearCurrent(): Promise<void>;
  saveDiff(iter: number, patch: string | Uint8Array): Promise<string>;
  /** Notes not marked read yet (not marked by this call). */
  peekUnreadNotes(): Promise<Note[]>;
  /** Mark notes read through this id, once the iteration that got them is recorded. */
  markNotesRead(throughId: number): Promise<void>;
}

/** Everything an iteration needs. */
export interface LoopPorts {
  git: GitPort;
  trials: TrialPort;
  proposer: ProposerPort;
  store: StorePort;
  events: EventSink;
  now: () => Date;
  fault: (point: string) => void;
  signal: AbortSignal;
}
