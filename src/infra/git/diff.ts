/**
 * What changed between two trees, as git sees it: the patch, its line
 * counts, every changed path (for the integrity check), and a tree's
 * symlinks.
 */
import {
  type FileChange,
  GITLINK_MODE,
  SYMLINK_MODE,
} from "../../core/integrity.ts";
import type { DiffStat } from "../../core/state.ts";
import { objectSizes, readObjects } from "./_objects.ts";
import { text } from "./_output.ts";
import { runGitRaw } from "./process.ts";
import type { GitContext } from "./context.ts";

// Settings that make diffs identical whatever the user's diff config says.
const DIFF_FLAGS = [
  "--no-color",
  "--no-ext-diff",
  "--no-textconv",
  "-M",
  "--src-prefix=a/",
  "--dst-prefix=b/",
];

/**
 * The patch from `from` to `to` (commits or trees), with binary files
 * included (`--binary`), as raw bytes so files in any encoding survive;
 * `git apply` on `from` reproduces `to`.
 */
export async function diffPatch(
  git: GitContext,
  cwd: string,
  from: string,
  to: string,
): Promise<Uint8Array> {
  const out = await runGitRaw(git, cwd, [
    "diff",
    "--binary",
    ...DIFF_FLAGS,
    from,
    to,
    "--",
  ]);
  return out.stdout;
}

/**
 * Files changed and lines inserted/deleted from `from` to `to` (renames
 * count once; binary files count as changed with no lines).
 */
export async function diffStat(
  git: GitContext,
  cwd: string,
  from: string,
  to: string,
): Promise<DiffStat> {
  const raw = text(
    (await runGitRaw(git, cwd, [
      "diff",
      "--numstat",
      "-z",
      ...DIFF_FLAGS,
      from,
      to,
      "--",
    ])).stdout,
  );
  const fields = raw.split("\0");
  const stat: DiffStat = { files: 0, insertions: 0, deletions: 0 };
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i] ?? "";
    if (field === "") continue;
    // "ins\tdel\tpath", or "ins\tdel\t" followed by old and new path for a rename.
    const [ins, del, path] = field.split("\t");
    if (path === "") i += 2;
    stat.files++;
    stat.insertions += Number(ins) || 0;
    stat.deletions += Number(del) || 0;
  }
  return stat;
}

/**
 * Every symlink of `treeish` (a commit or a tree): repo-relative path →
 * target, read from git's objects, for resolving links inside the tree.
 */
export async function treeSymlinks(
  git: GitContext,
  root: string,
  treeish: string,
): Promise<Map<string, string>> {
  const raw = text(
    (await runGitRaw(git, root, [
      "ls-tree",
      "-r",
      "-z",
      "--full-tree",
      treeish,
    ]))
      .stdout,
  );
  const entries: { path: string; sha: string }[] = [];
  for (const entry of raw.split("\0")) {
    // "<mode> <type> <sha>\t<path>"
    const tab = entry.indexOf("\t");
    if (tab < 0) continue;
    const [mode, , sha] = entry.slice(0, tab).split(" ");
    if (mode === SYMLINK_MODE && sha !== undefined) {
      entries.push({ path: entry.slice(tab + 1), sha });
    }
  }
  const blobs = await readObjects(git, root, entries.map((e) => e.sha));
  const links = new Map<string, string>();
  for (const e of entries) {
    const blob = blobs.get(e.sha);
    // A target git cannot produce: an empty one fails closed in the check.
    links.set(e.path, blob ? text(blob) : "");
  }
  return links;
}

const STATUSES: Record<string, FileChange["status"]> = {
  A: "A",
  M: "M",
  D: "D",
  T: "T",
  R: "R",
  C: "A", // a copy creates a new path; its source is untouched
};

/**
 * Every path changed from `from` to `to` (commits or trees), with renames
 * detected, the new mode and size, and for symlinks the target read from the
 * blob. This is git's own view of the candidate, for the integrity check.
 */
export async function changedFiles(
  git: GitContext,
  root: string,
  from: string,
  to: string,
): Promise<FileChange[]> {
  const raw = text(
    (await runGitRaw(git, root, [
      "diff-tree",
      "-r",
      "-z",
      "--raw",
      "-M",
      from,
      to,
    ]))
      .stdout,
  );
  const fields = raw.split("\0");
  const changes: FileChange[] = [];
  const shas = new Map<FileChange, string>();
  let i = 0;
  while (i < fields.length) {
    const meta = fields[i++] ?? "";
    if (!meta.startsWith(":")) continue;
    // ":oldmode newmode oldsha newsha STATUS[score]"
    const [, newMode = "", , newSha = "", statusField = ""] = meta.slice(1)
      .split(" ");
    const letter = statusField.charAt(0);
    const status = STATUSES[letter] ?? "M";
    let oldPath: string | undefined;
    if (letter === "R" || letter === "C") oldPath = fields[i++] ?? "";
    const path = fields[i++] ?? "";
    const deleted = status === "D" || /^0+$/.test(newMode);
    const change: FileChange = {
      path,
      status,
      newMode: deleted ? null : newMode,
      symlinkTarget: null,
      // A submodule is a commit of another repository: no bytes here.
      size: deleted ? null : newMode === GITLINK_MODE ? 0 : null,
    };
    if (letter === "R" && oldPath !== undefined) change.oldPath = oldPath;
    if (!deleted && newMode !== GITLINK_MODE) shas.set(change, newSha);
    changes.push(change);
  }
  const sizes = await objectSizes(git, root, [...shas.values()]);
  const links = await readObjects(
    git,
    root,
    changes.filter((c) => c.newMode === SYMLINK_MODE).map((c) => shas.get(c)!),
  );
  for (const [change, sha] of shas) {
    change.size = sizes.get(sha) ?? null;
    if (change.newMode === SYMLINK_MODE) {
      const blob = links.get(sha);
      change.symlinkTarget = blob ? text(blob) : null;
    }
  }
  return changes;
}
