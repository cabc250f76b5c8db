/**
 * The mounts of a trial container (spec section 5, "Read-only").
 *
 * Layout inside the container:
 * - `/work`: the trial's tree copy (read-write, or read-only with `--editable`);
 * - each harness match: read-only bind over `/work/<path>` from the pinned
 *   snapshot `.ratchet/harness/` (or, for `ratchet measure`, from the tree
 *   copy itself); a glob that names a directory mounts the directory;
 * - `--editable`: `/work` read-only, with writable binds (from the same tree
 *   copy) of each editable match, the report file's directory and each
 *   `--scratch` path. When the report sits at the repo root, `/work` itself
 *   must stay writable: it is then mounted read-write and every top-level
 *   entry that is not editable gets a read-only bind, so the command can
 *   create the report but not change existing files;
 * - `/tmp/home`: a tmpfs, HOME; `/.ratchet-trial`: ratchet's control dir;
 * - `--cache` volumes and `--mount` binds.
 *
 * Why writes to read-only paths fail whatever the command does:
 * - writing, `chmod`, `touch` a read-only bind → EROFS;
 * - `rm`, `mv`, or replacing it by a symlink or rename → EBUSY (a mount
 *   point cannot be unlinked or renamed over);
 * - a hard link to it → EXDEV (links never cross mounts);
 * - renaming or removing a *directory that holds* a harness path would carry
 *   the mount away (the kernel lets a directory with mounts below it be
 *   renamed) and leave room for a forged file. So every ancestor directory
 *   of a harness path that lies in a writable region is "pinned": bound
 *   read-write onto itself from the same tree copy. It stays writable, but
 *   being a mount point it cannot be renamed or removed (EBUSY).
 *
 * Host-side safety: bind sources never pass through a symlink (trees are
 * scanned with lstat and mount points are recreated as real directories
 * and files), so a candidate's symlink cannot expose a host path.
 * Symlinks matched by a harness glob cannot be bound and are reported in
 * `skipped`; they remain protected by the diff check.
 */
import { createHash } from "node:crypto";
import { cp } from "node:fs/promises";
import { isAbsolute, join, posix } from "node:path";
import picomatch from "picomatch";
import type { MountSpec } from "../config/config.ts";
import { normalizeRelPath } from "../core/protect.ts";
import { ConfigError, EnvironmentError } from "../errors.ts";
import { giveTo, type Owner } from "./materialize.ts";
import type { Mount } from "./runtime.ts";

/** Where the tree copy is mounted. */
export const WORK_DIR = "/work";
/** HOME inside trial containers (a tmpfs). */
export const HOME_DIR = "/tmp/home";
/** ratchet's per-trial control directory inside the container. */
export const CONTROL_DIR = "/.ratchet-trial";

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

/** Parent of a normalized relative path ("" for a top-level entry). */
export function parentOf(rel: string): string {
  const i = rel.lastIndexOf("/");
  return i === -1 ? "" : rel.slice(0, i);
}

/** Proper ancestors of a normalized relative path, outermost first, without "". */
export function ancestorsOf(rel: string): string[] {
  const parts = rel.split("/");
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join("/"));
  return out;
}

/** True when `rel` is `base` or inside it ("" contains everything). */
export function isWithin(rel: string, base: string): boolean {
  return base === "" || rel === base || rel.startsWith(base + "/");
}

/** Container path of a repo-relative path. */
export function workPath(rel: string): string {
  return rel === "" ? WORK_DIR : `${WORK_DIR}/${rel}`;
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
export function dropNested(paths: readonly string[]): string[] {
  const sorted = [...new Set(paths)].sort(
    (a, b) => a.length - b.length || comparePaths(a, b),
  );
  const out: string[] = [];
  for (const p of sorted) {
    if (!out.some((q) => isWithin(p, q))) out.push(p);
  }
  return out.sort(comparePaths);
}

/**
 * Merge harness matches of the snapshot and of the tree copy: snapshot
 * entries win (they are the pinned version); tree-only matches (files a
 * candidate added under a harness glob) are protected too, from the copy.
 * Nothing nested inside another entry is kept.
 */
export function mergeHarness(
  snapshot: readonly Entry[],
  tree: readonly Entry[],
): { path: string; kind: EntryKind; from: "snapshot" | "tree" }[] {
  const all = [
    ...snapshot.map((e) => ({ ...e, from: "snapshot" as const })),
    ...tree.map((e) => ({ ...e, from: "tree" as const })),
  ];
  const byPath = new Map<string, (typeof all)[number]>();
  for (const e of all) if (!byPath.has(e.path)) byPath.set(e.path, e);
  const kept = new Set(dropNested([...byPath.keys()]));
  return [...byPath.values()].filter((e) => kept.has(e.path)).sort((a, b) =>
    comparePaths(a.path, b.path)
  );
}

/** Everything `planMounts` needs; all paths are already scanned. */
export interface PlanInput {
  /** Host path of the trial's tree copy. */
  treeDir: string;
  /** Host path of the harness snapshot, or null when harness binds come from the copy. */
  harnessDir: string | null;
  /** Merged harness matches (see `mergeHarness`). */
  harness: readonly {
    path: string;
    kind: EntryKind;
    from: "snapshot" | "tree";
  }[];
  /** Editable matches in the copy; null when `--editable` is not used. */
  editable: readonly Entry[] | null;
  /** `--scratch` paths with the kind they have (or will be created with). */
  scratch: readonly Entry[];
  /** The report file, repo-relative, when `--report-source` is a path. */
  reportPath: string | null;
  /** Top-level entries of the copy (used when the report sits at the root under `--editable`). */
  topLevel: readonly Entry[];
}

/** A bind below /work and the tree-copy entry it needs as mount point. */
export interface MountPoint {
  path: string;
  kind: "dir" | "file";
}

/** What `planMounts` decided. */
export interface MountPlan {
  /** Binds over /work, outermost first (the engine applies them in depth order). */
  mounts: Mount[];
  /** Paths in the tree copy that must exist as real directories/files. */
  mountPoints: MountPoint[];
  /** Harness matches that could not be bound (symlinks, special files). */
  skipped: string[];
}

interface Bind {
  rel: string;
  source: string;
  readOnly: boolean;
  kind: "dir" | "file";
}

/**
 * Plan the binds over /work (pure). See the module comment for the layout
 * and why each bind is there.
 */
export function planMounts(input: PlanInput): MountPlan {
  const binds = new Map<string, Bind>();
  const fromTree = (rel: string) =>
    rel === "" ? input.treeDir : join(input.treeDir, rel);
  const set = (
    rel: string,
    readOnly: boolean,
    kind: "dir" | "file",
    source = fromTree(rel),
  ) => binds.set(rel, { rel, source, readOnly, kind });
  const bindable = (k: EntryKind): k is "dir" | "file" =>
    k === "dir" || k === "file";

  const report = input.reportPath === null
    ? null
    : normalizeRelPath(input.reportPath);
  if (input.editable === null) {
    set("", false, "dir");
  } else {
    const reportDir = report === null ? null : parentOf(report);
    const rootWritable = reportDir === "";
    set("", !rootWritable, "dir");
    const writable = new Map<string, "dir" | "file">();
    for (const e of input.editable) {
      if (bindable(e.kind)) writable.set(e.path, e.kind);
    }
    for (const e of input.scratch) {
      if (bindable(e.kind) && e.path !== "") writable.set(e.path, e.kind);
    }
    if (reportDir !== null && reportDir !== "") writable.set(reportDir, "dir");
    const outer = new Set(dropNested([...writable.keys()]));
    if (rootWritable) {
      for (const e of input.topLevel) {
        if (bindable(e.kind) && !outer.has(e.path) && e.path !== report) {
          set(e.path, true, e.kind);
        }
      }
    }
    for (const rel of outer) set(rel, false, writable.get(rel)!);
  }

  // The harness wins over anything at or below it: it is read-only, period.
  const skipped: string[] = [];
  const harness = input.harness.filter((h) => {
    if (bindable(h.kind) && h.path !== "") return true;
    skipped.push(h.path);
    return false;
  });
  for (const h of harness) {
    for (const rel of [...binds.keys()]) {
      if (rel !== "" && isWithin(rel, h.path)) binds.delete(rel);
    }
  }
  for (const h of harness) {
    const source = h.from === "snapshot" && input.harnessDir !== null
      ? join(input.harnessDir, h.path)
      : fromTree(h.path);
    set(h.path, true, h.kind as "dir" | "file", source);
  }

  // Pin the writable ancestors of every harness path (see module comment).
  const modeAt = (rel: string): boolean => {
    for (
      let p: string | null = rel;
      p !== null;
      p = p === "" ? null : parentOf(p)
    ) {
      const b = binds.get(p);
      if (b !== undefined) return b.readOnly;
    }
    return false;
  };
  const pins: string[] = [];
  for (const h of harness) {
    for (const a of ancestorsOf(h.path)) {
      if (!binds.has(a) && !modeAt(a)) pins.push(a);
    }
  }
  for (const a of pins) set(a, false, "dir");

  const ordered = [...binds.values()].sort((a, b) =>
    depth(a.rel) - depth(b.rel) || comparePaths(a.rel, b.rel)
  );
  return {
    mounts: ordered.map((b) => ({
      type: "bind",
      source: b.source,
      target: workPath(b.rel),
      readOnly: b.readOnly,
    })),
    mountPoints: ordered.filter((b) => b.rel !== "").map((b) => ({
      path: b.rel,
      kind: b.kind,
    })),
    skipped,
  };
}

function depth(rel: string): number {
  return rel === "" ? 0 : rel.split("/").length;
}

/**
 * Make every mount point a real directory or file in the tree copy, with
 * only real directories above it: missing ones are created, symlinks and
 * entries of the wrong kind replaced. The copy is the trial's own, so this
 * changes nothing anyone else sees, and it guarantees no bind passes
 * through a symlink the candidate planted.
 */
export async function prepareMountPoints(
  treeDir: string,
  points: readonly MountPoint[],
  owner: Owner | null,
): Promise<void> {
  const ensure = async (rel: string, kind: "dir" | "file") => {
    const full = join(treeDir, rel);
    const info = await Deno.lstat(full).catch(() => null);
    if (info !== null && !info.isSymlink) {
      if (kind === "dir" ? info.isDirectory : info.isFile) return;
    }
    if (info !== null) await Deno.remove(full, { recursive: true });
    if (kind === "dir") await Deno.mkdir(full);
    else await Deno.writeFile(full, new Uint8Array(), { mode: 0o644 });
    await giveTo(full, owner);
  };
  for (const point of points) {
    for (const a of ancestorsOf(point.path)) await ensure(a, "dir");
    await ensure(point.path, point.kind);
  }
}

/**
 * Kinds of the `--scratch` paths in the copy; a missing one (a build output
 * directory that does not exist yet) will be created as a directory.
 */
export async function scratchEntries(
  treeDir: string,
  scratch: readonly string[],
): Promise<Entry[]> {
  const out: Entry[] = [];
  for (const raw of scratch) {
    const path = normalizeRelPath(raw);
    if (path === "" || path === ".." || path.startsWith("../")) continue;
    const info = await Deno.lstat(join(treeDir, path)).catch(() => null);
    out.push({
      path,
      kind: info === null || info.isSymlink ? "dir" : kindOf(info),
    });
  }
  return out;
}

/** Top-level entries of a tree copy. */
export async function topLevelEntries(treeDir: string): Promise<Entry[]> {
  const out: Entry[] = [];
  for await (const e of Deno.readDir(treeDir)) {
    if (SKIPPED_TOP.has(e.name)) continue;
    out.push({
      path: e.name,
      kind: e.isSymlink
        ? "symlink"
        : e.isDirectory
        ? "dir"
        : e.isFile
        ? "file"
        : "other",
    });
  }
  return out.sort((a, b) => comparePaths(a.path, b.path));
}

/** Inputs of `planTrialMounts`. */
export interface TrialMountOptions {
  treeDir: string;
  harnessDir: string | null;
  harness: readonly string[];
  editable: readonly string[];
  scratch: readonly string[];
  reportPath: string | null;
  owner: Owner | null;
}

/**
 * Scan the tree copy (and the snapshot), plan the /work binds, and create
 * their mount points in the copy.
 */
export async function planTrialMounts(
  options: TrialMountOptions,
): Promise<MountPlan> {
  const editableMode = options.editable.length > 0;
  const [snapshot, tree, editable, scratch, topLevel] = await Promise.all([
    options.harnessDir === null
      ? Promise.resolve([])
      : findMatches(options.harnessDir, options.harness),
    findMatches(options.treeDir, options.harness),
    editableMode
      ? findMatches(options.treeDir, options.editable)
      : Promise.resolve(null),
    editableMode
      ? scratchEntries(options.treeDir, options.scratch)
      : Promise.resolve([]),
    editableMode && options.reportPath !== null &&
      parentOf(normalizeRelPath(options.reportPath)) === ""
      ? topLevelEntries(options.treeDir)
      : Promise.resolve([]),
  ]);
  const plan = planMounts({
    treeDir: options.treeDir,
    harnessDir: options.harnessDir,
    harness: mergeHarness(snapshot, tree),
    editable,
    scratch,
    reportPath: options.reportPath,
    topLevel,
  });
  await prepareMountPoints(options.treeDir, plan.mountPoints, options.owner);
  return plan;
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

/** A container path from a flag: absolute as given, relative taken from /work. */
export function containerPath(path: string): string {
  const p = path.replaceAll("\\", "/");
  return posix.normalize(p.startsWith("/") ? p : `${WORK_DIR}/${p}`).replace(
    /(.)\/+$/,
    "$1",
  );
}

/** Targets ratchet itself mounts; `--mount`/`--cache` may not reuse them. */
const RESERVED_TARGETS = [WORK_DIR, HOME_DIR, CONTROL_DIR];

function checkTarget(target: string, flag: string, value: string): void {
  if (RESERVED_TARGETS.includes(target)) {
    throw new ConfigError(
      `${flag} ${value}: ${target} is where ratchet mounts its own files`,
      {
        hint: `Choose another container path than ${
          RESERVED_TARGETS.join(", ")
        }.`,
        key: flag.slice(2),
      },
    );
  }
}

/**
 * The `--mount SRC:DST[:ro]` binds. Sources are relative to the repo root
 * and must exist: a missing one is an EnvironmentError (exit 3) and is never
 * created.
 */
export async function extraMounts(
  repoRoot: string,
  specs: readonly MountSpec[],
): Promise<Mount[]> {
  const out: Mount[] = [];
  for (const spec of specs) {
    const shown = `${spec.source}:${spec.target}${spec.readOnly ? ":ro" : ""}`;
    const source = isAbsolute(spec.source)
      ? spec.source
      : join(repoRoot, spec.source);
    let real: string;
    try {
      real = await Deno.realPath(source);
    } catch (error) {
      throw new EnvironmentError(
        `--mount ${shown}: the source ${source} does not exist`,
        {
          hint:
            "Create it (ratchet never creates mount sources) or fix the --mount value; relative sources are taken from the repo root.",
          cause: error,
        },
      );
    }
    const target = containerPath(spec.target);
    checkTarget(target, "--mount", shown);
    out.push({ type: "bind", source: real, target, readOnly: spec.readOnly });
  }
  return out;
}

/** Docker volume names allow [A-Za-z0-9_.-]. */
function volumePart(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9_.-]/g, "-");
}

/** Name of the `--cache` volume of `runId` for container path `target`. */
export function cacheVolumeName(runId: string, target: string): string {
  const hash = createHash("sha256").update(target).digest("hex").slice(0, 12);
  return `ratchet-cache-${volumePart(runId)}-${hash}`;
}

/** The `--cache PATH` volume mounts of a run (one named volume per path). */
export function cacheMounts(runId: string, paths: readonly string[]): Mount[] {
  return [...new Set(paths.map(containerPath))].map((target) => {
    checkTarget(target, "--cache", target);
    return {
      type: "volume" as const,
      source: cacheVolumeName(runId, target),
      target,
      readOnly: false,
    };
  });
}

/** HOME (a tmpfs) and ratchet's control directory. */
export function systemMounts(controlDir: string): Mount[] {
  return [
    { type: "tmpfs", source: "", target: HOME_DIR, readOnly: false },
    { type: "bind", source: controlDir, target: CONTROL_DIR, readOnly: false },
  ];
}
