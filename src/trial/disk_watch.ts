/**
 * The disk watch: a trial that fills the disk holding `.ratchet/` or a local
 * engine's storage (where a trial's writes land) is killed from the host.
 */
import { statfs } from "node:fs/promises";
import { UpstreamError } from "../errors.ts";
import type { ContainerRuntime } from "../infra/runtime.ts";

/** Least free space on the disk holding `.ratchet/` for a run to start a trial. */
export const START_MIN_FREE_BYTES = 1024 ** 3;
/**
 * Free space below which a running trial is killed: nothing else bounds what
 * a trial writes on a local engine's disk, and a run starts a trial only
 * with START_MIN_FREE_BYTES free.
 */
export const TRIAL_MIN_FREE_BYTES = 512 * 1024 ** 2;
/** How often a running trial's disk is looked at. */
const DISK_POLL_MS = 250;

/** The trial was filling the disk holding `.ratchet/`. */
export class DiskFilled extends Error {}

/** Why a trial the disk watch killed failed. */
export const DISK_FILLED_DETAIL = `the trial wrote so much that less than ${
  TRIAL_MIN_FREE_BYTES / 1024 ** 2
} MiB stayed free on the disk holding .ratchet/ or the engine's storage; the container was killed`;

/** The least free space among the disks holding `dirs` (unreadable ones skipped). */
async function lowestFree(
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
 * Watch the disks holding `dirs` while a trial runs: when one has less than
 * TRIAL_MIN_FREE_BYTES free, abort `host` with DiskFilled. No dirs, no
 * watch. `stop()` ends it.
 */
export function watchDisk(
  dirs: readonly string[],
  host: AbortController,
): { stop(): void } {
  let timer: ReturnType<typeof setInterval> | undefined;
  if (dirs.length > 0) {
    let busy = false;
    timer = setInterval(async () => {
      if (busy || host.signal.aborted) return;
      busy = true;
      const free = await lowestFree(dirs);
      busy = false;
      if (free !== null && free.bytes < TRIAL_MIN_FREE_BYTES) {
        host.abort(new DiskFilled(DISK_FILLED_DETAIL));
      }
    }, DISK_POLL_MS);
  }
  return { stop: () => clearInterval(timer) };
}

/**
 * After the disk watch killed a trial: once its container is removed, a disk
 * that stays short was not filled by the trial, and the run stops like on
 * any full disk (UpstreamError, exit 4, resumable).
 */
export async function failIfDiskStillShort(
  runtime: Pick<ContainerRuntime, "settled">,
  dirs: readonly string[],
): Promise<void> {
  await runtime.settled();
  const free = await lowestFree(dirs);
  if (free !== null && free.bytes < TRIAL_MIN_FREE_BYTES) {
    throw diskFull(free);
  }
}

/**
 * Before a run's trial: fail (UpstreamError, exit 4, resumable) when the
 * disk holding `dir` has less than START_MIN_FREE_BYTES free.
 */
export async function checkFreeSpace(dir: string): Promise<void> {
  const free = await lowestFree([dir]);
  if (free !== null && free.bytes < START_MIN_FREE_BYTES) throw diskFull(free);
}

/** The error of a disk too full to go on, with what to free. */
function diskFull(free: { dir: string; bytes: number }): UpstreamError {
  return new UpstreamError(
    `Only ${
      (free.bytes / 1024 ** 2).toFixed(0)
    } MiB free on the disk holding ${free.dir}`,
    {
      hint: `Free at least ${
        START_MIN_FREE_BYTES / 1024 ** 3
      } GiB there, then run \`ratchet resume\`.`,
    },
  );
}
