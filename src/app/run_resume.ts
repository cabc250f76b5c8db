/**
 * `resume`: a stopped or interrupted run continued where it left off, with
 * the settings a resume may change; a finished run only has its leftovers
 * removed unless a flag extends it.
 */
import { toFileForm } from "../config/file_form.ts";
import type { RunEvent } from "../core/events.ts";
import { removeWorktree } from "../infra/git/worktree.ts";
import type { AppContext } from "./context.ts";
import type { Session } from "./session.ts";
import { checkModel } from "./model_check.ts";
import { restoreWorktree } from "./resume_worktree.ts";
import type { ResumePreflight } from "./run_preflight.ts";
import { removeLeftovers, type RunEnd } from "./run_end.ts";
import { crashTailOf, interruptedSpend } from "./run_state.ts";
import {
  engineFor,
  engineOf,
  loopSession,
  preparePhase,
  runEngineOf,
  withLock,
} from "./run_session.ts";

/** Continue the run a passed preflight found; `events` feeds the view. */
export async function resumeRun(
  pre: ResumePreflight,
  ctx: AppContext,
  events: (e: RunEvent) => void,
): Promise<RunEnd> {
  const { root, store, run, settings } = pre;
  const config = settings.config;
  return await withLock(store, ctx, events, async () => {
    const records = await store.readRecords();
    if (settings.kind === "finished") {
      // A run killed while finishing (its stop already written) can have
      // left its worktree and containers behind: finish that cleanup now.
      await removeWorktree(ctx.deps.git, root, store.paths.worktree).catch(
        () => {},
      );
      await removeLeftovers(ctx.deps.engine(), store, run.run_id);
      return {
        kind: "already_finished",
        runId: run.run_id,
        stopReason: run.stop_reason,
      };
    }
    await checkModel(ctx, {
      apiKey: pre.apiKey,
      model: config.model,
      warn: (message) => events({ event: "warning", message }),
    });
    for (const message of settings.notes) events({ event: "info", message });
    if (settings.since !== undefined) run.extended_after = settings.since;
    run.config = toFileForm(config);
    run.state = "running";
    run.stop_reason = null;
    run.finished_at = null;
    await store.writeRun(run);
    const runtime = ctx.deps.engine();
    const removed = await runtime.removeContainers({
      "ratchet.run": run.run_id,
    });
    if (removed > 0) {
      events({
        event: "info",
        message: `Removed ${removed} leftover container(s) of the run`,
      });
    }
    // Tree images and volumes of the interrupted process are rebuilt as needed.
    await removeLeftovers(runtime, store, run.run_id);
    const engine = await engineFor(ctx, runtime, root, config, events);
    run.engine = runEngineOf(engine);
    // Attached again if gone; at the incumbent, whatever the interrupted
    // iteration left (resume_worktree.ts).
    const worktree = store.paths.worktree;
    await restoreWorktree({
      git: ctx.deps.git,
      root,
      worktree,
      branch: run.branch,
      startSha: run.start_sha,
      records,
      confidence: config.confidence,
    });
    const partial = { ctx, root, store, run, config, runtime, events };
    const setup = await preparePhase(partial, records.length, engine);
    if ("kind" in setup) return setup;
    run.trial_image = setup.image;
    await store.writeRun(run);
    events({
      event: "run_started",
      run_id: run.run_id,
      branch: run.branch,
      worktree,
      start_sha: run.start_sha,
      resumed: true,
      dirty: false,
      engine: engineOf(engine),
    });
    const session: Session = { ...partial, setup };
    // Left by an iteration cut short: what it spent counts toward the budget
    // and goes into the record of its retry (which rewrites the file).
    const carried = interruptedSpend(
      await store.readCurrent().catch(() => null),
      run.run_id,
      records.length,
    );
    if (carried !== null) {
      events({
        event: "info",
        message: `Iteration ${records.length} was cut short after spending $${
          carried.costUsd.toFixed(4)
        }; it counts toward the budget and its retry's record`,
      });
    }
    return await loopSession(session, pre.apiKey, worktree, records, {
      carried,
      crashTail: await crashTailOf(store, records.at(-1)),
    });
  });
}
