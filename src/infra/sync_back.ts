/**
 * Bring the model's working copy back from its sandbox into the run's
 * worktree (spec section 6): after a proposal, every path the model changed
 * under `/work` (new and changed files, deletions, modes, symlinks as
 * symlinks, directories) is made the same in the worktree, and the candidate
 * tree is taken from there. What changed is what the engine reports against
 * the sandbox's image; only those paths travel.
 *
 * Never written back: `.git` and `.ratchet` (the worktree's own), and what
 * the prepare step installed (`node_modules/`, `.venv/`: part of the image,
 * not of a candidate). A file over `maxFileBytes` is not copied; it is
 * reported so the candidate is rejected (`file_too_large`).
 *
 * The worktree is written with an lstat walk of every path: a symlink the
 * model made is written as a symlink and never followed, so no path can
 * reach outside the worktree.
 */
import { join } from "node:path";
import type { ArchiveEntry, FsChange, Sandbox } from "./runtime.ts";

/** Where the working copy is in the sandbox. */
const ROOT = "/work";

/** What a sync did. */
export interface SyncResult {
  written: number;
  removed: number;
  /** Files over the cap, not copied (repo-relative). */
  oversized: { path: string; size: number }[];
}

/** Options of `syncBack`. */
export interface SyncOptions {
  /** Repo-relative paths the prepare step made; never carried back. */
  preparedRoots: readonly string[];
  /** Largest file copied back. */
  maxFileBytes: number;
}

function within(rel: string, base: string): boolean {
  return rel === base || rel.startsWith(`${base}/`);
}

/** Whether a changed path is one the candidate may carry (pure). */
export function carried(
  rel: string,
  preparedRoots: readonly string[],
): boolean {
  if (rel === "") return false;
  const top = rel.split("/")[0];
  if (top === ".git" || top === ".ratchet") return false;
  return !preparedRoots.some((r) => within(rel, r));
}

/**
 * The changes to apply, in order (pure): deletions first, then the rest
 * with parents before children; a path below an added directory is left to
 * that directory's read.
 */
export function planSync(
  changes: readonly FsChange[],
  preparedRoots: readonly string[],
): { removals: string[]; updates: { rel: string; added: boolean }[] } {
  const relOf = (path: string) =>
    path === ROOT
      ? ""
      : path.startsWith(`${ROOT}/`)
      ? path.slice(ROOT.length + 1)
      : null;
  const removals: string[] = [];
  const updates = new Map<string, boolean>();
  for (const c of changes) {
    const rel = relOf(c.path);
    if (rel === null || !carried(rel, preparedRoots)) continue;
    if (c.kind === "deleted") removals.push(rel);
    else updates.set(rel, c.kind === "added" || updates.get(rel) === true);
  }
  const sorted = [...updates.entries()].sort(([a], [b]) =>
    a.split("/").length - b.split("/").length || (a < b ? -1 : 1)
  );
  return {
    removals: removals.sort((a, b) => b.length - a.length),
    updates: sorted.map(([rel, added]) => ({ rel, added })),
  };
}

async function lstatOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (
      error instanceof Deno.errors.NotFound ||
      error instanceof Deno.errors.NotADirectory
    ) return null;
    throw error;
  }
}

/**
 * Make every directory above `rel` a real directory (replacing a symlink or
 * a file in the way), without following anything.
 */
async function ensureParents(root: string, rel: string): Promise<void> {
  const parts = rel.split("/");
  let current = root;
  for (const part of parts.slice(0, -1)) {
    current = join(current, part);
    const info = await lstatOrNull(current);
    if (info?.isDirectory) continue;
    if (info !== null) await Deno.remove(current, { recursive: true });
    await Deno.mkdir(current);
  }
}

/** Remove whatever is at `rel` (a symlink itself, never its target). */
async function removeEntry(root: string, rel: string): Promise<boolean> {
  await ensureParentsExistOrStop(root, rel);
  const full = join(root, rel);
  if ((await lstatOrNull(full)) === null) return false;
  await Deno.remove(full, { recursive: true });
  return true;
}

/** Stops a removal whose parents are not plain directories (nothing to remove below a link). */
async function ensureParentsExistOrStop(
  root: string,
  rel: string,
): Promise<void> {
  let current = root;
  for (const part of rel.split("/").slice(0, -1)) {
    current = join(current, part);
    const info = await lstatOrNull(current);
    if (info === null || !info.isDirectory) {
      throw new SkipPath();
    }
  }
}

class SkipPath extends Error {}

/** Write one entry read from the sandbox at `rel`. */
async function writeEntry(
  root: string,
  rel: string,
  entry: ArchiveEntry,
  linkTarget: string | null,
): Promise<void> {
  await ensureParents(root, rel);
  const full = join(root, rel);
  const info = await lstatOrNull(full);
  if (entry.kind === "dir") {
    if (info?.isDirectory) return;
    if (info !== null) await Deno.remove(full, { recursive: true });
    await Deno.mkdir(full);
    return;
  }
  if (info !== null) await Deno.remove(full, { recursive: true });
  if (entry.kind === "symlink") {
    await Deno.symlink(linkTarget ?? entry.linkTarget, full);
  } else if (entry.kind === "file" && entry.data !== null) {
    await Deno.writeFile(full, entry.data, {
      mode: (entry.mode & 0o111) !== 0 ? 0o755 : 0o644,
    });
    // writeFile's mode is masked by the umask; git cares only for the x bit.
    await Deno.chmod(full, (entry.mode & 0o111) !== 0 ? 0o755 : 0o644);
  }
}

/** Bytes of paths per `readlink` command (well under Linux's 128 KiB per argument). */
const READLINK_BATCH_BYTES = 64 * 1024;

/** A POSIX-sh single-quoted word. */
function quote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * The raw targets of symlinks in the sandbox (the engine's archive read of a
 * link follows it on Podman, so they are asked for with `readlink`), in
 * batches; a target keeps its trailing newlines.
 */
async function readLinks(
  sandbox: Sandbox,
  paths: readonly string[],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let batch: string[] = [];
  let bytes = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    // `$(…; printf .)` keeps trailing newlines; the dot and readlink's own
    // newline are taken off again below.
    const result = await sandbox.exec(
      `for f in ${
        batch.map(quote).join(" ")
      }; do t=$(readlink -- "$f"; printf .) || exit 1; printf '%s\\0' "$t"; done`,
      { timeoutMs: 60_000 },
    );
    const targets = result.stdout.split("\0");
    if (result.exitCode !== 0 || targets.length < batch.length) {
      throw new Error(
        `reading ${batch.length} symlink(s) in the sandbox failed (exit ${result.exitCode}): ${result.stderr.trim()}`,
      );
    }
    batch.forEach((p, i) => out.set(p, targets[i]!.replace(/\n\.$/, "")));
    batch = [];
    bytes = 0;
  };
  for (const p of paths) {
    if (bytes + p.length > READLINK_BATCH_BYTES) await flush();
    batch.push(p);
    bytes += p.length + 3;
  }
  await flush();
  return out;
}

/** Apply the sandbox's changes under /work to the worktree at `root`. */
export async function syncBack(
  sandbox: Sandbox,
  root: string,
  options: SyncOptions,
): Promise<SyncResult> {
  const plan = planSync(await sandbox.changes(), options.preparedRoots);
  const result: SyncResult = { written: 0, removed: 0, oversized: [] };
  for (const rel of plan.removals) {
    try {
      if (await removeEntry(root, rel)) result.removed++;
    } catch (error) {
      if (!(error instanceof SkipPath)) throw error;
    }
  }
  const handled: string[] = [];
  const entries: { rel: string; entry: ArchiveEntry }[] = [];
  for (const { rel, added } of plan.updates) {
    if (handled.some((h) => within(rel, h))) continue;
    const stat = await sandbox.stat(`${ROOT}/${rel}`);
    if (stat === null) continue;
    if (stat.kind === "dir") {
      if (!added) {
        // A changed directory: its changed entries are listed on their own.
        entries.push({
          rel,
          entry: {
            path: "",
            kind: "dir",
            mode: stat.mode,
            size: 0,
            linkTarget: "",
            data: null,
          },
        });
        continue;
      }
      // A new directory: everything in it is new, read in one archive.
      handled.push(rel);
      for await (
        const e of sandbox.read(`${ROOT}/${rel}`, {
          maxFileBytes: options.maxFileBytes,
        })
      ) {
        const sub = e.path === "" ? rel : `${rel}/${e.path}`;
        if (!carried(sub, options.preparedRoots)) continue;
        entries.push({ rel: sub, entry: e });
      }
      continue;
    }
    if (stat.kind === "symlink") {
      entries.push({
        rel,
        entry: {
          path: "",
          kind: "symlink",
          mode: 0o777,
          size: 0,
          linkTarget: "",
          data: null,
        },
      });
      continue;
    }
    if (stat.kind !== "file") continue;
    if (stat.size > options.maxFileBytes) {
      entries.push({
        rel,
        entry: {
          path: "",
          kind: "file",
          mode: stat.mode,
          size: stat.size,
          linkTarget: "",
          data: null,
        },
      });
      continue;
    }
    const got = await sandbox.readFile(`${ROOT}/${rel}`, options.maxFileBytes);
    if (got.kind !== "file") continue;
    entries.push({
      rel,
      entry: {
        path: "",
        kind: "file",
        mode: stat.mode,
        size: got.bytes.length,
        linkTarget: "",
        data: got.bytes,
      },
    });
  }
  const links = await readLinks(
    sandbox,
    entries.filter((e) => e.entry.kind === "symlink").map((e) =>
      `${ROOT}/${e.rel}`
    ),
  );
  for (const { rel, entry } of entries) {
    if (entry.kind === "file" && entry.data === null) {
      result.oversized.push({ path: rel, size: entry.size });
      continue;
    }
    if (entry.kind === "other") continue;
    await writeEntry(
      root,
      rel,
      entry,
      entry.kind === "symlink" ? links.get(`${ROOT}/${rel}`) ?? null : null,
    );
    result.written++;
  }
  return result;
}
