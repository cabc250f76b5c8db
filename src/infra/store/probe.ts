/**
 * Scratch directories under `.ratchet/tmp/` for asking a container engine
 * whether it sees this machine's files. A plain function rather than a
 * `Store` method: trial setup probes a checkout before any run (or store)
 * exists for it, and only the composition root constructs stores.
 */

import { join } from "node:path";
import { storePaths } from "./paths.ts";

/**
 * Run `fn` with a fresh empty directory `.ratchet/tmp/probe-<uuid>` of the
 * repository at `repoRoot`, then remove it, and `tmp/` and `.ratchet/` too
 * when they were not there before (a `ratchet measure` outside any run
 * leaves nothing behind). Nothing is fsynced: the directory is scratch, and
 * `Store.clearTmp()` removes whatever a killed process left.
 */
export async function withProbeDir<T>(
  repoRoot: string,
  fn: (dir: string) => Promise<T>,
): Promise<T> {
  const paths = storePaths(repoRoot);
  const existed = await Deno.stat(paths.root).then(() => true, () => false);
  const probe = join(paths.tmp, `probe-${crypto.randomUUID()}`);
  await Deno.mkdir(probe, { recursive: true });
  try {
    return await fn(probe);
  } finally {
    await Deno.remove(probe, { recursive: true }).catch(() => {});
    if (!existed) {
      await Deno.remove(paths.tmp).catch(() => {});
      await Deno.remove(paths.root).catch(() => {});
    }
  }
}
