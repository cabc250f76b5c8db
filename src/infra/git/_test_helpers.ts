/** What the git modules' tests share: a run branch, its worktree, and views of a checkout. */
import { join } from "node:path";
import type { TempRepo } from "../../../tests/_helpers/git_repo.ts";
import { testGit } from "../../../tests/_helpers/git_context.ts";
import { commitCandidate, writeCandidateTree } from "./candidate.ts";
import { ensureExcluded, headSha } from "./repo.ts";
import { createWorktree } from "./worktree.ts";

export const BRANCH = "ratchet/20250101-000000-abcd";

export function worktreeOf(repo: TempRepo): string {
  return join(repo.dir, ".ratchet", "worktree");
}

/** Every file under `dir` except .git and .ratchet: path → content or `-> target`. */
export async function snapshotFiles(
  dir: string,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(rel: string): Promise<void> {
    for await (const entry of Deno.readDir(join(dir, rel))) {
      const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (path === ".git" || path === ".ratchet") continue;
      if (entry.isSymlink) {
        out[path] = `-> ${await Deno.readLink(join(dir, path))}`;
      } else if (entry.isDirectory) {
        await walk(path);
      } else {
        out[path] = await Deno.readTextFile(join(dir, path));
      }
    }
  }
  await walk("");
  return out;
}

/** What the user's checkout looks like: branch, HEAD, index, changes, files. */
export async function userState(repo: TempRepo) {
  return {
    branch: await repo.git("symbolic-ref", "-q", "HEAD").catch(() =>
      "(detached)"
    ),
    head: await repo.git("rev-parse", "HEAD"),
    index: await repo.git("ls-files", "--stage"),
    staged: await repo.git("diff", "--cached"),
    unstaged: await repo.git("diff"),
    status: await repo.git("status", "--porcelain", "--untracked-files=all"),
    branches: await repo.git("for-each-ref", "refs/heads/"),
    files: await snapshotFiles(repo.dir),
  };
}

export async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** The run's worktree on BRANCH, made at HEAD: HEAD's sha (`base`) and the worktree. */
export async function runWorktree(
  repo: TempRepo,
): Promise<{ base: string; wt: string }> {
  const base = await headSha(testGit, repo.dir);
  const wt = worktreeOf(repo);
  await createWorktree(testGit, repo.dir, wt, BRANCH, base);
  return { base, wt };
}

/** A run that kept two commits changing src/a.py and adding src/b.py. */
export async function keptRun(repo: TempRepo): Promise<string> {
  await ensureExcluded(testGit, repo.dir, ".ratchet/");
  const { base, wt } = await runWorktree(repo);
  await Deno.writeTextFile(join(wt, "src/a.py"), "a = 2\n");
  let tree = await writeCandidateTree(testGit, wt);
  const first = await commitCandidate(testGit, wt, {
    tree,
    parent: base,
    message: "1",
  });
  await Deno.writeTextFile(join(wt, "src/b.py"), "b = 1\n");
  tree = await writeCandidateTree(testGit, wt);
  await commitCandidate(testGit, wt, { tree, parent: first, message: "2" });
  return base;
}
