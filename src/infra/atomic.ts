/**
 * Crash-safe file primitives for `.ratchet/`: whole-file replacement that is
 * either old or new after a crash (never torn), and line appends that are on
 * disk before the call returns.
 *
 * Temp files are named `.<name>.<pid>.<hex>.tmp` beside their target so the
 * final rename stays within one filesystem, and so `removeStaleTemps` can tell
 * a dead writer's leftovers from a live writer's work in progress.
 */

import { randomHex } from "./random.ts";
import { basename, dirname, join } from "node:path";
import { type FaultHook, noFault } from "./fault.ts";

const encoder = new TextEncoder();
const TEMP_NAME = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/;

/** An open file, as the durable writes use it. */
export interface DurableFile {
  write(data: Uint8Array): Promise<number>;
  sync(): Promise<void>;
  close(): void;
}

/**
 * The file-system calls the durable writes make, in one port so a test can
 * record their order (write, fsync, rename, fsync of the directory): a
 * dropped fsync leaves the content right until a power loss, which no test
 * of the content alone can see.
 */
export interface DurableFs {
  open(path: string, options: Deno.OpenOptions): Promise<DurableFile>;
  rename(from: string, to: string): Promise<void>;
  remove(path: string): Promise<void>;
}

/** The real file system. */
export const denoFs: DurableFs = {
  open: (path, options) => Deno.open(path, options),
  rename: (from, to) => Deno.rename(from, to),
  remove: (path) => Deno.remove(path),
};

/** Options of the durable writes: the fault hook and the prefix of their point names. */
export interface DurableWriteOptions {
  fault?: FaultHook;
  /** The file system; default `denoFs`. */
  fs?: DurableFs;
  /**
   * Prefix of the fault points, e.g. `config.write` gives
   * `config.write.before-rename` and `config.write.after-rename`. Without a
   * prefix the hook is not called.
   */
  point?: string;
}

/** A fresh temp path beside `path`, tagged with this process's PID. */
export function tempPathFor(path: string): string {
  return join(
    dirname(path),
    `.${basename(path)}.${Deno.pid}.${randomHex(4)}.tmp`,
  );
}

/**
 * Remove temp files in `dir` left by writers that are no longer alive (a
 * crash between writing a temp file and renaming it). Temps of live
 * processes are left alone: they may be mid-write. Returns the removed names.
 */
export async function removeStaleTemps(
  dir: string,
  isAlive: (pid: number) => boolean,
): Promise<string[]> {
  const removed: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return removed;
    throw error;
  }
  for (const entry of entries) {
    const m = TEMP_NAME.exec(entry.name);
    if (m === null || !entry.isFile) continue;
    const pid = Number(m[1]);
    if (pid === Deno.pid || isAlive(pid)) continue;
    try {
      await Deno.remove(join(dir, entry.name));
      removed.push(entry.name);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return removed;
}

/** Write every byte (a single `write` may be partial). */
export async function writeAll(
  file: Pick<DurableFile, "write">,
  data: Uint8Array,
): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    offset += await file.write(data.subarray(offset));
  }
}

/**
 * fsync a directory so a rename, creation or removal inside it survives a
 * power loss, not only a process crash.
 */
export async function fsyncDir(
  dir: string,
  fs: DurableFs = denoFs,
): Promise<void> {
  const handle = await fs.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === "string" ? encoder.encode(data) : data;
}

/**
 * Replace `path` with `data` atomically: write a temp file in the same
 * directory, fsync it, rename it over the target, fsync the directory. A
 * crash at any moment leaves either the old content or the new, never a mix.
 * Fault points: `<point>.before-rename`, `<point>.after-rename`.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: DurableWriteOptions = {},
): Promise<void> {
  const fault = options.fault ?? noFault;
  const fs = options.fs ?? denoFs;
  const hit = (suffix: string) => {
    if (options.point !== undefined) fault(`${options.point}.${suffix}`);
  };
  const temp = tempPathFor(path);
  let renamed = false;
  try {
    const file = await fs.open(temp, {
      write: true,
      createNew: true,
      mode: 0o644,
    });
    try {
      await writeAll(file, toBytes(data));
      await file.sync();
    } finally {
      file.close();
    }
    hit("before-rename");
    await fs.rename(temp, path);
    renamed = true;
    hit("after-rename");
    await fsyncDir(dirname(path), fs);
  } finally {
    if (!renamed) await fs.remove(temp).catch(() => {});
  }
}

/** Fault points of `appendLineDurable`, each optional. */
export interface AppendPoints {
  /**
   * Reached after the first half of the line is written: firing here leaves
   * a torn last line, as a power loss mid-write would. Giving this point
   * splits the write in two, so give it only for files with a single writer.
   */
  midLine?: string;
  beforeFsync?: string;
  afterFsync?: string;
}

/**
 * Append `line` plus a newline to `path` (created if missing) and fsync
 * before returning. The line must not contain a newline: one call, one line.
 */
export async function appendLineDurable(
  path: string,
  line: string,
  options: { fault?: FaultHook; points?: AppendPoints; fs?: DurableFs } = {},
): Promise<void> {
  if (line.includes("\n")) {
    throw new RangeError(
      `appendLineDurable: the line for ${path} contains a newline`,
    );
  }
  const fault = options.fault ?? noFault;
  const points = options.points ?? {};
  const fs = options.fs ?? denoFs;
  let created = false;
  let file: DurableFile;
  try {
    file = await fs.open(path, { append: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    file = await fs.open(path, { append: true, create: true, mode: 0o644 });
    created = true;
  }
  try {
    const bytes = encoder.encode(line + "\n");
    if (points.midLine !== undefined) {
      const half = Math.floor(bytes.length / 2);
      await writeAll(file, bytes.subarray(0, half));
      fault(points.midLine);
      await writeAll(file, bytes.subarray(half));
    } else {
      await writeAll(file, bytes);
    }
    if (points.beforeFsync !== undefined) fault(points.beforeFsync);
    await file.sync();
    if (points.afterFsync !== undefined) fault(points.afterFsync);
  } finally {
    file.close();
  }
  // A new file's directory entry is not durable until the directory is.
  if (created) await fsyncDir(dirname(path), fs);
}
