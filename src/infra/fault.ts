/**
 * Test-only fault injection. Every durable write in ratchet calls a fault hook
 * with a named point; crash tests set `RATCHET_FAULT_POINT` so the process
 * kills itself with SIGKILL exactly there, then check that what is on disk is
 * still consistent and that `resume` recovers. In production the hook is
 * `noFault` and costs one function call.
 *
 * `main.ts` reads the environment and passes the value to `createFaultHook`;
 * nothing here reads `Deno.env`.
 */

import { UsageError } from "../errors.ts";

/** Called at each named point; kills the process when the point is armed. */
export type FaultHook = (point: string) => void;

/** The hook that never fires. */
export const noFault: FaultHook = () => {};

/**
 * Every fault point name in the code base. A module that adds a point appends
 * its name here, so a misspelt `RATCHET_FAULT_POINT` fails loudly instead of
 * letting a crash test pass without ever crashing.
 */
export const FAULT_POINTS: readonly string[] = [
  // src/infra/store/: atomic file writes (temp file fsynced, then renamed).
  "config.write.before-rename",
  "config.write.after-rename",
  "current.write.before-rename",
  "current.write.after-rename",
  "current.clear.before-remove",
  "reports.write.before-rename",
  "reports.write.after-rename",
  "diffs.write.before-rename",
  "diffs.write.after-rename",
  // src/infra/store/ (results.ts, notes.ts): durable appends.
  "results.append.mid-line",
  "results.append.before-fsync",
  "results.append.after-fsync",
  "results.repair.before-truncate",
  "notes.append.before-fsync",
  "notes.mark-read.before-fsync",
  // src/infra/store/archive.ts: archive of the previous run.
  "archive.intent-written",
  "archive.mid",
  "archive.before-finish",
  // src/infra/lock.ts
  "lock.stale.moved-aside",
  "lock.acquired",
  // src/app/loop.ts
  "loop.diff-saved",
  "loop.committed",
  "loop.reverted",
  "loop.recorded",
  // src/app/run_ports.ts: before each trial's container starts.
  "trial.before-start",
  // src/app/run_start.ts, run_session.ts, run_end.ts: run start (worktree,
  // harness snapshot), the baseline's record, and the stop written at the
  // end of a run.
  "run.worktree-created",
  "run.harness-snapshotted",
  "run.baseline-recorded",
  "run.stop-recorded",
  // src/app/confirm.ts: the end-of-run confirmation, after each trial.
  "confirmation.write.before-rename",
  "confirmation.write.after-rename",
  "confirm.trial-recorded",
  // src/trial/: a tree's image layer committed, the prepared image
  // committed, and tree images (or all of a run's) removed.
  "tree.image-built",
  "prepare.committed",
  "images.removed",
  // src/cli/commands/report.ts: the HTML report (atomic write).
  "report.write.before-rename",
  "report.write.after-rename",
];

/** A parsed `RATCHET_FAULT_POINT`: fire at the `hit`-th arrival at `point`. */
export interface FaultSpec {
  point: string;
  hit: number;
}

/**
 * Parse `name` or `name:N` (N ≥ 1, default 1). Throws a UsageError for an
 * unknown name or a bad count, naming the value.
 */
export function parseFaultSpec(spec: string): FaultSpec {
  const colon = spec.lastIndexOf(":");
  const point = colon === -1 ? spec : spec.slice(0, colon);
  const count = colon === -1 ? "1" : spec.slice(colon + 1);
  if (!/^[1-9]\d*$/.test(count)) {
    throw new UsageError(
      `RATCHET_FAULT_POINT="${spec}": the count after ":" must be a positive integer`,
      { hint: 'Use "name" or "name:N", e.g. "archive.mid:2".' },
    );
  }
  if (!FAULT_POINTS.includes(point)) {
    throw new UsageError(
      `RATCHET_FAULT_POINT="${spec}": "${point}" is not a known fault point`,
      {
        hint: `Known points: ${
          FAULT_POINTS.join(", ")
        }. A new point must be added to FAULT_POINTS in src/infra/fault.ts.`,
      },
    );
  }
  return { point, hit: Number(count) };
}

/** Options for tests of the hook itself. */
export interface FaultHookOptions {
  /** What firing does; default: SIGKILL this process. */
  kill?: (point: string) => void;
}

function killSelf(): void {
  Deno.kill(Deno.pid, "SIGKILL");
}

/**
 * The hook for the value of `RATCHET_FAULT_POINT`: `noFault` when unset or
 * empty, else a hook that kills the process the N-th time the named point is
 * reached (other points are counted separately and never fire).
 */
export function createFaultHook(
  spec: string | undefined,
  options: FaultHookOptions = {},
): FaultHook {
  if (spec === undefined || spec === "") return noFault;
  const { point, hit } = parseFaultSpec(spec);
  const kill = options.kill ?? killSelf;
  let seen = 0;
  return (reached) => {
    if (reached !== point) return;
    seen += 1;
    if (seen !== hit) return;
    kill(reached);
    if (options.kill === undefined) {
      // SIGKILL to ourselves is delivered before kill(2) returns to user
      // code; this only guards against a platform where it is not.
      throw new Error(`fault point ${reached} fired but the process survived`);
    }
  };
}
