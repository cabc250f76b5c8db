/** Questions about the user's repository, and its one ratchet line in `info/exclude`. */
import { dirname, resolve } from "node:path";
import { EnvironmentError } from "../../errors.ts";
import { text } from "./_output.ts";
import { runGit, runGitRaw } from "./process.ts";
import type { GitContext } from "./context.ts";

/** The top of the work tree containing `cwd`; EnvironmentError (exit 3) outside a repository. */
export async function findRepoRoot(
  git: GitContext,
  cwd: string,
): Promise<string> {
  const out = await runGitRaw(git, cwd, ["rev-parse", "--show-toplevel"], {
    okCodes: [0, 128],
  });
  const root = text(out.stdout).trim();
  if (out.status !== 0 || root === "") {
    const said = out.stderr.trim().split("\n")[0] ?? "";
    const detail = /not a git repository/i.test(said) || said === ""
      ? ""
      : ` (git: ${said.replace(/^fatal:\s*/, "")})`;
    throw new EnvironmentError(
      `${cwd} is not inside a git repository${detail}`,
      {
        hint:
          "run ratchet inside a git work tree, or create one: git init && git add -A && git commit -m initial",
      },
    );
  }
  return root;
}

/** The commit `rev` names, or null when it names none. */
export async function resolveCommit(
  git: GitContext,
  cwd: string,
  rev: string,
): Promise<string | null> {
  const out = await runGitRaw(git, cwd, [
    "rev-parse",
    "--verify",
    "--quiet",
    "--end-of-options",
    `${rev}^{commit}`,
  ], { okCodes: [0, 1, 128] });
  return out.status === 0 ? text(out.stdout).trim() : null;
}

/** The tree of `treeish` (a commit or a tree). */
export async function treeOf(
  git: GitContext,
  cwd: string,
  treeish: string,
): Promise<string> {
  return await runGit(git, cwd, [
    "rev-parse",
    "--verify",
    "--end-of-options",
    `${treeish}^{tree}`,
  ]);
}

/** `HEAD`'s commit; EnvironmentError (exit 3) when the repository has no commit yet. */
export async function headSha(git: GitContext, root: string): Promise<string> {
  const sha = await resolveCommit(git, root, "HEAD");
  if (sha === null) {
    throw new EnvironmentError(
      `the repository at ${root} has no commits yet, and ratchet starts from HEAD`,
      {
        hint: "make a first commit: git add -A && git commit -m initial",
      },
    );
  }
  return sha;
}

/** The checked-out branch's short name (`main`, `ratchet/…`), or null on a detached HEAD. */
export async function currentBranch(
  git: GitContext,
  root: string,
): Promise<string | null> {
  const out = await runGitRaw(git, root, ["symbolic-ref", "--quiet", "HEAD"], {
    okCodes: [0, 1],
  });
  if (out.status !== 0) return null;
  const ref = text(out.stdout).trim();
  return ref.startsWith("refs/heads/") ? ref.slice("refs/heads/".length) : ref;
}

/**
 * True when the work tree differs from HEAD: staged or unstaged changes to
 * tracked files and, unless `untracked` is false, untracked files. ratchet's
 * own `.ratchet/` never counts. Uses `--no-optional-locks` so merely asking
 * does not rewrite the user's index.
 */
export async function isDirty(
  git: GitContext,
  root: string,
  options: { untracked?: boolean } = {},
): Promise<boolean> {
  const out = await runGitRaw(git, root, [
    "--no-optional-locks",
    "status",
    "--porcelain=v1",
    "-z",
    `--untracked-files=${options.untracked === false ? "no" : "normal"}`,
    "--",
    ".",
    ":(exclude).ratchet",
  ]);
  return out.stdout.length > 0;
}

/**
 * Add `entry` (e.g. `.ratchet/`) to the repository's `info/exclude` unless a
 * line already names it. The file is found with `--git-path`, so this works
 * from a linked worktree too. Returns whether a line was added.
 */
export async function ensureExcluded(
  git: GitContext,
  root: string,
  entry: string,
): Promise<boolean> {
  const rel = await runGit(git, root, [
    "rev-parse",
    "--git-path",
    "info/exclude",
  ]);
  const path = resolve(root, rel);
  let current = "";
  try {
    current = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const bare = (line: string) => line.trim().replace(/^\/+|\/+$/g, "");
  if (current.split(/\r?\n/).some((line) => bare(line) === bare(entry))) {
    return false;
  }
  await Deno.mkdir(dirname(path), { recursive: true });
  const sep = current === "" || current.endsWith("\n") ? "" : "\n";
  await Deno.writeTextFile(path, `${sep}${entry}\n`, { append: true });
  return true;
}

/** Commits on `branch` after `baseSha`, oldest first (first-parent line). */
export async function listBranchCommits(
  git: GitContext,
  root: string,
  baseSha: string,
  branch: string,
): Promise<string[]> {
  const out = await runGit(git, root, [
    "rev-list",
    "--reverse",
    "--first-parent",
    `${baseSha}..${branch}`,
    "--",
  ]);
  return out === "" ? [] : out.split("\n");
}
