/**
 * The pinned harness snapshot (`.ratchet/harness/`, spec section 5): the
 * harness paths of the start tree, copied once at run start. Every tree image
 * lays it over the tree, so trials always run the harness the run started
 * with. Host-side, on the run's own worktree.
 */
import { cp } from "node:fs/promises";
import { join } from "node:path";
import picomatch from "picomatch";
import { normalizeRelPath } from "../core/protect.ts";

/** Kinds of tree entries. */
export type EntryKind = "dir" | "file" | "symlink" | "other";

/** A repo-relative path (posix, normalized) and what it is. */
export interface Entry {
  path: string;
  kind: EntryKind;
}

/** Top-level names that are never part of a trial tree. */
const SKIPPED_TOP = new Set([".git", ".ratchet"]);

function kindOf(info: Deno.FileInfo): EntryKind {
  if (info.isSymlink) return "symlink";
  if (info.isDirectory) return "dir";
  if (info.isFile) return "file";
  return "other";
}

/** Proper ancestors of a normalized relative path, outermost first, without "". */
function ancestorsOf(rel: string): string[] {
  const parts = rel.split("/");
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join("/"));
  return out;
}

/**
 * The entries of `root` matched by `globs`, by the rule of `matchesAny`
 * (protect.ts): a match on a directory covers everything in it, so the walk
 * does not descend into matched directories, nor into symlinks. Walks only
 * below each glob's literal prefix, so `tests/**` does not read the whole
 * tree. Top-level `.git` and `.ratchet` are never matched.
 */
export async function findMatches(
  root: string,
  globs: readonly string[],
): Promise<Entry[]> {
  const patterns = globs.map(normalizeRelPath).filter((g) => g !== "");
  if (patterns.length === 0) return [];
  // Same compilation as matchesAny; since the walk stops at the first
  // matching directory, testing the path alone equals testing it and its
  // ancestors.
  const isMatch = picomatch(patterns, { dot: true });
  const bases = dropNested(
    patterns.map((g) => normalizeRelPath(picomatch.scan(g).base)),
  );
  const found = new Map<string, Entry>();
  const visit = async (rel: string): Promise<void> => {
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(rel === "" ? root : join(root, rel));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    if (rel !== "" && SKIPPED_TOP.has(rel.split("/")[0]!)) return;
    if (rel !== "" && isMatch(rel)) {
      found.set(rel, { path: rel, kind: kindOf(info) });
      return;
    }
    if (!info.isDirectory) return;
    const names: string[] = [];
    for await (
      const entry of Deno.readDir(rel === "" ? root : join(root, rel))
    ) {
      names.push(entry.name);
    }
    await Promise.all(
      names.map((name) => visit(rel === "" ? name : `${rel}/${name}`)),
    );
  };
  // A literal prefix that does not exist, or whose ancestors are symlinks,
  // matches nothing: never walk through a symlink.
  for (const base of bases) {
    if (await passesSymlink(root, base)) continue;
    await visit(base);
  }
  return [...found.values()].sort((a, b) => comparePaths(a.path, b.path));
}

/** True when a proper ancestor of `rel` under `root` is a symlink or missing. */
async function passesSymlink(root: string, rel: string): Promise<boolean> {
  for (const a of ancestorsOf(rel)) {
    const info = await Deno.lstat(join(root, a)).catch(() => null);
    if (info === null || !info.isDirectory) return true;
  }
  return false;
}

function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Paths without those inside another one of them. */
function dropNested(paths: readonly string[]): string[] {
  const sorted = [...new Set(paths)].sort(
    (a, b) => a.length - b.length || comparePaths(a, b),
  );
  const out: string[] = [];
  for (const p of sorted) {
    if (!out.some((q) => q === "" || p === q || p.startsWith(q + "/"))) {
      out.push(p);
    }
  }
  return out.sort(comparePaths);
}

/**
 * Copy the harness matches of `fromDir` into `destDir` (the pinned snapshot
 * `.ratchet/harness/`), keeping modes, times and symlinks. Returns what was
 * copied.
 */
export async function snapshotHarness(
  fromDir: string,
  harnessGlobs: readonly string[],
  destDir: string,
): Promise<Entry[]> {
  await Deno.mkdir(destDir, { recursive: true });
  const entries = await findMatches(fromDir, harnessGlobs);
  for (const e of entries) {
    const to = join(destDir, e.path);
    await Deno.mkdir(join(to, ".."), { recursive: true });
    await cp(join(fromDir, e.path), to, {
      recursive: true,
      preserveTimestamps: true,
      verbatimSymlinks: true,
      force: true,
    });
  }
  return entries;
}
