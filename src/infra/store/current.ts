/** `.ratchet/current.json`: the iteration in progress, if any. */

import { z } from "zod";
import type { CurrentIteration } from "../../core/state.ts";
import { writeFileAtomic } from "../atomic.ts";
import { exists, removeDurably } from "./_fs.ts";
import { checkShape, readJsonFile } from "./_json.ts";
import type { StoreContext } from "./paths.ts";

/** The keys ratchet relies on when it reads current.json back. */
const CURRENT = z.looseObject({
  run_id: z.string(),
  iter: z.number(),
  phase: z.string(),
  incumbent_sha: z.string(),
  candidate_tree: z.string().nullable(),
  started_at: z.string(),
});

/** Replace `current.json` atomically. Fault point prefix: `current.write`. */
export async function writeCurrent(
  ctx: StoreContext,
  c: CurrentIteration,
): Promise<void> {
  await Deno.mkdir(ctx.paths.root, { recursive: true });
  await writeFileAtomic(
    ctx.paths.current,
    JSON.stringify(c, null, 2) + "\n",
    { fault: ctx.fault, point: "current.write" },
  );
}

/** The in-progress iteration, or null when none is recorded. */
export async function readCurrent(
  ctx: StoreContext,
): Promise<CurrentIteration | null> {
  const path = ctx.paths.current;
  const value = await readJsonFile(path);
  if (value === null) return null;
  return checkShape<CurrentIteration>(path, CURRENT, value);
}

/** Remove `current.json` (no error when absent). Fault point: `current.clear.before-remove`. */
export async function clearCurrent(ctx: StoreContext): Promise<void> {
  if (!(await exists(ctx.paths.current))) return;
  ctx.fault("current.clear.before-remove");
  await removeDurably(ctx.paths.current, ctx.paths.root);
}
