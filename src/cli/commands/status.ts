/** `ratchet status` and `ratchet log`. */
import type { CommandContext } from "../context.ts";
import { findRepoRoot } from "../../infra/git.ts";
import { Store } from "../../infra/store.ts";
import { confidenceOf, readStatus } from "../../status.ts";
import { renderStatus } from "../../ui/status_view.ts";
import { renderLog } from "../../ui/log_view.ts";
import { EnvironmentError } from "../../errors.ts";

/** `ratchet status [--json]`. */
export async function statusCommand(
  options: { json: boolean },
  ctx: CommandContext,
): Promise<number> {
  const store = new Store(await findRepoRoot(ctx.cwd));
  const status = await readStatus(store);
  ctx.output.out(
    options.json
      ? JSON.stringify(status)
      : renderStatus(status, { color: ctx.output.color }),
  );
  return 0;
}

/** `ratchet log [--json]`. */
export async function logCommand(
  options: { json: boolean },
  ctx: CommandContext,
): Promise<number> {
  const store = new Store(await findRepoRoot(ctx.cwd));
  const run = await store.readRun();
  if (run === null) {
    throw new EnvironmentError("There is no run in this repository", {
      hint: "Start one with `ratchet run`.",
    });
  }
  const records = await store.readRecords();
  if (options.json) {
    if (records.length > 0) {
      ctx.output.out(records.map((r) => JSON.stringify(r)).join("\n"));
    }
    return 0;
  }
  const width = ctx.output.interactive
    ? (Deno.consoleSize?.().columns ?? 100)
    : 100;
  ctx.output.out(
    renderLog(records, {
      color: ctx.output.color,
      width,
      confidence: confidenceOf(run.config),
    }),
  );
  return 0;
}
