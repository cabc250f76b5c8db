/**
 * `.ratchet/starting.json`: present only while a new run creates its branch
 * and worktree, before its config.json exists, so a start that dies there
 * can be cleaned up.
 */

import { z } from "zod";
import { isRunId } from "../../core/run_id.ts";
import { SCHEMA_VERSION } from "../../core/state.ts";
import { writeFileAtomic } from "../atomic.ts";
import { removeDurably } from "./_fs.ts";
import { checkShape, damaged, readJsonFile } from "./_json.ts";
import type { StoreContext } from "./paths.ts";

/** A run being started: its branch exists, its config.json not yet. */
export interface StartIntent {
  run_id: string;
  branch: string;
  start_sha: string;
}

const START_INTENT = z.looseObject({
  run_id: z.string(),
  branch: z.string(),
  start_sha: z.string(),
});

/** Record that a run is being started (before its branch is created). */
export async function writeStartIntent(
  ctx: StoreContext,
  intent: StartIntent,
): Promise<void> {
  await writeFileAtomic(
    ctx.paths.startIntent,
    JSON.stringify({ schema_version: SCHEMA_VERSION, ...intent }) + "\n",
  );
}

/** The start a previous `run` did not finish, or null. */
export async function readStartIntent(
  ctx: StoreContext,
): Promise<StartIntent | null> {
  const path = ctx.paths.startIntent;
  const value = await readJsonFile(path);
  if (value === null) return null;
  const checked = checkShape<StartIntent>(path, START_INTENT, value);
  const intent: StartIntent = {
    run_id: checked.run_id,
    branch: checked.branch,
    start_sha: checked.start_sha,
  };
  // The branch is deleted when the start is cleaned up: it must be the run's own.
  if (
    !isRunId(intent.run_id) || intent.branch !== `ratchet/${intent.run_id}`
  ) {
    throw damaged(
      path,
      `"branch" is ${JSON.stringify(intent.branch)}, not ratchet/<run_id>`,
      `It records a run that was being started. Delete it, then run ratchet again.`,
    );
  }
  return intent;
}

/** The run's config.json is written: its start is complete. */
export async function clearStartIntent(ctx: StoreContext): Promise<void> {
  await removeDurably(ctx.paths.startIntent, ctx.paths.root);
}
