/**
 * Per-trial copies of the candidate tree (spec section 5, "Materialise").
 *
 * Every trial gets its own directory `<repo>/.ratchet/tmp/<unique>/` holding
 * `tree/` (the copy mounted at /work, without `.git`) and `ctl/` (ratchet's
 * control files for the in-container wrapper, see trial.ts). The directory is
 * removed after the trial, so nothing a trial writes survives into the next
 * one or reaches the worktree.
 *
 * Sources: a git tree (written by an injected `exportTree`, normally git.ts's)
 * or a plain directory (`ratchet measure`, which needs no git): the checkout is
 * copied without its top-level `.git` and `.ratchet`, with `cp -a
 * --reflink=auto` where GNU cp exists (copy-on-write clones on btrfs/xfs,
 * native speed elsewhere), else node:fs `cp`.
 */
import { cp } from "node:fs/promises";
import { join } from "node:path";

/** Writes the files of `treeish` into `destDir` without `.git` (git.ts `exportTree`). */
export type ExportTree = (
  root: string,
  treeish: string,
  destDir: string,
) => Promise<void>;

/** Where a trial's tree comes from. */
export type TreeSource =
  | {
    kind: "git";
    /** The repository (or worktree) holding the objects. */
    root: string;
    /** A tree or commit id. */
    treeish: string;
    exportTree: ExportTree;
  }
  | {
    kind: "dir";
    /** A checkout; its top-level `.git` and `.ratchet` are left out. */
    dir: string;
  };

/** A numeric owner, as on the host. */
export interface Owner {
  uid: number;
  gid: number;
}

/** One trial's private directory. Dispose (or `remove()`) to delete it. */
export interface Materialized extends AsyncDisposable {
  /** `<repo>/.ratchet/tmp/<unique>`. */
  dir: string;
  /** The tree copy, mounted at /work. */
  tree: string;
  /** ratchet's control directory for the trial wrapper. */
  ctl: string;
  /** Delete everything; safe to call twice. */
  remove(): Promise<void>;
}

/** Top-level names never copied from a checkout. */
const EXCLUDED_TOP = new Set([".git", ".ratchet"]);

/** `.ratchet/tmp` of a repository. */
export function tmpRootOf(repoRoot: string): string {
  return join(repoRoot, ".ratchet", "tmp");
}

/** Parse `"uid:gid"`; null for anything else. */
export function parseOwner(text: string): Owner | null {
  const m = /^(\d+):(\d+)$/.exec(text.trim());
  return m ? { uid: Number(m[1]), gid: Number(m[2]) } : null;
}

/**
 * `"uid:gid"` owning `path` (the repository root): the user trials run as.
 * "0:0" where the platform has no numeric owners.
 */
export async function ownerOf(path: string): Promise<string> {
  const info = await Deno.stat(path);
  return `${info.uid ?? 0}:${info.gid ?? 0}`;
}

function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

let gnuCp: boolean | null = Deno.build.os === "linux" ? null : false;

/**
 * Copy the entries of `from` (except the excluded top-level names) into the
 * existing directory `to`, preserving modes, times, symlinks and (as root)
 * owners.
 */
export async function copyCheckout(
  from: string,
  to: string,
  exclude: ReadonlySet<string> = EXCLUDED_TOP,
): Promise<void> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(from)) {
    if (!exclude.has(entry.name)) names.push(entry.name);
  }
  if (names.length === 0) return;
  if (gnuCp !== false) {
    const out = await new Deno.Command("cp", {
      args: [
        "-a",
        "--reflink=auto",
        "-t",
        to,
        "--",
        ...names.map((n) => join(from, n)),
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output().catch(() => null);
    if (out?.success) {
      gnuCp = true;
      return;
    }
    if (gnuCp === true && out !== null) {
      throw new Error(
        `copying ${from} failed: ${
          new TextDecoder().decode(out.stderr).trim()
        }`,
      );
    }
    // Not GNU cp (busybox, BSD) or no cp at all: use the portable copy from now on.
    gnuCp = false;
    for (const n of names) {
      await Deno.remove(join(to, n), { recursive: true }).catch(() => {});
    }
  }
  for (const n of names) {
    await cp(join(from, n), join(to, n), {
      recursive: true,
      preserveTimestamps: true,
      verbatimSymlinks: true,
      force: true,
    });
  }
}

/** `chown -R` without following symlinks. */
async function chownTree(dir: string, owner: Owner): Promise<void> {
  const out = await new Deno.Command("chown", {
    args: ["-R", "-h", `${owner.uid}:${owner.gid}`, "--", dir],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `chown -R ${owner.uid}:${owner.gid} ${dir} failed: ${
        new TextDecoder().decode(out.stderr).trim()
      }`,
    );
  }
}

/**
 * Remove `dir` and everything in it. A trial may leave directories without
 * write or search permission (`chmod 000`); those are opened up and the
 * removal retried.
 */
export async function removeTree(dir: string): Promise<void> {
  try {
    await Deno.remove(dir, { recursive: true });
    return;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
  }
  await new Deno.Command("chmod", {
    args: ["-R", "u+rwx", "--", dir],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output().catch(() => null);
  await Deno.remove(dir, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
}

/** Options of `materialize`. */
export interface MaterializeOptions {
  /** Parent of the per-trial directories (`.ratchet/tmp`); created if missing. */
  tmpRoot: string;
  /** Readable part of the directory name, e.g. `i0003-t02`. */
  label: string;
  /**
   * Who the trial runs as. When ratchet runs as root and this is someone
   * else, the copy is chowned to them so the trial can write its own tree.
   */
  owner: Owner | null;
}

/**
 * Create `<tmpRoot>/<label>-<random>/` with `tree/` holding a copy of
 * `source` and an empty `ctl/`, both writable by `owner`.
 */
export async function materialize(
  source: TreeSource,
  options: MaterializeOptions,
): Promise<Materialized> {
  await Deno.mkdir(options.tmpRoot, { recursive: true });
  const dir = join(options.tmpRoot, `${options.label}-${randomHex(4)}`);
  const tree = join(dir, "tree");
  const ctl = join(dir, "ctl");
  // 0755 on tree: the container user must be able to reach /work even when
  // it is not the owner (ratchet running as another user than the repo's).
  await Deno.mkdir(dir, { mode: 0o700 });
  let removed: Promise<void> | null = null;
  const remove = () => removed ??= removeTree(dir);
  try {
    await Deno.mkdir(tree, { mode: 0o755 });
    await Deno.mkdir(ctl, { mode: 0o700 });
    if (source.kind === "git") {
      await source.exportTree(source.root, source.treeish, tree);
    } else {
      await copyCheckout(source.dir, tree);
    }
    await ensureOwner(tree, ctl, options.owner);
  } catch (error) {
    await remove().catch(() => {});
    throw error;
  }
  return {
    dir,
    tree,
    ctl,
    remove,
    [Symbol.asyncDispose]: remove,
  };
}

/**
 * Give the trial user the tree and the control directory. As root (tests,
 * CI, sudo) files are chowned; as that very user nothing is needed; as a
 * third user the control directory is opened to everyone, since it holds
 * only a nonce that the wrapper reads and wipes first thing.
 */
async function ensureOwner(
  tree: string,
  ctl: string,
  owner: Owner | null,
): Promise<void> {
  if (owner === null || Deno.build.os === "windows") return;
  const me = Deno.uid();
  if (me === owner.uid && Deno.gid() === owner.gid) return;
  if (me === 0) {
    await chownTree(tree, owner);
    await Deno.chown(ctl, owner.uid, owner.gid);
  } else if (me !== owner.uid) {
    await Deno.chmod(ctl, 0o777);
  }
}

/**
 * `chown` one path we created inside a tree copy (mount points, scratch
 * directories) to the trial user when we are root and they are not.
 */
export async function giveTo(path: string, owner: Owner | null): Promise<void> {
  if (owner === null || Deno.build.os === "windows") return;
  if (Deno.uid() === 0 && owner.uid !== 0) {
    await Deno.chown(path, owner.uid, owner.gid);
  }
}
