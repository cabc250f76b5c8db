/**
 * Free space on the disks a run writes to: `.ratchet/` and a local
 * engine's storage. A run goes on (and starts a trial) only with
 * {@linkcode RUN_MIN_FREE_BYTES} free; a full disk stops it resumable
 * (exit 4) with the same hint wherever it is noticed.
 */
import { statfs } from "node:fs/promises";
import { UpstreamError } from "../errors.ts";

/** Least free space on the disk holding `.ratchet/` to keep going. */
export const RUN_MIN_FREE_BYTES = 1024 ** 3;

/** The least free space among the disks holding `dirs` (unreadable ones skipped). */
export async function lowestFree(
  dirs: readonly string[],
): Promise<{ dir: string; bytes: number } | null> {
  let lowest: { dir: string; bytes: number } | null = null;
  for (const dir of dirs) {
    const s = await statfs(dir).catch(() => null);
    if (s === null) continue;
    const bytes = Number(s.bavail) * Number(s.bsize);
    if (lowest === null || bytes < lowest.bytes) lowest = { dir, bytes };
  }
  return lowest;
}

/**
 * Fail with exit 4 (resumable) when a disk holding one of `dirs` has less
 * than `minBytes` free; unreadable disks are not held against the run.
 */
export async function requireFreeSpace(
  dirs: readonly string[],
  minBytes: number,
): Promise<void> {
  const free = await lowestFree(dirs);
  if (free !== null && free.bytes < minBytes) {
    throw new UpstreamError(
      `Only ${
        (free.bytes / 1024 ** 2).toFixed(0)
      } MiB free on the disk holding ${free.dir}`,
      {
        hint: `Free at least ${
          RUN_MIN_FREE_BYTES / 1024 ** 3
        } GiB there, then run \`ratchet resume\`.`,
      },
    );
  }
}
