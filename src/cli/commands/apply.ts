/** `ratchet apply`: squash the run's kept changes onto the current branch. */
import type { CommandContext } from "../context.ts";
import { applyRun } from "../../app/apply.ts";
import { applyMessage } from "../../ui/apply_message.ts";

/** Run `ratchet apply`. */
export async function applyCommand(ctx: CommandContext): Promise<number> {
  const applied = await applyRun(ctx, applyMessage);
  ctx.output.err(
    applied.kind === "nothing"
      ? `Nothing to apply: run ${applied.runId} kept no change, or its changes are already on this branch.`
      : `Applied ${applied.kept} kept change(s) of run ${applied.runId} as ${
        applied.sha.slice(0, 12)
      } on ${applied.branch ?? "the detached HEAD"}.`,
  );
  return 0;
}
