/**
 * How a run ends: the stop written, the candidate's leftovers removed on the
 * engine, and what the user is told, as data (`RunEnd`) the command renders.
 */
import type { Confirmation, ConfirmResult } from "../core/confirm.ts";
import { claimOf } from "../core/confirm.ts";
import type { StopReason } from "../core/state.ts";
import { incumbentOf } from "../core/incumbent.ts";
import { EnvironmentError, type RatchetError } from "../errors.ts";
import { type FaultHook, noFault } from "../infra/fault.ts";
import { removeWorktree } from "../infra/git/worktree.ts";
import { runGit } from "../infra/git/process.ts";
import type { ContainerRuntime } from "../infra/runtime.ts";
import type { Store } from "../infra/store/store.ts";
import { removeRunImages } from "../trial/tree_images.ts";
import { type LoopEnd, recordStop } from "./run_state.ts";
import type { Session } from "./session.ts";

/** How `run` or `resume` ended, for the command to tell the user. */
export type RunEnd =
  | {
    kind: "finished";
    runId: string;
    reason: StopReason;
    branch: string;
    /** Changes kept (the baseline aside). */
    kept: number;
    /** The incumbent's mean, or null when nothing measured. */
    best: number | null;
    baseline: number | null;
    /** The end-of-run confirmation of the incumbent, when it ran. */
    claim: (Confirmation & { result: ConfirmResult }) | null;
  }
  | {
    /** Stopped resumably; `error` says why and gives the exit code. */
    kind: "stopped";
    runId: string;
    reason: StopReason;
    error: RatchetError;
  }
  | {
    /**
     * A signal during the prepare step: the stop is written and nothing is
     * committed; `error` is what the signal raised.
     */
    kind: "prepare_interrupted";
    runId: string;
    error: unknown;
  }
  | {
    /** `resume` of a run that had already finished; only cleanup was done. */
    kind: "already_finished";
    runId: string;
    stopReason: StopReason | null;
  };

/**
 * Remove what a run left on the engine (containers, tree images, volumes)
 * and in `.ratchet/tmp/` (probe directories of a killed process).
 */
export async function removeLeftovers(
  runtime: ContainerRuntime,
  store: Store,
  runId: string,
): Promise<void> {
  await removeRunImages(runtime, runId).catch(() => {});
  await store.clearTmp().catch(() => {});
}

/** After the loop: write the stop, clean up, and say how it ended. */
export async function finishRun(
  s: Session,
  end: LoopEnd,
  worktree: string,
  fault: FaultHook = noFault,
): Promise<RunEnd> {
  s.run = await recordStop(s.store, s.run, end.reason, s.ctx.now());
  fault("run.stop-recorded");
  // A resumable stop keeps current.json: it carries the spend of the
  // iteration cut short into the retry.
  if (end.error === null) await s.store.clearCurrent().catch(() => {});
  // Containers, tree images and cache volumes, on any ending.
  await removeLeftovers(s.runtime, s.store, s.run.run_id);
  fault("images.removed");
  const records = await s.store.readRecords();
  const best = incumbentOf(records, { confidence: s.config.confidence });
  s.events({
    event: "stopped",
    reason: end.reason,
    run_id: s.run.run_id,
    branch: s.run.branch,
    best: best ? { iter: best.iter, mean: best.mean, sha: best.sha } : null,
  });
  if (end.error) {
    return {
      kind: "stopped",
      runId: s.run.run_id,
      reason: end.reason,
      error: end.error,
    };
  }
  await removeWorktree(s.ctx.deps.git, s.root, worktree);
  return {
    kind: "finished",
    runId: s.run.run_id,
    reason: end.reason,
    branch: s.run.branch,
    kept: records.filter((r) => r.iter > 0 && r.kept).length,
    best: best?.mean ?? null,
    baseline: records[0]?.avg ?? null,
    claim: claimOf(
      await s.store.readConfirmation().catch(() => null),
      s.run.run_id,
      best?.sha ?? null,
    ),
  };
}

/**
 * A run stopped by something the user must fix (a rejected key, billing, an
 * engine refusing the limits) keeps everything it did: the hint says so, and
 * how to go on once fixed.
 */
export function resumable(error: unknown, runId: string): unknown {
  if (!(error instanceof EnvironmentError)) return error;
  const next =
    `run ${runId} is kept: once fixed, continue it with \`ratchet resume\``;
  return new EnvironmentError(error.message, {
    hint: error.hint === undefined ? next : `${error.hint}; ${next}`,
    cause: error.cause ?? error,
  });
}

/**
 * A run whose baseline cannot be measured (exit 5) never started: remove its
 * worktree, branch, config and harness snapshot, and keep only the trial
 * reports the error points to. The next `ratchet run` starts afresh.
 */
export async function abandonRun(s: Session, worktree: string): Promise<void> {
  await removeWorktree(s.ctx.deps.git, s.root, worktree).catch(() => {});
  await runGit(s.ctx.deps.git, s.root, ["branch", "-D", s.run.branch]).catch(
    () => "",
  );
  await s.store.removeRunFile().catch(() => {});
  await s.store.removeHarnessSnapshot().catch(() => {});
  // The baseline's phase (current.json) belongs to the run that never was.
  await s.store.clearCurrent().catch(() => {});
}
