/**
 * Where a tree's entries and contents come from: a git tree of the
 * repository (the incumbent, a candidate, the start commit) or a checkout
 * directory (`ratchet measure`: the files git would commit when it lies in a
 * work tree, every file otherwise), plus the pinned harness snapshot laid
 * over either.
 *
 * Git trees are listed with `ls-tree` and read with one `cat-file --batch`
 * process per tree, in the order the tar is written. `git archive` is not
 * used: a candidate could hide or rewrite files with `export-ignore` and
 * `export-subst` attributes.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { NodeKind } from "../core/tree_layout.ts";
import type { GitContext } from "../infra/git/context.ts";
import { runGit, runGitRaw, spawnGit } from "../infra/git/process.ts";

/** A tree to build an image of. */
export type TreeSource =
  | { kind: "git"; root: string; treeish: string }
  | { kind: "dir"; dir: string };

/** Where an entry's contents are read from. */
type ContentRef =
  | { from: "blob"; root: string; oid: string }
  | { from: "file"; full: string };

/** One entry of a tree. */
export interface SourceEntry {
  /** Repo-relative, never "". */
  path: string;
  kind: NodeKind;
  executable: boolean;
  /** Bytes (files). */
  size: number;
  /** Symlinks only. */
  linkTarget?: string;
  /** Files only. */
  content?: ContentRef;
}

/** A tree's entries and a name for its content (the git tree id, or a digest). */
export interface SourceListing {
  identity: string;
  entries: SourceEntry[];
}

/** Top-level names never part of a tree. */
const EXCLUDED_TOP = new Set([".git", ".ratchet"]);

/** List `source`'s entries, without contents. */
export async function listSource(
  git: GitContext,
  source: TreeSource,
): Promise<SourceListing> {
  return source.kind === "git"
    ? await listGitTree(git, source.root, source.treeish)
    : await listCheckout(git, source.dir) ?? await listDirectory(source.dir);
}

async function listGitTree(
  git: GitContext,
  root: string,
  treeish: string,
): Promise<SourceListing> {
  const identity = await runGit(git, root, ["rev-parse", `${treeish}^{tree}`]);
  const out = await runGitRaw(git, root, [
    "ls-tree",
    "-r",
    "-t",
    "-z",
    "-l",
    "--full-tree",
    identity,
  ]);
  const entries: SourceEntry[] = [];
  const links: SourceEntry[] = [];
  const linkOids: string[] = [];
  for (const record of new TextDecoder().decode(out.stdout).split("\0")) {
    if (record === "") continue;
    const tab = record.indexOf("\t");
    const [mode, type, oid, size] = record.slice(0, tab).split(/ +/);
    const path = record.slice(tab + 1);
    if (EXCLUDED_TOP.has(path.split("/")[0]!)) continue;
    if (type === "tree" || type === "commit") {
      // A submodule (gitlink) is checked out as an empty directory.
      entries.push({ path, kind: "dir", executable: false, size: 0 });
    } else if (mode === "120000") {
      const entry: SourceEntry = {
        path,
        kind: "symlink",
        executable: false,
        size: 0,
      };
      entries.push(entry);
      links.push(entry);
      linkOids.push(oid!);
    } else {
      entries.push({
        path,
        kind: "file",
        executable: mode === "100755",
        size: Number(size),
        content: { from: "blob", root, oid: oid! },
      });
    }
  }
  if (links.length > 0) {
    const targets = await readBlobs(git, root, linkOids);
    links.forEach((entry, i) => (entry.linkTarget = targets[i]!));
  }
  return { identity, entries };
}

/** Small blobs (symlink targets) in one `cat-file --batch` call. */
async function readBlobs(
  git: GitContext,
  root: string,
  oids: string[],
): Promise<string[]> {
  const out = await runGitRaw(git, root, ["cat-file", "--batch"], {
    input: oids.join("\n") + "\n",
  });
  const bytes = out.stdout;
  const decoder = new TextDecoder();
  const result: string[] = [];
  let at = 0;
  for (let i = 0; i < oids.length; i++) {
    const nl = bytes.indexOf(10, at);
    const size = Number(decoder.decode(bytes.subarray(at, nl)).split(" ")[2]);
    result.push(decoder.decode(bytes.subarray(nl + 1, nl + 1 + size)));
    at = nl + 1 + size + 1;
  }
  return result;
}

/**
 * A checkout directory as git sees it, when it lies in a work tree: the
 * files `git add -A` would commit (tracked and untracked, never ignored), as
 * they are on disk; named by the git tree of `HEAD` when they equal it (so a
 * measure of a clean commit and a run from it share the prepare step's
 * cache). Null outside a work tree.
 */
async function listCheckout(
  git: GitContext,
  dir: string,
): Promise<SourceListing | null> {
  const prefix = await runGitRaw(git, dir, ["rev-parse", "--show-prefix"], {
    okCodes: [0, 128],
  }).catch(() => null);
  if (prefix === null || prefix.status !== 0) return null;
  const out = await runGitRaw(git, dir, [
    "ls-files",
    "-z",
    "--cached",
    "--others",
    "--exclude-standard",
    "--",
    ".",
  ]);
  const paths = new TextDecoder().decode(out.stdout).split("\0").filter((p) =>
    p !== "" && !EXCLUDED_TOP.has(p.split("/")[0]!)
  );
  const listing = await listPaths(dir, paths);
  const status = await runGitRaw(git, dir, [
    "status",
    "--porcelain",
    "-z",
    "--",
    ".",
  ]);
  if (status.stdout.length === 0) {
    const at = new TextDecoder().decode(prefix.stdout).trim().replace(
      /\/$/,
      "",
    );
    const tree = await runGitRaw(git, dir, [
      "rev-parse",
      "--verify",
      "--quiet",
      at === "" ? "HEAD^{tree}" : `HEAD:${at}`,
    ], { okCodes: [0, 1, 128] });
    if (tree.status === 0) {
      listing.identity = new TextDecoder().decode(tree.stdout).trim();
    }
  }
  return listing;
}

/** An entry's line in a checkout's digest: what it is, and when it last changed. */
function entryDigestLine(entry: SourceEntry, info: Deno.FileInfo): string {
  return JSON.stringify([
    entry.path,
    entry.kind,
    entry.executable,
    entry.size,
    info.mtime?.getTime() ?? 0,
    entry.linkTarget ?? "",
  ]) + "\n";
}

/** The entries of `paths` (files and links) under `dir`, with their directories. */
async function listPaths(
  dir: string,
  paths: readonly string[],
): Promise<SourceListing> {
  const entries = new Map<string, SourceEntry>();
  const digest = createHash("sha256");
  for (const path of [...paths].sort()) {
    const full = join(dir, path);
    const info = await Deno.lstat(full).catch(() => null);
    // Deleted in the checkout but still in the index: not part of it.
    if (info === null) continue;
    let entry: SourceEntry | null = null;
    if (info.isSymlink) {
      entry = {
        path,
        kind: "symlink",
        executable: false,
        size: 0,
        linkTarget: await Deno.readLink(full),
      };
    } else if (info.isFile) {
      entry = {
        path,
        kind: "file",
        executable: ((info.mode ?? 0) & 0o111) !== 0,
        size: info.size,
        content: { from: "file", full },
      };
    } else if (info.isDirectory) {
      // A submodule: checked out as a directory of its own.
      entry = { path, kind: "dir", executable: false, size: 0 };
    }
    if (entry === null) continue;
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join("/");
      if (!entries.has(parent)) {
        entries.set(parent, {
          path: parent,
          kind: "dir",
          executable: false,
          size: 0,
        });
      }
    }
    entries.set(path, entry);
    digest.update(entryDigestLine(entry, info));
  }
  return {
    identity: `dir-${digest.digest("hex").slice(0, 40)}`,
    entries: [...entries.values()],
  };
}

async function listDirectory(dir: string): Promise<SourceListing> {
  const entries: SourceEntry[] = [];
  const digest = createHash("sha256");
  const visit = async (rel: string): Promise<void> => {
    const names: string[] = [];
    for await (const e of Deno.readDir(rel === "" ? dir : join(dir, rel))) {
      if (rel === "" && EXCLUDED_TOP.has(e.name)) continue;
      names.push(e.name);
    }
    names.sort();
    for (const name of names) {
      const path = rel === "" ? name : `${rel}/${name}`;
      const full = join(dir, path);
      const info = await Deno.lstat(full);
      let entry: SourceEntry | null = null;
      if (info.isSymlink) {
        entry = {
          path,
          kind: "symlink",
          executable: false,
          size: 0,
          linkTarget: await Deno.readLink(full),
        };
      } else if (info.isDirectory) {
        entry = { path, kind: "dir", executable: false, size: 0 };
      } else if (info.isFile) {
        entry = {
          path,
          kind: "file",
          executable: ((info.mode ?? 0) & 0o111) !== 0,
          size: info.size,
          content: { from: "file", full },
        };
      }
      // Sockets, FIFOs and devices are not part of a tree.
      if (entry === null) continue;
      entries.push(entry);
      digest.update(entryDigestLine(entry, info));
      if (entry.kind === "dir") await visit(path);
    }
  };
  await visit("");
  return { identity: `dir-${digest.digest("hex").slice(0, 40)}`, entries };
}

/**
 * Lay the pinned harness snapshot (`.ratchet/harness/`, a copy of the
 * harness paths at run start) over a tree: a path in the snapshot takes the
 * snapshot's version, a path the tree lacks is added back, so trials always
 * run the harness the run started with.
 */
export async function overlaySnapshot(
  entries: readonly SourceEntry[],
  snapshotDir: string,
): Promise<SourceEntry[]> {
  const snapshot = await listDirectory(snapshotDir).catch((error) => {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  });
  if (snapshot === null || snapshot.entries.length === 0) return [...entries];
  const byPath = new Map(entries.map((e) => [e.path, e]));
  for (const e of snapshot.entries) {
    const current = byPath.get(e.path);
    // A directory in both stays the tree's (its other entries are kept).
    if (current?.kind === "dir" && e.kind === "dir") continue;
    if (current !== undefined && current.kind === "dir") {
      // The tree has a directory where the harness has a file: the harness wins.
      for (const p of [...byPath.keys()]) {
        if (p.startsWith(`${e.path}/`)) byPath.delete(p);
      }
    }
    byPath.set(e.path, e);
  }
  return [...byPath.values()];
}

/**
 * Reads entries' contents in the order the tar is written: one
 * `cat-file --batch` process per repository, asked for one blob at a time.
 */
export class ContentReader implements AsyncDisposable {
  readonly #context: GitContext;
  #git = new Map<string, BlobStream>();

  constructor(git: GitContext) {
    this.#context = git;
  }

  /** The contents of `entry` (a file), as a stream of exactly its size or less. */
  chunks(entry: SourceEntry): AsyncIterable<Uint8Array> {
    const ref = entry.content;
    if (ref === undefined) return (async function* () {})();
    if (ref.from === "file") return readFile(ref.full);
    let stream = this.#git.get(ref.root);
    if (stream === undefined) {
      stream = new BlobStream(this.#context, ref.root);
      this.#git.set(ref.root, stream);
    }
    return stream.read(ref.oid);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const stream of this.#git.values()) await stream.close();
    this.#git.clear();
  }
}

async function* readFile(full: string): AsyncGenerator<Uint8Array> {
  using file = await Deno.open(full, { read: true });
  const buffer = new Uint8Array(1 << 20);
  while (true) {
    const read = await file.read(buffer);
    if (read === null) return;
    yield buffer.slice(0, read);
  }
}

/** One `git cat-file --batch` process, read blob after blob. */
class BlobStream {
  #child: Promise<Deno.ChildProcess>;
  #reader: Promise<ReadableStreamDefaultReader<Uint8Array>>;
  #writer: Promise<WritableStreamDefaultWriter<Uint8Array>>;
  #buffer = new Uint8Array(0);

  constructor(git: GitContext, root: string) {
    this.#child = spawnGit(git, root, ["cat-file", "--batch"]);
    this.#reader = this.#child.then((c) => c.stdout.getReader());
    this.#writer = this.#child.then((c) => c.stdin.getWriter());
  }

  async #fill(): Promise<boolean> {
    const reader = await this.#reader;
    const { value, done } = await reader.read();
    if (done) return false;
    const joined = new Uint8Array(this.#buffer.length + value.length);
    joined.set(this.#buffer);
    joined.set(value, this.#buffer.length);
    this.#buffer = joined;
    return true;
  }

  async *read(oid: string): AsyncGenerator<Uint8Array> {
    const writer = await this.#writer;
    await writer.write(new TextEncoder().encode(`${oid}\n`));
    let nl = this.#buffer.indexOf(10);
    while (nl === -1) {
      if (!(await this.#fill())) {
        throw new Error(`git cat-file ended at ${oid}`);
      }
      nl = this.#buffer.indexOf(10);
    }
    const header = new TextDecoder().decode(this.#buffer.subarray(0, nl));
    this.#buffer = this.#buffer.subarray(nl + 1);
    const [, type, size] = header.split(" ");
    if (type !== "blob") throw new Error(`git cat-file: ${header}`);
    let left = Number(size);
    while (left > 0) {
      if (this.#buffer.length === 0 && !(await this.#fill())) {
        throw new Error(`git cat-file ended inside ${oid}`);
      }
      const take = this.#buffer.subarray(
        0,
        Math.min(left, this.#buffer.length),
      );
      this.#buffer = this.#buffer.subarray(take.length);
      left -= take.length;
      yield take.slice();
    }
    // The newline after the contents.
    while (this.#buffer.length === 0) {
      if (!(await this.#fill())) return;
    }
    this.#buffer = this.#buffer.subarray(1);
  }

  async close(): Promise<void> {
    const child = await this.#child;
    await (await this.#writer).close().catch(() => {});
    (await this.#reader).releaseLock();
    await child.stdout.cancel().catch(() => {});
    await child.stderr.cancel().catch(() => {});
    await child.status;
  }
}
