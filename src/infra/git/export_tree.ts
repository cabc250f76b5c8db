/** A tree's files written out as a plain directory (a trial's copy). */
import { join, resolve } from "node:path";
import { runGit } from "./process.ts";
import type { GitContext } from "./context.ts";

/**
 * Write the files of `treeish` into `destDir` (created if needed), without
 * `.git`, keeping symlinks and executable bits. Uses a throwaway index
 * (`GIT_INDEX_FILE`) with `read-tree` + `checkout-index`, so no real index
 * or checkout is touched. Unlike `git archive` it ignores `export-ignore`
 * and `export-subst`, which a candidate could use to hide or rewrite files.
 */
export async function exportTree(
  git: GitContext,
  root: string,
  treeish: string,
  destDir: string,
): Promise<void> {
  await Deno.mkdir(destDir, { recursive: true });
  const tmp = await Deno.makeTempDir({ prefix: "ratchet-index-" });
  try {
    const env = { GIT_INDEX_FILE: join(tmp, "index") };
    // A split index would leave shared index files in the repository.
    const settings = [
      "-c",
      "core.splitIndex=false",
      "-c",
      "core.symlinks=true",
    ];
    await runGit(git, root, [...settings, "read-tree", treeish], { env });
    await runGit(git, root, [
      ...settings,
      `--work-tree=${resolve(destDir)}`,
      "checkout-index",
      "--all",
      "--force",
      "--quiet",
    ], { env });
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}
