/**
 * A candidate on the run branch: its files staged into a tree (files above
 * the size cap left out unread), then committed as ratchet.
 */
import { join } from "node:path";
import type { OversizedFile } from "../../core/integrity.ts";
import { objectSizes } from "./_objects.ts";
import { text } from "./_output.ts";
import { identityEnv, RATCHET_IDENTITY } from "./identity.ts";
import { runGit, runGitRaw } from "./process.ts";
import type { GitContext } from "./context.ts";

/** The candidate's tree, and the files left out of it for being too large. */
export interface CandidateTree {
  tree: string;
  /** Files above the cap: never read by git, so absent from `tree`. */
  oversized: OversizedFile[];
}

/**
 * Regular files in the worktree that `git add --all` would read (untracked
 * but not ignored, or changed since the index) and that are larger than
 * `maxBytes`, found with lstat alone: nothing is read, so a 1 TB sparse file
 * costs what a small one does. A tracked file whose size is still its
 * committed size is left to git (it is the repository's own, merely
 * touched; if its content did change, the diff check sees its size).
 */
export async function oversizedFiles(
  git: GitContext,
  worktree: string,
  maxBytes: number,
): Promise<OversizedFile[]> {
  const untracked = text(
    (await runGitRaw(git, worktree, [
      "ls-files",
      "-z",
      "--others",
      "--exclude-standard",
      "--",
      ".",
    ])).stdout,
  ).split("\0").filter((p) => p !== "");
  // "<mode> <sha> <stage>\t<path>" of each tracked file whose stat changed.
  const indexed = new Map<string, string>();
  for (
    const entry of text(
      (await runGitRaw(git, worktree, [
        "ls-files",
        "-z",
        "--stage",
        "--modified",
        "--",
        ".",
      ])).stdout,
    ).split("\0")
  ) {
    const tab = entry.indexOf("\t");
    const sha = entry.slice(0, tab).split(" ")[1];
    if (tab > 0 && sha !== undefined) indexed.set(entry.slice(tab + 1), sha);
  }
  const paths = [...new Set([...untracked, ...indexed.keys()])];
  const found: OversizedFile[] = [];
  // A few lstats at a time: a candidate may leave very many files.
  for (let i = 0; i < paths.length; i += 64) {
    const batch = paths.slice(i, i + 64);
    const infos = await Promise.all(
      batch.map((p) => Deno.lstat(join(worktree, p)).catch(() => null)),
    );
    infos.forEach((info, k) => {
      if (info?.isFile && info.size > maxBytes) {
        found.push({ path: batch[k]!, size: info.size });
      }
    });
  }
  const committed = await objectSizes(
    git,
    worktree,
    found.flatMap((f) => indexed.has(f.path) ? [indexed.get(f.path)!] : []),
  );
  return found.filter((f) => {
    const sha = indexed.get(f.path);
    return sha === undefined || committed.get(sha) !== f.size;
  }).sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
}

/**
 * Stage everything in the worktree, including untracked files and
 * deletions (`git add -A`; ignored files stay out), and return the tree sha.
 * Only the worktree's own index is written.
 */
export async function writeCandidateTree(
  git: GitContext,
  worktree: string,
): Promise<string> {
  return (await stageCandidate(git, worktree, null)).tree;
}

/**
 * {@linkcode writeCandidateTree} with a file-size cap: files above
 * `maxFileBytes` are found first ({@linkcode oversizedFiles}) and left out,
 * unread. git would otherwise hash and compress every byte of them (a 4 GB
 * file took minutes and gigabytes of memory), and the diff check rejects
 * the candidate for them anyway. `null`: no cap.
 */
export async function stageCandidate(
  git: GitContext,
  worktree: string,
  maxFileBytes: number | null,
): Promise<CandidateTree> {
  const oversized = maxFileBytes === null
    ? []
    : await oversizedFiles(git, worktree, maxFileBytes);
  if (oversized.length === 0) {
    await runGit(git, worktree, ["add", "--all", "--", "."]);
  } else {
    // The pathspecs go through stdin (NUL-separated): there may be many.
    const specs = [".", ...oversized.map((f) => `:(exclude,literal)${f.path}`)];
    await runGit(git, worktree, [
      "add",
      "--all",
      "--pathspec-from-file=-",
      "--pathspec-file-nul",
    ], { input: specs.join("\0") + "\0" });
  }
  return { tree: await runGit(git, worktree, ["write-tree"]), oversized };
}

/**
 * Commit `tree` on top of `parent` in the worktree, authored and committed by
 * `ratchet <ratchet@localhost>`, and advance the worktree's branch to it
 * (only if it still points at `parent`). The worktree's index is reset to
 * the new commit; its files are left as they are. Returns the commit sha.
 */
export async function commitCandidate(
  git: GitContext,
  worktree: string,
  commit: { tree: string; parent: string; message: string },
): Promise<string> {
  const message = commit.message.endsWith("\n")
    ? commit.message
    : `${commit.message}\n`;
  const sha = await runGit(git, worktree, [
    "commit-tree",
    commit.tree,
    "-p",
    commit.parent,
    "-F",
    "-",
  ], { input: message, env: identityEnv(RATCHET_IDENTITY) });
  await runGit(git, worktree, [
    "update-ref",
    "-m",
    "ratchet: keep candidate",
    "HEAD",
    sha,
    commit.parent,
  ]);
  await runGit(git, worktree, ["reset", "--quiet", "--mixed", sha]);
  return sha;
}
