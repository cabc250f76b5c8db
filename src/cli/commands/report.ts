/**
 * `ratchet report [--out F]`: write the self-contained HTML report
 * (src/app/report.ts) and print its path.
 */
import type { CommandContext } from "../context.ts";
import { type ReportDeps, writeReport } from "../../app/report.ts";
import { renderReport } from "../../ui/report/render.ts";

/** Run `ratchet report`; exit 3 when there is no run, 2 for a bad `--out`. */
export async function reportCommand(
  options: { out: string | null },
  ctx: CommandContext,
  deps: ReportDeps = {},
): Promise<number> {
  ctx.output.out(await writeReport(options, ctx, renderReport, deps));
  return 0;
}
