/**
 * `ratchet run` and `ratchet resume`: the preflight, then the run's session
 * (src/app/run_start.ts, src/app/run_resume.ts) shown through the run view,
 * then how it ended.
 */
import type { CommandContext } from "../context.ts";
import type { ConfigFlags } from "../args.ts";
import type { Config } from "../../config/config.ts";
import type { RunEnd } from "../../app/run_end.ts";
import { preflightResume, preflightRun } from "../../app/run_preflight.ts";
import { resumeRun } from "../../app/run_resume.ts";
import { startRun } from "../../app/run_start.ts";
import { printRunEnd } from "../../ui/run_end_view.ts";
import { jsonView, type RunView, textView } from "../../ui/run_view.ts";

/** `ratchet run`. */
export async function runRun(
  cmd: ConfigFlags & { json: boolean },
  ctx: CommandContext,
): Promise<number> {
  const pre = await preflightRun(cmd, ctx);
  const view = makeView(cmd.json, ctx, pre.config.iterations);
  return await shown(
    ctx,
    view,
    cmd.json,
    () => startRun(pre, ctx, (e) => view.handle(e)),
  );
}

/**
 * `ratchet resume [--iterations N] [--max-cost-usd X] [--patience K]
 * [--threshold X] [--model NAME]`.
 */
export async function runResume(
  cmd: { flags: Partial<Config>; json: boolean },
  ctx: CommandContext,
): Promise<number> {
  const pre = await preflightResume(cmd.flags, ctx);
  const view = makeView(cmd.json, ctx, pre.settings.config.iterations);
  return await shown(
    ctx,
    view,
    cmd.json,
    () => resumeRun(pre, ctx, (e) => view.handle(e)),
  );
}

function makeView(
  json: boolean,
  ctx: CommandContext,
  iterations: number,
): RunView {
  return json ? jsonView(ctx.output) : textView(ctx.output, {
    live: ctx.output.interactive,
    now: () => ctx.now().getTime(),
    iterations,
  });
}

/** Run the session with its view, then say how it ended; the exit code. */
async function shown(
  ctx: CommandContext,
  view: RunView,
  json: boolean,
  session: () => Promise<RunEnd>,
): Promise<number> {
  let end: RunEnd;
  try {
    end = await session();
  } finally {
    view.close();
  }
  printRunEnd(ctx.output, end, json);
  if (end.kind === "prepare_interrupted") throw end.error;
  return end.kind === "stopped" ? end.error.exitCode : 0;
}
