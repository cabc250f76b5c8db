/**
 * Progress of a run as events (as in pi-mono's agent loop): the loop emits
 * them, the UI renders them (live view, plain lines, or `--json`).
 */
import type {
  Decision,
  IterationRecord,
  Phase,
  StopReason,
  TrialOutcome,
} from "./state.ts";
import type { Confirmation } from "./confirm.ts";

/** Everything the loop reports while it works. */
export type RunEvent =
  | {
    event: "run_started";
    run_id: string;
    branch: string;
    worktree: string;
    start_sha: string;
    resumed: boolean;
    dirty: boolean;
    /** The engine the trials use, and whether it shares this machine's files. */
    engine: {
      product: string;
      version: string;
      endpoint: string;
      rootless: boolean;
      shares_filesystem: boolean;
    };
  }
  | { event: "info"; message: string }
  | { event: "warning"; message: string }
  | { event: "progress"; message: string }
  | {
    event: "phase";
    iter: number;
    phase: Phase;
    /** In the baseline: the trial starting, 1-based, and how many there are. */
    trial?: number;
    of?: number;
  }
  | {
    event: "tool_call";
    iter: number;
    role: string;
    tool: string;
    summary: string;
  }
  | {
    event: "trial";
    iter: number;
    /** `baseline`: the start commit, in the end-of-run confirmation. */
    side: "incumbent" | "candidate" | "baseline";
    /** 1-based index on this side, and the planned count for the side. */
    k: number;
    n: number;
    outcome: TrialOutcome;
    score: number | null;
    wall_s: number | null;
  }
  | { event: "iteration"; record: IterationRecord }
  | {
    event: "estimate";
    seconds_per_trial: number;
    seconds_per_iteration: number;
  }
  | {
    event: "stopped";
    reason: StopReason;
    run_id: string;
    branch: string;
    best: { iter: number; mean: number | null; sha: string | null } | null;
  }
  | { event: "decision"; iter: number; decision: Decision; detail: string }
  /** The end-of-run confirmation finished: the run's claimed gain. */
  | { event: "confirmed"; confirmation: Confirmation };

/** Where events go. */
export type EventSink = (event: RunEvent) => void;
