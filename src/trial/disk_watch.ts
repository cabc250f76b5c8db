/**
 * The disk watch: a trial that fills the disk holding `.ratchet/` or a local
 * engine's storage (where a trial's writes land) is killed from the host.
 */
import { lowestFree, requireFreeSpace } from "../infra/disk.ts";
import type { ContainerRuntime } from "../infra/runtime.ts";

/**
 * Free space below which a running trial is killed: nothing else bounds what
 * a trial writes on a local engine's disk, and a run starts a trial only
 * with RUN_MIN_FREE_BYTES (infra/disk.ts) free.
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
  await requireFreeSpace(dirs, TRIAL_MIN_FREE_BYTES);
}
