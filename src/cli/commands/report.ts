/** `ratchet report [--out F]`: write the HTML report atomically. */
import { join, resolve } from "node:path";
import type { CommandContext } from "../context.ts";
import { findRepoRoot } from "../../infra/git.ts";
import { Store } from "../../infra/store.ts";
import { writeFileAtomic } from "../../infra/atomic.ts";
import { renderReport } from "../../ui/report_html.ts";
import { EnvironmentError } from "../../errors.ts";
import { VERSION } from "../../version.ts";

/** Run `ratchet report`. */
export async function reportCommand(
  options: { out: string | null },
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
  const diffs = new Map<number, string>();
  for (const r of records) {
    if (r.iter === 0 || !r.kept) continue;
    const patch = await Deno.readTextFile(
      join(store.paths.diffs, `iter-${String(r.iter).padStart(4, "0")}.patch`),
    ).catch(() => null);
    if (patch !== null) diffs.set(r.iter, patch);
  }
  const html = renderReport({
    run,
    records,
    diffs,
    environment: {
      ratchet: VERSION,
      deno: Deno.version.deno,
      os: `${Deno.build.os} ${Deno.build.arch}`,
    },
    generatedAt: ctx.now().toISOString(),
  });
  const out = options.out === null
    ? store.paths.reportHtml
    : resolve(ctx.cwd, options.out);
  await writeFileAtomic(out, html);
  ctx.output.out(out);
  return 0;
}
