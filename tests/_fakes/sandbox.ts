/**
 * An in-memory `Sandbox` for unit tests of the editor tool and the sync back
 * into the worktree. It answers the way Docker's Engine API does where the
 * code under test depends on it:
 * - `stat` never follows the final component but follows symlinks on the
 *   way, and a symlink's `linkTarget` is where it leads, absolute and with
 *   every link followed inside the container's root (Docker's
 *   `X-Docker-Container-Path-Stat`); a link loop is an error, as it is there;
 * - `put` extracts like the engine (as root: modes are not enforced; a
 *   missing parent is made; an existing entry is replaced, a directory
 *   merged);
 * - `changes` lists the filesystem against the image the sandbox started
 *   from (the tree given to the constructor), like `/containers/{id}/changes`
 *   on overlayfs: added and deleted paths, and modified ones with every
 *   directory above a change;
 * - `read` yields a directory as an archive would, the directory itself
 *   first (path ""), then its entries depth first in name order.
 * `exec` runs only the `readlink` loop of `infra/sync_back.ts`, with a real
 * `sh` and a `readlink` that answers from this filesystem; anything else is
 * refused.
 */
import type {
  ArchiveEntry,
  Collected,
  ExecResult,
  FsChange,
  ListedEntry,
  PathStat,
  PutEntry,
  Sandbox,
} from "../../src/infra/runtime.ts";

/** A node of the fake filesystem. */
export type FakeNode =
  | { kind: "file"; data: Uint8Array; mode: number; uid: number; gid: number }
  | { kind: "dir"; mode: number; uid: number; gid: number }
  | { kind: "symlink"; target: string; uid: number; gid: number }
  | { kind: "fifo"; mode: number; uid: number; gid: number };

/** How a test describes an entry under `/work`. */
export type FakeSpec =
  | string
  | Uint8Array
  | { file: string | Uint8Array; mode?: number; uid?: number; gid?: number }
  | { dir: true; mode?: number; uid?: number; gid?: number }
  | { symlink: string }
  | { fifo: true };

/** Where the working copy is. */
export const WORK = "/work";

const encoder = new TextEncoder();
const MAX_LINKS = 40;

function components(path: string): string[] {
  return path.split("/").filter((c) => c !== "" && c !== ".");
}

/** Lexically cleaned absolute path (as the engine's filepath.Join does). */
export function cleanAbs(path: string): string {
  const out: string[] = [];
  for (const part of components(path)) {
    if (part === "..") out.pop();
    else out.push(part);
  }
  return `/${out.join("/")}`;
}

function parentOf(abs: string): string {
  const i = abs.lastIndexOf("/");
  return i <= 0 ? "/" : abs.slice(0, i);
}

function baseOf(abs: string): string {
  return abs.slice(abs.lastIndexOf("/") + 1);
}

function join(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameNode(a: FakeNode, b: FakeNode): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === "file" && b.kind === "file") {
    return a.mode === b.mode && sameBytes(a.data, b.data);
  }
  if (a.kind === "symlink" && b.kind === "symlink") {
    return a.target === b.target;
  }
  return true;
}

/** A POSIX-sh single-quoted word. */
function quote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The command `infra/sync_back.ts` runs to read symlink targets. */
const READLINK_LOOP =
  /^for f in ((?:'(?:[^']|'\\'')*' ?)+); do t=\$\(readlink -- "\$f"; printf \.\) \|\| exit 1; printf '%s\\0' "\$t"; done$/;

/** Options of the fake. */
export interface FakeSandboxOptions {
  /** Owner of the entries the constructor makes (default 1000:1000). */
  owner?: { uid: number; gid: number };
}

/** The fake. Build it with the tree under /work its image holds. */
export class FakeSandbox implements Sandbox {
  readonly id = "fake-sandbox";
  readonly nodes = new Map<string, FakeNode>();
  /** Every `put` call, in order. */
  readonly puts: { dir: string; entries: PutEntry[] }[] = [];
  /** Every command run. */
  readonly commands: string[] = [];
  #image = new Map<string, FakeNode>();
  #closed = false;
  readonly #owner: { uid: number; gid: number };

  constructor(
    tree: Record<string, FakeSpec> = {},
    options: FakeSandboxOptions = {},
  ) {
    this.#owner = options.owner ?? { uid: 1000, gid: 1000 };
    this.nodes.set("/", { kind: "dir", mode: 0o755, uid: 0, gid: 0 });
    this.nodes.set(WORK, { kind: "dir", mode: 0o755, ...this.#owner });
    for (const [rel, spec] of Object.entries(tree)) this.set(rel, spec);
    this.#image = new Map(
      [...this.nodes].map(([k, v]) => [k, structuredClone(v)]),
    );
  }

  /** Make `rel` (under /work) what `spec` says, parents included: what a command in the sandbox would do. */
  set(rel: string, spec: FakeSpec): void {
    const abs = cleanAbs(`${WORK}/${rel}`);
    this.#mkdirs(parentOf(abs), this.#owner);
    this.#removeTree(abs);
    const own = this.#owner;
    if (typeof spec === "string" || spec instanceof Uint8Array) {
      const data = typeof spec === "string" ? encoder.encode(spec) : spec;
      this.nodes.set(abs, { kind: "file", data, mode: 0o644, ...own });
    } else if ("file" in spec) {
      const data = typeof spec.file === "string"
        ? encoder.encode(spec.file)
        : spec.file;
      this.nodes.set(abs, {
        kind: "file",
        data,
        mode: spec.mode ?? 0o644,
        uid: spec.uid ?? own.uid,
        gid: spec.gid ?? own.gid,
      });
    } else if ("dir" in spec) {
      this.nodes.set(abs, {
        kind: "dir",
        mode: spec.mode ?? 0o755,
        uid: spec.uid ?? own.uid,
        gid: spec.gid ?? own.gid,
      });
    } else if ("symlink" in spec) {
      this.nodes.set(abs, { kind: "symlink", target: spec.symlink, ...own });
    } else {
      this.nodes.set(abs, { kind: "fifo", mode: 0o644, ...own });
    }
  }

  /** Remove `rel` (under /work) and everything below it. */
  remove(rel: string): void {
    this.#removeTree(cleanAbs(`${WORK}/${rel}`));
  }

  /** The text of the file at `rel` (under /work), or null when it is not a file. */
  text(rel: string): string | null {
    const node = this.nodes.get(cleanAbs(`${WORK}/${rel}`));
    return node?.kind === "file" ? new TextDecoder().decode(node.data) : null;
  }

  #mkdirs(abs: string, owner: { uid: number; gid: number }): void {
    let current = "/";
    for (const part of components(abs)) {
      current = join(current, part);
      const node = this.nodes.get(current);
      if (node?.kind === "dir") continue;
      if (node !== undefined) this.#removeTree(current);
      this.nodes.set(current, { kind: "dir", mode: 0o755, ...owner });
    }
  }

  #removeTree(abs: string): void {
    for (const key of [...this.nodes.keys()]) {
      if (key === abs || key.startsWith(`${abs}/`)) this.nodes.delete(key);
    }
  }

  #check(): void {
    if (this.#closed) throw new Error("fake sandbox: closed");
  }

  /**
   * Resolve `path` inside the container's root, following every symlink on
   * the way (and the final one when `final`); `..` never climbs above "/".
   */
  #resolve(path: string, final: boolean): string {
    const pending = components(cleanAbs(path));
    let current = "/";
    let links = 0;
    while (pending.length > 0) {
      const part = pending.shift()!;
      if (part === "..") {
        current = parentOf(current);
        continue;
      }
      const next = join(current, part);
      const node = this.nodes.get(next);
      if (node?.kind === "symlink" && (pending.length > 0 || final)) {
        if (++links > MAX_LINKS) {
          throw new Error(`EvalSymlinks: too many links in ${path}`);
        }
        if (node.target.startsWith("/")) current = "/";
        pending.unshift(...components(node.target));
        continue;
      }
      current = next;
    }
    return current;
  }

  /** The path with its directory resolved and its last component not followed. */
  #locate(path: string): string {
    const abs = cleanAbs(path);
    if (abs === "/") return "/";
    return join(this.#resolve(parentOf(abs), true), baseOf(abs));
  }

  stat(path: string): Promise<PathStat | null> {
    this.#check();
    try {
      const at = this.#locate(path);
      const node = this.nodes.get(at);
      if (node === undefined) return Promise.resolve(null);
      if (node.kind === "symlink") {
        return Promise.resolve({
          kind: "symlink",
          size: encoder.encode(node.target).length,
          mode: 0o777,
          linkTarget: this.#resolve(at, true),
        });
      }
      return Promise.resolve({
        kind: node.kind === "fifo" ? "other" : node.kind,
        size: node.kind === "file"
          ? node.data.length
          : node.kind === "dir"
          ? 4096
          : 0,
        mode: node.mode & 0o777,
        linkTarget: "",
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async readFile(path: string, maxBytes: number): Promise<Collected> {
    const stat = await this.stat(path);
    if (stat === null) return { kind: "missing" };
    if (stat.kind !== "file") return { kind: "other", type: stat.kind };
    const node = this.nodes.get(this.#locate(path));
    if (node?.kind !== "file") return { kind: "missing" };
    return {
      kind: "file",
      bytes: node.data.slice(0, maxBytes),
      truncated: node.data.length > maxBytes,
    };
  }

  put(dir: string, entries: readonly PutEntry[]): Promise<void> {
    this.#check();
    this.puts.push({ dir, entries: structuredClone([...entries]) });
    const base = this.#resolve(dir, true);
    if (this.nodes.get(base)?.kind !== "dir") {
      return Promise.reject(
        new Error(`Could not find the file ${dir} in container`),
      );
    }
    for (const e of entries) {
      const rel = cleanAbs(e.path).slice(1);
      if (rel === "" || rel.split("/").includes("..")) {
        return Promise.reject(new Error(`invalid archive entry ${e.path}`));
      }
      const at = this.#locate(join(base, rel));
      this.#mkdirs(parentOf(at), { uid: 0, gid: 0 });
      const existing = this.nodes.get(at);
      const own = { uid: e.uid, gid: e.gid };
      if (e.kind === "dir") {
        if (existing?.kind !== "dir") this.#removeTree(at);
        this.nodes.set(at, { kind: "dir", mode: e.mode, ...own });
        continue;
      }
      this.#removeTree(at);
      this.nodes.set(
        at,
        e.kind === "file"
          ? {
            kind: "file",
            data: e.data ?? new Uint8Array(),
            mode: e.mode,
            ...own,
          }
          : { kind: "symlink", target: e.linkTarget ?? "", ...own },
      );
    }
    return Promise.resolve();
  }

  #children(dir: string): string[] {
    const prefix = dir === "/" ? "/" : `${dir}/`;
    return [...this.nodes.keys()]
      .filter((k) =>
        k !== dir && k.startsWith(prefix) &&
        !k.slice(prefix.length).includes("/")
      )
      .map((k) => k.slice(prefix.length))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  list(
    path: string,
    options: { depth: number; maxEntries: number },
  ): Promise<{ entries: ListedEntry[]; truncated: boolean }> {
    this.#check();
    const dir = this.#resolve(path, true);
    const entries: ListedEntry[] = [];
    const walk = (abs: string, rel: string, depth: number) => {
      for (const name of this.#children(abs)) {
        const node = this.nodes.get(join(abs, name))!;
        const sub = rel === "" ? name : `${rel}/${name}`;
        if (node.kind === "symlink") {
          entries.push({ path: sub, kind: "symlink", linkTarget: node.target });
        } else if (node.kind === "dir") {
          entries.push({ path: sub, kind: "dir", linkTarget: "" });
          if (depth > 1) walk(join(abs, name), sub, depth - 1);
        } else {
          entries.push({ path: sub, kind: "file", linkTarget: "" });
        }
      }
    };
    if (this.nodes.get(dir)?.kind === "dir") walk(dir, "", options.depth);
    return Promise.resolve({
      entries: entries.slice(0, options.maxEntries),
      truncated: entries.length > options.maxEntries,
    });
  }

  changes(): Promise<FsChange[]> {
    this.#check();
    const out = new Map<string, FsChange["kind"]>();
    const touch = (abs: string) => {
      for (let p = parentOf(abs); p !== "/"; p = parentOf(p)) {
        if (!out.has(p)) out.set(p, "modified");
      }
    };
    for (const [path, node] of this.nodes) {
      if (path === "/") continue;
      const was = this.#image.get(path);
      if (was === undefined) out.set(path, "added");
      else if (!sameNode(was, node)) out.set(path, "modified");
      else continue;
      touch(path);
    }
    for (const path of this.#image.keys()) {
      if (this.nodes.has(path)) continue;
      // A deleted directory is one whiteout: what was below it is not listed.
      const parent = parentOf(path);
      if (!this.nodes.has(parent) && this.#image.has(parent)) continue;
      out.set(path, "deleted");
      touch(path);
    }
    return Promise.resolve(
      [...out].sort(([a], [b]) => (a < b ? -1 : 1)).map(([path, kind]) => ({
        path,
        kind,
      })),
    );
  }

  async *read(
    path: string,
    options: { maxFileBytes: number },
  ): AsyncGenerator<ArchiveEntry> {
    this.#check();
    const top = this.#locate(path);
    const entry = (abs: string, rel: string): ArchiveEntry => {
      const node = this.nodes.get(abs)!;
      if (node.kind === "file") {
        const over = node.data.length > options.maxFileBytes;
        return {
          path: rel,
          kind: "file",
          mode: node.mode,
          size: node.data.length,
          linkTarget: "",
          data: over ? null : node.data.slice(),
        };
      }
      if (node.kind === "symlink") {
        return {
          path: rel,
          kind: "symlink",
          mode: 0o777,
          size: 0,
          linkTarget: node.target,
          data: null,
        };
      }
      return {
        path: rel,
        kind: node.kind === "dir" ? "dir" : "other",
        mode: node.mode,
        size: 0,
        linkTarget: "",
        data: null,
      };
    };
    if (!this.nodes.has(top)) return;
    const walk = function* (
      self: FakeSandbox,
      abs: string,
      rel: string,
    ): Generator<ArchiveEntry> {
      yield entry(abs, rel);
      if (self.nodes.get(abs)?.kind !== "dir") return;
      for (const name of self.#children(abs)) {
        yield* walk(
          self,
          join(abs, name),
          rel === "" ? name : `${rel}/${name}`,
        );
      }
    };
    yield* walk(this, top, "");
  }

  async exec(
    command: string,
    _options: { timeoutMs: number; outputCapBytes?: number },
  ): Promise<ExecResult> {
    this.#check();
    this.commands.push(command);
    if (!READLINK_LOOP.test(command)) {
      throw new Error(`fake sandbox: cannot run ${command.slice(0, 80)}`);
    }
    // `readlink -- PATH` as the sandbox would answer it.
    const cases = [...this.nodes].flatMap(([path, node]) =>
      node.kind === "symlink"
        ? [`${quote(path)}) printf '%s\\n' ${quote(node.target)} ;;`]
        : []
    );
    const prelude = `readlink() { case "$2" in ${
      cases.join(" ")
    } *) return 1 ;; esac; }\n`;
    // The command travels as one argument, as the engine's exec passes it.
    const preludeFile = await Deno.makeTempFile({ prefix: "fake-sandbox-" });
    let out: Deno.CommandOutput;
    try {
      await Deno.writeTextFile(preludeFile, prelude);
      out = await new Deno.Command("sh", {
        args: ["-c", '. "$1" && eval "$2"', "sh", preludeFile, command],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
    } catch (error) {
      // An argument over the kernel's limit (E2BIG) fails the engine's exec
      // too: nothing runs, nothing is printed.
      return {
        exitCode: 126,
        stdout: "",
        stderr: `exec failed: ${(error as Error).message}\n`,
        timedOut: false,
        truncated: false,
      };
    } finally {
      await Deno.remove(preludeFile);
    }
    const decoder = new TextDecoder();
    return {
      exitCode: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
      timedOut: false,
      truncated: false,
    };
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
