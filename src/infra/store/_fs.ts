/** Small file helpers the store modules share. */

import { fsyncDir } from "../atomic.ts";

/** The file's bytes, or null when it does not exist. */
export async function readBytes(path: string): Promise<Uint8Array | null> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** Whether anything (a file, a directory, a dangling symlink) is at `path`. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Whether `path` is a directory with nothing in it. */
export async function isEmptyDir(path: string): Promise<boolean> {
  try {
    for await (const _ of Deno.readDir(path)) return false;
    return true;
  } catch {
    return false;
  }
}

/**
 * Remove `path` (a file, or with `recursive` a whole tree; gone already is
 * fine) and fsync `parent`, the directory holding it, so the removal
 * survives a power loss.
 */
export async function removeDurably(
  path: string,
  parent: string,
  options: { recursive?: boolean } = {},
): Promise<void> {
  try {
    await Deno.remove(path, { recursive: options.recursive ?? false });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  await fsyncDir(parent);
}
