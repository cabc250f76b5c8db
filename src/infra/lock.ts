/**
 * The run lock (spec section 4): one run per repository at a time. The lock
 * is a file holding the PID of the live run. A lock naming a dead PID is
 * stale (the run crashed or the machine rebooted) and is taken over; a live
 * one refuses with exit 3.
 *
 * Creation is atomic and never exposes an empty lock: the PID is written and
 * fsynced to a temp file first, which is then hard-linked to the lock path
 * (`link` fails with EEXIST when the lock exists, like O_EXCL, but readers
 * can never see a lock file that does not name its PID yet).
 */

import process from "node:process";
import { dirname } from "node:path";
import { EnvironmentError } from "../errors.ts";
import { fsyncDir, tempPathFor, writeAll } from "./atomic.ts";
import { type FaultHook, noFault } from "./fault.ts";

/** A held run lock. Release it (or `await using` it) when the run ends. */
export interface RunLock extends AsyncDisposable {
  readonly path: string;
  readonly pid: number;
  /** Remove the lock if it is still ours; safe to call more than once. */
  release(): Promise<void>;
}

/** Options of `acquireLock`. */
export interface AcquireLockOptions {
  /** PID written into the lock: the run's process. */
  pid: number;
  /** Liveness check; default `isPidAlive`. */
  isAlive?: (pid: number) => boolean;
  /** Called once a stale lock naming `oldPid` has been taken over. */
  onStaleTakeover?: (oldPid: number) => void;
  fault?: FaultHook;
}

/** What `readLock` finds. */
export interface LockInfo {
  pid: number;
  alive: boolean;
}

/** Takeover races are resolved by retrying; this many rounds means something else is wrong. */
const MAX_ATTEMPTS = 10;

/**
 * Whether a process with this PID exists, by sending it signal 0: ESRCH means
 * gone; EPERM means it exists but belongs to another user.
 */
export function isPidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "ESRCH") return false;
    if (code === "EPERM") return true;
    throw error;
  }
}

function parsePid(path: string, text: string): number {
  const m = /^\s*(\d+)\s*$/.exec(text);
  const pid = m === null ? Number.NaN : Number(m[1]);
  if (!Number.isSafeInteger(pid) || pid <= 0) {
    throw new EnvironmentError(
      `The lock file ${path} does not hold a PID (it contains ${
        JSON.stringify(text.slice(0, 40))
      })`,
      {
        hint:
          `If no ratchet run is going in this repository, delete ${path} and try again.`,
      },
    );
  }
  return pid;
}

/** The PID in a lock file, or null when there is no such file. */
async function readPid(path: string): Promise<number | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  return parsePid(path, text);
}

function heldError(path: string, pid: number): EnvironmentError {
  return new EnvironmentError(
    `Another ratchet run holds the lock ${path}: PID ${pid} is alive`,
    {
      hint:
        `Wait for it to finish, or stop it (kill ${pid}; it can be resumed later with \`ratchet resume\`). If PID ${pid} is not ratchet, delete ${path}.`,
    },
  );
}

/**
 * Take the run lock at `path` for `options.pid`. A live holder → an
 * EnvironmentError (exit 3) naming its PID; a dead holder → taken over and
 * `onStaleTakeover(oldPid)` called. Fault points: `lock.stale.moved-aside`,
 * `lock.acquired`.
 */
export async function acquireLock(
  path: string,
  options: AcquireLockOptions,
): Promise<RunLock> {
  const isAlive = options.isAlive ?? isPidAlive;
  const fault = options.fault ?? noFault;
  const dir = dirname(path);
  await Deno.mkdir(dir, { recursive: true });

  const temp = tempPathFor(path);
  const file = await Deno.open(temp, {
    write: true,
    createNew: true,
    mode: 0o644,
  });
  try {
    await writeAll(file, new TextEncoder().encode(`${options.pid}\n`));
    await file.sync();
  } finally {
    file.close();
  }

  let takenOver: number | null = null;
  try {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      try {
        await Deno.link(temp, path);
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
        const holder = await readPid(path);
        if (holder === null) continue; // released meanwhile: try again
        if (holder === options.pid) {
          // Our own PID: a lock left by a crashed run whose PID this process
          // got again after a reboot. No other process can hold it; keep it.
          takenOver = holder;
          break;
        }
        if (isAlive(holder)) throw heldError(path, holder);
        takenOver = await takeOverStale(path, holder, isAlive, fault);
        continue;
      }
      break;
    }
  } finally {
    await Deno.remove(temp).catch(() => {});
  }
  if ((await readPid(path)) !== options.pid) {
    throw new EnvironmentError(
      `Could not take the lock ${path} after ${MAX_ATTEMPTS} attempts: other processes keep taking it`,
      {
        hint:
          "Another ratchet is starting in this repository at the same time; run `ratchet status` and try again.",
      },
    );
  }
  await fsyncDir(dir);
  fault("lock.acquired");
  if (takenOver !== null) options.onStaleTakeover?.(takenOver);
  return makeLock(path, options.pid);
}

/**
 * Move a stale lock (naming the dead `stalePid`) out of the way. Between our
 * read and the move another process may already have replaced it with its
 * own live lock; the moved file tells, and then it is put back. Returns the
 * stale PID when it was removed, else null.
 */
async function takeOverStale(
  path: string,
  stalePid: number,
  isAlive: (pid: number) => boolean,
  fault: FaultHook,
): Promise<number | null> {
  // The aside file carries our PID in the temp-name pattern, so a crash right
  // after the move leaves a leftover that `removeStaleTemps` cleans up.
  const aside = tempPathFor(`${path}.stale`);
  try {
    await Deno.rename(path, aside);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  fault("lock.stale.moved-aside");
  const moved = await readPid(aside);
  if (moved === stalePid) {
    await Deno.remove(aside);
    return stalePid;
  }
  // We moved someone else's fresh lock: restore it unless a third process
  // has created one since (then theirs stands and this one is dropped).
  await Deno.link(aside, path).catch(() => {});
  await Deno.remove(aside).catch(() => {});
  if (moved !== null && isAlive(moved)) throw heldError(path, moved);
  return null;
}

function makeLock(path: string, pid: number): RunLock {
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    // Only remove a lock that is still ours: after a takeover by another
    // process (if we were wrongly judged dead) the file is theirs.
    let holder: number | null;
    try {
      holder = await readPid(path);
    } catch {
      return;
    }
    if (holder !== pid) return;
    try {
      await Deno.remove(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    await fsyncDir(dirname(path));
  };
  return {
    path,
    pid,
    release,
    [Symbol.asyncDispose]: release,
  };
}

/**
 * The lock's holder and whether it is alive (for `status` and `instruct`),
 * or null when no lock file exists.
 */
export async function readLock(
  path: string,
  options: { isAlive?: (pid: number) => boolean } = {},
): Promise<LockInfo | null> {
  const pid = await readPid(path);
  if (pid === null) return null;
  return { pid, alive: (options.isAlive ?? isPidAlive)(pid) };
}
