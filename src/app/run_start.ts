/**
 * `run`'s start: the engine and the model checked before anything is
 * written, the previous run archived, a new run's branch, worktree and
 * harness snapshot made (crash-safe, see finishInterruptedStart), the
 * prepare step, then the session.
 */
import { toFileForm } from "../config/file_form.ts";
import type { RunEvent } from "../core/events.ts";
import { makeRunId } from "../core/run_id.ts";
import { SCHEMA_VERSION } from "../core/state.ts";
import { createWorktree, removeWorktree } from "../infra/git/worktree.ts";
import { ensureExcluded } from "../infra/git/repo.ts";
import type { GitContext } from "../infra/git/context.ts";
import { runGit } from "../infra/git/process.ts";
import { snapshotHarness } from "../infra/harness_snapshot.ts";
import { randomHex } from "../infra/random.ts";
import type { RunFile, Store } from "../infra/store/store.ts";
import type { AppContext } from "./context.ts";
import type { Session } from "./session.ts";
import { checkModel } from "./model_check.ts";
import { pricesNotice, type RunPreflight } from "./run_preflight.ts";
import { removeLeftovers, type RunEnd } from "./run_end.ts";
import {
  engineFor,
  engineOf,
  loopSession,
  preparePhase,
  runEngineOf,
  withLock,
} from "./run_session.ts";

/** Start a new run from a passed preflight; `events` feeds the view. */
export async function startRun(
  pre: RunPreflight,
  ctx: AppContext,
  events: (e: RunEvent) => void,
): Promise<RunEnd> {
  const { root, config } = pre;
  const prices = pricesNotice(config, pre.configFile);
  if (prices !== null) events(prices);
  // The engine and the image are checked before anything is written: an
  // unreachable Docker or a missing image leaves no .ratchet/ behind and
  // never archives the previous run.
  const runtime = ctx.deps.engine();
  await runtime.info();
  await checkModel(ctx, {
    apiKey: pre.apiKey,
    model: config.model,
    warn: (message) => events({ event: "warning", message }),
  });
  const engine = await engineFor(ctx, runtime, root, config, events);
  const store = ctx.deps.store(root);
  await store.init();
  return await withLock(store, ctx, events, async () => {
    const previous = await store.readRun().catch(() => null);
    if (previous !== null) {
      await removeLeftovers(runtime, store, previous.run_id);
    }
    await removeWorktree(ctx.deps.git, root, store.paths.worktree).catch(
      () => {},
    );
    await finishInterruptedStart(ctx.deps.git, root, store, previous);
    await archivePrevious(store, previous, ctx, events);
    await store.init();
    const runId = makeRunId(ctx.now(), randomHex(2));
    const branch = `ratchet/${runId}`;
    const run: RunFile = {
      schema_version: SCHEMA_VERSION,
      run_id: runId,
      created_at: ctx.now().toISOString(),
      repo_root: root,
      start_sha: pre.startSha,
      branch,
      config: toFileForm(config),
      config_file: pre.configInRepo,
      deterministic: null,
      trial_image: null,
      unit: null,
      engine: runEngineOf(engine),
      state: "running",
      stop_reason: null,
      finished_at: null,
    };
    await ensureExcluded(ctx.deps.git, root, ".ratchet/");
    const fault = ctx.deps.fault;
    await store.writeStartIntent({
      run_id: runId,
      branch,
      start_sha: pre.startSha,
    });
    await createWorktree(
      ctx.deps.git,
      root,
      store.paths.worktree,
      branch,
      pre.startSha,
    );
    fault("run.worktree-created");
    await snapshotHarness(
      store.paths.worktree,
      config.harness,
      store.paths.harness,
    );
    fault("run.harness-snapshotted");
    await store.writeRun(run);
    await store.clearStartIntent();
    events({
      event: "run_started",
      run_id: runId,
      branch,
      worktree: store.paths.worktree,
      start_sha: pre.startSha,
      resumed: false,
      dirty: pre.dirty,
      engine: engineOf(engine),
    });
    const partial = { ctx, root, store, run, config, runtime, events };
    const setup = await preparePhase(partial, 0, engine);
    if ("kind" in setup) return setup;
    run.trial_image = setup.image;
    await store.writeRun(run);
    const session: Session = { ...partial, setup };
    return await loopSession(session, pre.apiKey, store.paths.worktree, []);
  });
}

/** Move the previous run's state to `.ratchet/runs/`, if there is one. */
async function archivePrevious(
  store: Store,
  previous: RunFile | null,
  ctx: AppContext,
  events: (e: RunEvent) => void,
): Promise<void> {
  const hasPrevious = previous !== null || await store.holdsRun();
  const archived = hasPrevious ? await store.archive(ctx.now()) : null;
  if (archived) {
    events({
      event: "info",
      message: `Archived the previous run to ${archived}`,
    });
  }
}

/**
 * A `run` killed after creating its branch but before writing config.json
 * left a branch no run owns: delete it, but only while it still points at
 * its start commit (nothing was ever committed on it).
 */
async function finishInterruptedStart(
  git: GitContext,
  root: string,
  store: Store,
  previous: RunFile | null,
): Promise<void> {
  const intent = await store.readStartIntent();
  if (intent === null) return;
  if (previous?.run_id !== intent.run_id) {
    const tip = await runGit(git, root, [
      "rev-parse",
      "--verify",
      "--quiet",
      `refs/heads/${intent.branch}`,
    ]).catch(() => null);
    if (tip === intent.start_sha) {
      await runGit(git, root, ["branch", "-D", "--", intent.branch]);
    }
  }
  await store.clearStartIntent();
}
