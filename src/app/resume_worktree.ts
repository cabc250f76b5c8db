/**
 * What `ratchet resume` does to the run's worktree before the loop starts
 * again: attach it again when it is gone (a finished run, or a reboot that
 * cleaned tmp dirs), then put it back to the incumbent's commit, discarding
 * whatever the interrupted iteration left (an uncommitted edit, untracked
 * files, or a commit made without its record). The next proposal must start
 * from the incumbent and nothing else.
 */
import { join } from "node:path";
import type { IterationRecord } from "../core/state.ts";
import { incumbentOf } from "../core/incumbent.ts";
import type { GitContext } from "../infra/git/context.ts";
import { runGit } from "../infra/git/process.ts";
import { removeWorktree, resetWorktree } from "../infra/git/worktree.ts";

/** Where the run's worktree is and which commit it must be at. */
export interface ResumeWorktree {
  /** What git runs with. */
  git: GitContext;
  /** The repository's root. */
  root: string;
  /** The run's worktree (`.ratchet/worktree`). */
  worktree: string;
  /** The run's branch, checked out in the worktree. */
  branch: string;
  /** The run's first commit: the incumbent when nothing was kept. */
  startSha: string;
  records: readonly IterationRecord[];
  confidence: number;
}

/**
 * Attach the worktree when it is missing, then reset it to the incumbent's
 * commit (or the run's start when nothing was kept). Returns that commit.
 */
export async function restoreWorktree(w: ResumeWorktree): Promise<string> {
  const present = await Deno.stat(join(w.worktree, ".git")).then(
    () => true,
    () => false,
  );
  if (!present) {
    await removeWorktree(w.git, w.root, w.worktree).catch(() => {});
    await runGit(w.git, w.root, [
      "worktree",
      "add",
      "--force",
      w.worktree,
      w.branch,
    ]);
  }
  const sha = incumbentOf(w.records, { confidence: w.confidence })?.sha ??
    w.startSha;
  await resetWorktree(w.git, w.worktree, sha);
  return sha;
}
