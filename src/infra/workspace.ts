/**
 * The model's editor tool, carried out on the sandbox container's working
 * copy at `/work` through the Engine API (spec section 6): nothing of the
 * container's filesystem is ever opened on the host.
 *
 * The model names paths as the sandbox shows them: rooted at `/work`, or
 * relative to `/work`. Every path is resolved here component by component,
 * each symlink followed by hand (the engine says where it leads inside the
 * container), and refused when it leaves `/work` at any step, names `.git`
 * or `.ratchet`, or (for writes) is protected by the run's
 * ProtectionPolicy. The sandbox is frozen while a tool call runs (see
 * `infra/docker/sandbox.ts`), so a process the model left running cannot
 * swap a directory for a symlink between the walk and the write; and the
 * diff check judges whatever the working copy ends up holding.
 */
import {
  normalizeRelPath,
  protectedReason,
  type ProtectionPolicy,
} from "../core/protect.ts";
import type { Ident } from "../core/tree_layout.ts";
import type { PathStat, PutEntry, Sandbox } from "./runtime.ts";

/** Where the tree appears to the model. */
export const MODEL_ROOT = "/work";

/** What a resolved path is used for. Reads are allowed on harness files. */
export type Access = "read" | "write";

/** A model path refused or failed; the message is written for the model. */
export class WorkspaceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WorkspaceError";
  }
}

/** A model path mapped into the worktree. */
export interface ResolvedPath {
  /** Repo-relative path as the model named it ("" for the root). */
  rel: string;
  /** Repo-relative path after following symlinks. */
  realRel: string;
  /** Absolute path in the sandbox after following symlinks: the one to open. */
  target: string;
  /** The path as the model should see it in messages: `/work/…`. */
  display: string;
  /** What is there: a file, a directory, or nothing yet. */
  kind: "file" | "directory" | "missing" | "other";
}

/** File operations confined to the sandbox's working copy. */
export interface Workspace {
  readonly policy: ProtectionPolicy;
  /** Map a model path to the tree, refusing what the model may not touch. */
  resolve(path: string, access: Access): Promise<ResolvedPath>;
  /** Read a UTF-8 text file. */
  readText(path: string): Promise<{ resolved: ResolvedPath; text: string }>;
  /** Write a text file, creating parent directories; returns where it went. */
  writeText(path: string, text: string): Promise<ResolvedPath>;
  /**
   * Directory listing up to `depth` levels (1 = the directory's own entries),
   * without `.git` and `.ratchet`, as `/work/…` paths (directories end in `/`).
   */
  list(
    path: string,
    depth: number,
  ): Promise<{ resolved: ResolvedPath; entries: string[]; truncated: boolean }>;
}

/** Largest file the editor reads (bigger files: use bash with head/sed). */
export const MAX_READ_BYTES = 4 * 1024 * 1024;
/** Most entries a listing returns. */
export const MAX_LIST_ENTRIES = 1000;
/** Symlink hops before a path is declared a loop (Linux's MAXSYMLINKS). */
const MAX_SYMLINK_HOPS = 40;

/** `/work` + repo-relative path. */
export function toModelPath(rel: string): string {
  return rel === "" ? MODEL_ROOT : `${MODEL_ROOT}/${rel}`;
}

/**
 * The repo-relative path a model path names, or a WorkspaceError when it lies
 * outside `/work` (an absolute path elsewhere, or `..` climbing out).
 */
export function modelPathToRel(path: string): string {
  if (path.includes("\0")) {
    throw new WorkspaceError("The path contains a NUL byte.");
  }
  const p = path.trim().replaceAll("\\", "/");
  if (p === "") throw new WorkspaceError("The path is empty.");
  let relative: string;
  if (p.startsWith("/")) {
    if (p !== MODEL_ROOT && !p.startsWith(`${MODEL_ROOT}/`)) {
      throw new WorkspaceError(
        `${path} is outside ${MODEL_ROOT}; every path must be under ${MODEL_ROOT}.`,
      );
    }
    relative = p.slice(MODEL_ROOT.length);
  } else {
    relative = p;
  }
  const rel = normalizeRelPath(relative);
  if (rel === ".." || rel.startsWith("../")) {
    throw new WorkspaceError(
      `${path} climbs out of ${MODEL_ROOT} through ".."; every path must stay under ${MODEL_ROOT}.`,
    );
  }
  return rel;
}

/** Components of a posix path. */
function components(path: string): string[] {
  return path.split("/").filter((c) => c !== "" && c !== ".");
}

function relOf(container: string): string {
  return container === MODEL_ROOT ? "" : container.slice(MODEL_ROOT.length + 1);
}

function isInsideRoot(container: string): boolean {
  return container === MODEL_ROOT || container.startsWith(`${MODEL_ROOT}/`);
}

/** The first component of a repo-relative path names ratchet's or git's own files. */
function privateReason(rel: string): string | null {
  const top = rel.split("/")[0];
  if (top === ".git") return `${rel} is inside .git, which is protected`;
  if (top === ".ratchet") {
    return `${rel} is inside .ratchet, ratchet's own state`;
  }
  return null;
}

class SandboxWorkspace implements Workspace {
  readonly policy: ProtectionPolicy;
  readonly #sandbox: Sandbox;
  readonly #owner: Ident;

  constructor(sandbox: Sandbox, policy: ProtectionPolicy, owner: Ident) {
    this.#sandbox = sandbox;
    this.policy = policy;
    this.#owner = owner;
  }

  /**
   * Walk `rel` from /work one component at a time, replacing each symlink
   * with where the engine says it leads, and fail as soon as the walk leaves
   * /work. Returns the final path, what is there, and the deepest existing
   * directory on the way (where new directories would start).
   */
  async #walk(
    rel: string,
    display: string,
  ): Promise<{ target: string; stat: PathStat | null }> {
    const pending = components(rel);
    let current = MODEL_ROOT;
    let stat: PathStat | null = await this.#sandbox.stat(current);
    let hops = 0;
    let missing = false;
    // The last symlink followed, named in the message when the walk escapes.
    let via = "";
    const outside = () =>
      new WorkspaceError(
        `Refused: ${display} resolves outside ${MODEL_ROOT}${via}. Paths, including symlink targets, must stay inside the tree.`,
      );
    while (pending.length > 0) {
      const part = pending.shift()!;
      if (part === "..") {
        if (current === MODEL_ROOT) throw outside();
        current = current.slice(0, current.lastIndexOf("/"));
        stat = await this.#sandbox.stat(current);
        continue;
      }
      const next = `${current}/${part}`;
      // Once a component is missing, the rest will be created as plain
      // directories and a file; nothing below it can be a symlink yet.
      const nextStat = missing ? null : await this.#sandbox.stat(next);
      if (nextStat === null) missing = true;
      if (nextStat?.kind === "symlink") {
        if (++hops > MAX_SYMLINK_HOPS) {
          throw new WorkspaceError(
            `${display} has too many levels of symlinks.`,
          );
        }
        const target = nextStat.linkTarget;
        via = ` (through the symlink ${next} -> ${target})`;
        if (!target.startsWith("/") || !isInsideRoot(normalizeAbs(target))) {
          throw outside();
        }
        current = MODEL_ROOT;
        pending.unshift(...components(relOf(normalizeAbs(target))));
        continue;
      }
      current = next;
      stat = nextStat;
    }
    return { target: current, stat };
  }

  async resolve(path: string, access: Access): Promise<ResolvedPath> {
    const rel = modelPathToRel(path);
    const display = toModelPath(rel);
    const privateRel = privateReason(rel);
    if (privateRel !== null) {
      throw new WorkspaceError(`Refused: ${privateRel}.`);
    }
    let walked;
    try {
      walked = await this.#walk(rel, display);
    } catch (error) {
      if (error instanceof WorkspaceError) throw error;
      throw new WorkspaceError(
        `Cannot resolve ${display}: ${(error as Error).message}`,
      );
    }
    const realRel = relOf(walked.target);
    const privateReal = privateReason(realRel);
    if (privateReal !== null) {
      throw new WorkspaceError(
        `Refused: ${display} resolves to ${
          toModelPath(realRel)
        }; ${privateReal}.`,
      );
    }
    if (access === "write") {
      if (rel === "" || realRel === "") {
        throw new WorkspaceError(
          `Refused: ${display} is the root of the tree, not a file.`,
        );
      }
      for (const candidate of new Set([rel, realRel])) {
        const reason = protectedReason(candidate, this.policy);
        if (reason !== null) {
          throw new WorkspaceError(
            `Refused: ${
              candidate === rel
                ? display
                : `${display} resolves to ${toModelPath(realRel)}; that path`
            } is protected: ${reason}. Change the code under optimization, never the evaluation harness.`,
          );
        }
      }
    }
    const kind = walked.stat === null
      ? "missing"
      : walked.stat.kind === "file"
      ? "file"
      : walked.stat.kind === "dir"
      ? "directory"
      : "other";
    return { rel, realRel, target: walked.target, display, kind };
  }

  async readText(
    path: string,
  ): Promise<{ resolved: ResolvedPath; text: string }> {
    const resolved = await this.resolve(path, "read");
    if (resolved.kind === "missing") {
      throw new WorkspaceError(`${resolved.display} does not exist.`);
    }
    if (resolved.kind !== "file") {
      throw new WorkspaceError(`${resolved.display} is not a regular file.`);
    }
    const got = await this.#sandbox.readFile(resolved.target, MAX_READ_BYTES);
    if (got.kind !== "file") {
      throw new WorkspaceError(`${resolved.display} is not a regular file.`);
    }
    if (got.truncated) {
      throw new WorkspaceError(
        `${resolved.display} is larger than ${MAX_READ_BYTES} bytes, too large for the editor; use bash (head, sed -n, grep) to read parts of it.`,
      );
    }
    try {
      return {
        resolved,
        text: new TextDecoder("utf-8", { fatal: true }).decode(got.bytes),
      };
    } catch {
      throw new WorkspaceError(
        `${resolved.display} is not UTF-8 text (binary file?).`,
      );
    }
  }

  async writeText(path: string, text: string): Promise<ResolvedPath> {
    const resolved = await this.resolve(path, "write");
    if (resolved.kind === "directory") {
      throw new WorkspaceError(`${resolved.display} is a directory.`);
    }
    if (resolved.kind === "other") {
      throw new WorkspaceError(`${resolved.display} is not a regular file.`);
    }
    const parts = components(resolved.realRel);
    // The deepest directory that exists; the missing ones are made by the
    // archive, owned like the rest of the model's files.
    let base = MODEL_ROOT;
    let i = 0;
    for (; i < parts.length - 1; i++) {
      const next = `${base}/${parts[i]}`;
      const stat = await this.#sandbox.stat(next);
      if (stat === null) break;
      if (stat.kind !== "dir") {
        throw new WorkspaceError(
          `Cannot write ${resolved.display}: ${
            toModelPath(relOf(next))
          } is not a directory.`,
        );
      }
      base = next;
    }
    const existing = resolved.kind === "file"
      ? await this.#sandbox.stat(resolved.target)
      : null;
    const owner = { uid: this.#owner.uid, gid: this.#owner.gid };
    const entries: PutEntry[] = [];
    for (let j = i; j < parts.length - 1; j++) {
      entries.push({
        path: parts.slice(i, j + 1).join("/"),
        kind: "dir",
        mode: 0o755,
        ...owner,
      });
    }
    entries.push({
      path: parts.slice(i).join("/"),
      kind: "file",
      // An existing file keeps its mode (an executable stays one).
      mode: existing === null ? 0o644 : existing.mode,
      ...owner,
      data: new TextEncoder().encode(text),
    });
    try {
      await this.#sandbox.put(base, entries);
    } catch (error) {
      throw new WorkspaceError(
        `Cannot write ${resolved.display}: ${(error as Error).message}`,
      );
    }
    return resolved;
  }

  async list(
    path: string,
    depth: number,
  ): Promise<
    { resolved: ResolvedPath; entries: string[]; truncated: boolean }
  > {
    const resolved = await this.resolve(path, "read");
    if (resolved.kind !== "directory") {
      throw new WorkspaceError(`${resolved.display} is not a directory.`);
    }
    const listed = await this.#sandbox.list(resolved.target, {
      depth,
      maxEntries: MAX_LIST_ENTRIES,
    });
    const entries = listed.entries.flatMap((e) => {
      const rel = resolved.realRel === ""
        ? e.path
        : `${resolved.realRel}/${e.path}`;
      if (privateReason(rel) !== null) return [];
      return [
        e.kind === "symlink"
          ? `${toModelPath(rel)} -> ${e.linkTarget}`
          : e.kind === "dir"
          ? `${toModelPath(rel)}/`
          : toModelPath(rel),
      ];
    });
    const truncated = listed.truncated;
    return { resolved, entries, truncated };
  }
}

/** An absolute posix path without `.`, `..` or repeated slashes. */
function normalizeAbs(path: string): string {
  const out: string[] = [];
  for (const part of components(path)) {
    if (part === "..") out.pop();
    else out.push(part);
  }
  return `/${out.join("/")}`;
}

/**
 * The editor tool's view of `sandbox`'s working copy under `policy`; files it
 * creates belong to `owner` (the trial user).
 */
export function openWorkspace(
  sandbox: Sandbox,
  policy: ProtectionPolicy,
  owner: Ident,
): Workspace {
  return new SandboxWorkspace(sandbox, policy, owner);
}

/**
 * A listing of the tree for the stable part of the prompt: up to three levels,
 * read-only paths marked. Built once per run from the start tree's paths
 * (`git ls-tree`), so the cached prefix stays byte-identical across
 * iterations.
 */
export function repoOverview(
  paths: readonly { path: string; kind: "file" | "dir" | "symlink" }[],
  policy: ProtectionPolicy,
  maxEntries = 300,
): string {
  const shown = paths.filter((p) => p.path.split("/").length <= 3)
    .map((p) => ({ ...p, parts: p.path.split("/") }))
    .sort((a, b) => {
      for (let k = 0; k < Math.min(a.parts.length, b.parts.length); k++) {
        if (a.parts[k] !== b.parts[k]) {
          return a.parts[k]! < b.parts[k]! ? -1 : 1;
        }
      }
      return a.parts.length - b.parts.length;
    });
  const lines = shown.slice(0, maxEntries).map((p) => {
    const entry = toModelPath(p.path) + (p.kind === "dir" ? "/" : "");
    return protectedReason(p.path, policy) === null
      ? entry
      : `${entry}  (read-only)`;
  });
  if (shown.length > maxEntries) {
    lines.push(
      `… ${
        shown.length - maxEntries
      } more entries (view a directory to see them)`,
    );
  }
  return lines.join("\n");
}
