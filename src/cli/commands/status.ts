/** `ratchet status [--json]`: where the current run stands, read-only. */
import type { CommandContext } from "../context.ts";
import { findRepoRoot } from "../../infra/git/repo.ts";
import { directionOf, readStatus } from "../../app/status.ts";
import { renderStatus } from "../../ui/status_view.ts";

// dispatch.ts imports both commands from here.

/**
 * Run `ratchet status`: the spec's `status --json` object on one line, or
 * the human view. Exit 3 when there is no run.
 */
export async function statusCommand(
  options: { json: boolean },
  ctx: CommandContext,
): Promise<number> {
  const store = ctx.deps.store(await findRepoRoot(ctx.deps.git, ctx.cwd));
  const status = await readStatus(store);
  if (options.json) {
    ctx.output.out(JSON.stringify(status));
    return 0;
  }
  // The direction only says whether the gain is good; a damaged config
  // must not stop status from showing the rest.
  const run = await store.readRun().catch(() => null);
  const direction = run ? directionOf(run.config) : undefined;
  ctx.output.out(
    renderStatus(status, {
      color: ctx.output.colorOut,
      ...(direction ? { direction } : {}),
    }),
  );
  return 0;
}
