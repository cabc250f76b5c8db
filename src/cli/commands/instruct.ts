/** `ratchet instruct "TEXT"`: a note the running run's next proposal reads once. */
import type { CommandContext } from "../context.ts";
import { findRepoRoot } from "../../infra/git/repo.ts";
import { readLock } from "../../infra/lock.ts";
import { EnvironmentError } from "../../errors.ts";

/** Run `ratchet instruct`. */
export async function instructCommand(
  options: { text: string },
  ctx: CommandContext,
): Promise<number> {
  const root = await findRepoRoot(ctx.deps.git, ctx.cwd);
  const store = ctx.deps.store(root);
  const run = await store.readRun();
  const lock = await readLock(store.paths.lock);
  if (
    run === null || run.state === "finished" || lock === null || !lock.alive
  ) {
    throw new EnvironmentError("No run is going in this repository", {
      hint: run === null
        ? "Start one with `ratchet run`; notes are for a running run."
        : "Notes are read by a running run; continue this one with `ratchet resume` first.",
    });
  }
  const note = await store.appendNote(options.text, ctx.now());
  ctx.output.err(
    `Note ${note.id} saved; run ${run.run_id} (pid ${lock.pid}) reads it at its next proposal.`,
  );
  return 0;
}
