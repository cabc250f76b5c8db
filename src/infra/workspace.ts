/**
 * Host-side file operations for the model's editor tool, confined to the
 * run's worktree.
 *
 * The model names paths as the sandbox shows them: rooted at `/work`, or
 * relative to `/work`. Every path is resolved here component by component,
 * following each symlink by hand (the way `realpath` does), and refused when
 * it leaves the tree at any step, names `.git` or `.ratchet`, or (for writes)
 * is protected by the run's ProtectionPolicy. Because a symlink can be made by
 * the model's own `bash` calls, nothing here ever hands a model-controlled
 * path to the file system without that walk.
 *
 * What the walk alone cannot close is a race: a process the model left
 * running in the sandbox could swap a directory for a symlink between the
 * walk and the open, and the host would then read or write a file outside
 * the tree (tests/e2e/security_host_test.ts shows it happening). The
 * sandbox is therefore frozen (`docker pause`) whenever no `bash` command is
 * running (container.ts, DockerSandbox), so nothing in it runs while a tool
 * call here is in progress; tool calls run one at a time.
 */
import { join } from "node:path";
import {
  normalizeRelPath,
  protectedReason,
  type ProtectionPolicy,
} from "../core/protect.ts";

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
  /** Absolute host path after following symlinks: the one to open. */
  host: string;
  /** The path as the model should see it in messages: `/work/…`. */
  display: string;
  /** What is there: a file, a directory, or nothing yet. */
  kind: "file" | "directory" | "missing" | "other";
}

/** File operations confined to one worktree. */
export interface Workspace {
  /** Real (symlink-free) host path of the worktree. */
  readonly root: string;
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

/** Components of an absolute posix path. */
function components(path: string): string[] {
  return path.split("/").filter((c) => c !== "" && c !== ".");
}

function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(`${root}/`);
}

function relTo(root: string, path: string): string {
  return path === root ? "" : path.slice(root.length + 1);
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

async function lstatOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    // A component that is a file with more after it ("a.txt/b") cannot exist.
    if (error instanceof Deno.errors.NotADirectory) return null;
    throw error;
  }
}

class HostWorkspace implements Workspace {
  readonly root: string;
  readonly policy: ProtectionPolicy;

  constructor(root: string, policy: ProtectionPolicy) {
    this.root = root;
    this.policy = policy;
  }

  /**
   * Walk `rel` from the root one component at a time, replacing each symlink
   * with its target, and fail as soon as the walk leaves the tree.
   */
  async #walk(
    rel: string,
    display: string,
  ): Promise<{ host: string; info: Deno.FileInfo | null }> {
    const pending = components(rel);
    let current = this.root;
    let info: Deno.FileInfo | null = await lstatOrNull(current);
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
        if (current === this.root) throw outside();
        current = current.slice(0, current.lastIndexOf("/"));
        info = await lstatOrNull(current);
        continue;
      }
      const next = `${current}/${part}`;
      // Once a component is missing, the rest will be created as plain
      // directories and a file; nothing below it can be a symlink yet.
      const nextInfo = missing ? null : await lstatOrNull(next);
      if (nextInfo === null) missing = true;
      if (nextInfo?.isSymlink) {
        if (++hops > MAX_SYMLINK_HOPS) {
          throw new WorkspaceError(
            `${display} has too many levels of symlinks.`,
          );
        }
        const target = await Deno.readLink(next);
        via = ` (through the symlink ${
          toModelPath(relTo(this.root, next))
        } -> ${target})`;
        if (target.startsWith("/")) {
          // An absolute target is a host path. `/work/x` written inside the
          // sandbox names some other host file, so it is judged as written.
          const absolute = `/${normalizeRelPath(target)}`;
          if (!isInside(this.root, absolute)) throw outside();
          current = this.root;
          pending.unshift(...components(relTo(this.root, absolute)));
        } else {
          pending.unshift(...components(target));
        }
        continue;
      }
      current = next;
      info = nextInfo;
    }
    return { host: current, info };
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
    const realRel = relTo(this.root, walked.host);
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
    const info = walked.info;
    const kind = info === null
      ? "missing"
      : info.isFile
      ? "file"
      : info.isDirectory
      ? "directory"
      : "other";
    return { rel, realRel, host: walked.host, display, kind };
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
    const info = await Deno.stat(resolved.host);
    if (info.size > MAX_READ_BYTES) {
      throw new WorkspaceError(
        `${resolved.display} is ${info.size} bytes, too large for the editor (limit ${MAX_READ_BYTES}); use bash (head, sed -n, grep) to read parts of it.`,
      );
    }
    const bytes = await Deno.readFile(resolved.host);
    try {
      return {
        resolved,
        text: new TextDecoder("utf-8", { fatal: true }).decode(bytes),
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
    try {
      await Deno.mkdir(join(resolved.host, ".."), { recursive: true });
      await Deno.writeTextFile(resolved.host, text);
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
    const entries: string[] = [];
    let truncated = false;
    const visit = async (
      host: string,
      rel: string,
      level: number,
    ): Promise<void> => {
      const children: Deno.DirEntry[] = [];
      for await (const entry of Deno.readDir(host)) children.push(entry);
      // Plain code-point order: the overview must not depend on the locale.
      children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const child of children) {
        const childRel = rel === "" ? child.name : `${rel}/${child.name}`;
        if (child.name === ".git" || privateReason(childRel) !== null) continue;
        if (entries.length >= MAX_LIST_ENTRIES) {
          truncated = true;
          return;
        }
        const shown = toModelPath(childRel);
        if (child.isSymlink) {
          // Listed, never followed: where it points is for resolve() to judge.
          entries.push(
            `${shown} -> ${await Deno.readLink(join(host, child.name))}`,
          );
        } else if (child.isDirectory) {
          entries.push(`${shown}/`);
          if (level < depth) {
            await visit(join(host, child.name), childRel, level + 1);
          }
        } else {
          entries.push(shown);
        }
      }
    };
    await visit(resolved.host, resolved.realRel, 1);
    return { resolved, entries, truncated };
  }
}

/** Open the worktree at `root` (resolved to its real path) under `policy`. */
export async function openWorkspace(
  root: string,
  policy: ProtectionPolicy,
): Promise<Workspace> {
  return new HostWorkspace(await Deno.realPath(root), policy);
}

/**
 * A listing of the tree for the stable part of the prompt: up to three levels,
 * read-only paths marked. Built once per run so the cached prefix stays
 * byte-identical across iterations.
 */
export async function repoOverview(
  workspace: Workspace,
  maxEntries = 300,
): Promise<string> {
  const { entries } = await workspace.list(MODEL_ROOT, 3);
  const lines = entries.slice(0, maxEntries).map((entry) => {
    const rel = entry.replace(/ -> .*$/, "").replace(/\/$/, "").slice(
      MODEL_ROOT.length + 1,
    );
    return protectedReason(rel, workspace.policy) === null
      ? entry
      : `${entry}  (read-only)`;
  });
  if (entries.length > maxEntries) {
    lines.push(
      `… ${
        entries.length - maxEntries
      } more entries (view a directory to see them)`,
    );
  }
  return lines.join("\n");
}
