/** The run's own worktree: created on the run branch, reset, removed. */
import { dirname } from "node:path";
import { GitError, runGit, runGitRaw } from "./process.ts";
import type { GitContext } from "./context.ts";

/**
 * Create the run's worktree at `worktreePath` on the new branch `branch`
 * (e.g. `ratchet/<run_id>`) starting at `startSha`. The user's checkout,
 * branch and index are not touched, and a detached HEAD does not matter
 * because the start commit is explicit.
 */
export async function createWorktree(
  git: GitContext,
  root: string,
  worktreePath: string,
  branch: string,
  startSha: string,
): Promise<void> {
  await Deno.mkdir(dirname(worktreePath), { recursive: true });
  await runGit(git, root, [
    "worktree",
    "add",
    "--quiet",
    "--no-track",
    "-b",
    branch,
    "--",
    worktreePath,
    startSha,
  ]);
}

/**
 * Remove the run's worktree (its branch stays). When the directory is
 * already gone, its leftover registration is removed too, so the branch no
 * longer looks checked out.
 */
export async function removeWorktree(
  git: GitContext,
  root: string,
  worktreePath: string,
): Promise<void> {
  // Twice --force: remove even with untracked files or a lock.
  const out = await runGitRaw(git, root, [
    "worktree",
    "remove",
    "--force",
    "--force",
    "--",
    worktreePath,
  ], { okCodes: [0, 128] });
  if (out.status === 0) return;
  const exists = await Deno.stat(worktreePath).then(() => true, () => false);
  if (exists) {
    throw new GitError(["worktree", "remove", worktreePath], 128, out.stderr);
  }
  // The directory is gone and git did not recognise the path (e.g. it was
  // registered under another spelling): drop registrations of missing dirs.
  await runGit(git, root, ["worktree", "prune"]);
}

/**
 * Put the worktree back to exactly commit `sha`: HEAD (and its branch) at
 * `sha`, index and files as committed, and every file the candidate left
 * behind removed, ignored ones included (`git clean -ffdx`: an ignored build
 * output the candidate produced must not leak into the next proposal, and
 * `-ff` also removes nested repositories).
 */
export async function resetWorktree(
  git: GitContext,
  worktree: string,
  sha: string,
): Promise<void> {
  await runGit(git, worktree, ["reset", "--quiet", "--hard", sha]);
  await runGit(git, worktree, ["clean", "-ffdx", "--quiet"]);
}
