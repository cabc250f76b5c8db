/** `ratchet apply`: the run's changes onto the user's branch as one commit. */
import { EnvironmentError } from "../../errors.ts";
import { text } from "./_output.ts";
import { identityEnv, RATCHET_IDENTITY } from "./identity.ts";
import { runGit, runGitRaw } from "./process.ts";
import { headSha, isDirty, resolveCommit, treeOf } from "./repo.ts";
import type { GitContext } from "./context.ts";

/** The user's identity when git can work one out, else ratchet's. */
async function committerEnv(
  git: GitContext,
  root: string,
): Promise<Record<string, string>> {
  const out = await runGitRaw(git, root, ["var", "GIT_COMMITTER_IDENT"], {
    okCodes: [0, 128],
  });
  return out.status === 0 ? {} : identityEnv(RATCHET_IDENTITY);
}

/**
 * `ratchet apply`: put the run's changes (the difference between `baseSha`,
 * where the run started, and the tip of `runBranch`) onto the user's current
 * branch, or detached HEAD, as ONE commit with `message`, and update the
 * checkout to it. Works like a cherry-pick of the squashed run: the user's
 * branch may have moved on since the run started.
 *
 * Refuses (EnvironmentError, exit 3) a work tree with uncommitted changes to
 * tracked files, changes that conflict with the current branch, and untracked
 * files the result would overwrite; in every refusal the checkout is left as
 * it was. Returns the new commit, or null when there is nothing to apply
 * (no kept change, or the changes are already there).
 */
export async function squashApply(
  git: GitContext,
  root: string,
  runBranch: string,
  baseSha: string,
  message: string,
): Promise<string | null> {
  if (await isDirty(git, root, { untracked: false })) {
    throw new EnvironmentError(
      `the work tree at ${root} has uncommitted changes`,
      {
        hint: "commit or stash them (git stash), then run ratchet apply again",
      },
    );
  }
  const head = await headSha(git, root);
  const tip = await resolveCommit(git, root, `refs/heads/${runBranch}`);
  if (tip === null) {
    throw new EnvironmentError(`the run branch ${runBranch} does not exist`, {
      hint: "list the run branches with: git branch --list 'ratchet/*'",
    });
  }
  const [baseTree, tipTree, headTree] = await Promise.all([
    treeOf(git, root, baseSha),
    treeOf(git, root, tip),
    treeOf(git, root, head),
  ]);
  if (tipTree === baseTree) return null;

  // Two throwaway commits with `baseSha` as their only parent make it the
  // merge base, so the three-way merge applies exactly base→tip onto HEAD,
  // in memory (`merge-tree --write-tree`), without touching the checkout.
  const scratch = identityEnv(RATCHET_IDENTITY);
  const theirs = await runGit(git, root, [
    "commit-tree",
    tipTree,
    "-p",
    baseSha,
    "-m",
    "ratchet run",
  ], { env: scratch });
  const ours = await runGit(git, root, [
    "commit-tree",
    headTree,
    "-p",
    baseSha,
    "-m",
    "current branch",
  ], { env: scratch });
  const merge = await runGitRaw(git, root, [
    "merge-tree",
    "--write-tree",
    "--name-only",
    ours,
    theirs,
  ], { okCodes: [0, 1, 129] });
  if (merge.status === 129) {
    throw new EnvironmentError(
      "ratchet apply needs git 2.38 or newer (git merge-tree --write-tree)",
      {
        hint: `upgrade git, or merge by hand: git merge --squash ${runBranch}`,
      },
    );
  }
  const lines = text(merge.stdout).split("\n");
  if (merge.status === 1) {
    const conflicted = [];
    for (const line of lines.slice(1)) {
      if (line === "") break;
      conflicted.push(line);
    }
    throw new EnvironmentError(
      `the run's changes conflict with your current branch in ${
        [...new Set(conflicted)].join(", ") || "some files"
      }`,
      {
        hint:
          `merge by hand: git merge --squash ${runBranch}, resolve, then git commit`,
      },
    );
  }
  const merged = (lines[0] ?? "").trim();
  if (merged === headTree) return null;

  const sha = await runGit(git, root, [
    "commit-tree",
    merged,
    "-p",
    head,
    "-F",
    "-",
  ], {
    input: message.endsWith("\n") ? message : `${message}\n`,
    env: await committerEnv(git, root),
  });
  const ff = await runGitRaw(
    git,
    root,
    ["merge", "--ff-only", "--quiet", sha],
    {
      okCodes: [0, 1, 128],
    },
  );
  if (ff.status !== 0) {
    throw new EnvironmentError(
      `could not update your checkout to the applied commit ${
        sha.slice(0, 12)
      }: ${ff.stderr.trim()}`,
      {
        hint:
          "move the untracked files git names out of the way, then run ratchet apply again",
      },
    );
  }
  return sha;
}
