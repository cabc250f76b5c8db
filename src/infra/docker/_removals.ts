/**
 * Container removal. Containers are never auto-removed (see `runtime.ts`):
 * one that ran to completion is removed in the background, overlapping the
 * next container's creation, and `Removals.settled()` is what the next start
 * and every removal by label wait on.
 */
import type Docker from "dockerode";

/** Remove `container` with its anonymous volumes; a failure is ignored. */
export async function removeQuietly(
  container: Docker.Container,
): Promise<void> {
  try {
    // v: anonymous volumes (an image's VOLUME) would otherwise pile up, one
    // per trial; named volumes (--cache) are never removed by this.
    await container.remove({ force: true, v: true });
  } catch {
    // Already gone, or the daemon died: the caller's own error (if any)
    // says more, and `removeContainers` by label cleans up later.
  }
}

/** Removals of finished containers still under way; one set per runtime. */
export class Removals {
  readonly #pending = new Set<Promise<void>>();

  /** Remove `container` in the background. */
  later(container: Docker.Container): void {
    const removal: Promise<void> = removeQuietly(container).finally(
      () => this.#pending.delete(removal),
    );
    this.#pending.add(removal);
  }

  /** Resolves when every removal started by `later` is done. */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending);
  }
}
