/** `ratchet log [--json]`: one row per iteration and the trajectory chart. */
import type { CommandContext } from "../context.ts";
import { findRepoRoot } from "../../infra/git/repo.ts";
import { confidenceOf, directionOf, requireRun } from "../../app/status.ts";
import { renderLog } from "../../ui/log_view.ts";
import { claimOf } from "../../core/confirm.ts";
import { incumbentOf } from "../../core/incumbent.ts";

/** Width when it cannot be asked: wide enough for the table, narrow enough for a pager. */
const DEFAULT_WIDTH = 100;

/** The terminal's width: `COLUMNS`, else the console's, else 100. */
export function terminalWidth(ctx: CommandContext): number {
  const columns = Number(ctx.env.COLUMNS);
  if (Number.isInteger(columns) && columns >= 20) return columns;
  if (!ctx.output.interactive) return DEFAULT_WIDTH;
  try {
    return Deno.consoleSize().columns || DEFAULT_WIDTH;
  } catch {
    // stdout is not a terminal (piped to a pager or a file).
    return DEFAULT_WIDTH;
  }
}

/**
 * Run `ratchet log`. `--json` prints the records of results.jsonl, one per
 * line, each exactly as recorded (a torn last line is left out); otherwise
 * the table and the chart. Exit 3 when there is no run.
 */
export async function logCommand(
  options: { json: boolean },
  ctx: CommandContext,
): Promise<number> {
  const store = ctx.deps.store(await findRepoRoot(ctx.deps.git, ctx.cwd));
  const run = await requireRun(store);
  const records = await store.readRecords();
  if (options.json) {
    if (records.length > 0) {
      ctx.output.out(records.map((r) => JSON.stringify(r)).join("\n"));
    }
    return 0;
  }
  const direction = directionOf(run.config);
  const claim = claimOf(
    await store.readConfirmation().catch(() => null),
    run.run_id,
    incumbentOf(records)?.sha ?? null,
  );
  ctx.output.out(
    renderLog(records, {
      claim,
      color: ctx.output.colorOut,
      width: terminalWidth(ctx),
      confidence: confidenceOf(run.config),
      ...(direction ? { direction } : {}),
    }),
  );
  return 0;
}
