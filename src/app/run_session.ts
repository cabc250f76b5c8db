/**
 * One run's session once preflight has passed: the lock, the prepare step,
 * the baseline, the loop, the end-of-run confirmation and the stop. `run`
 * (run_start.ts) and `resume` (run_resume.ts) both end here.
 */
import type { Config } from "../config/config.ts";
import type { RunEvent } from "../core/events.ts";
import type { IterationRecord } from "../core/state.ts";
import { incumbentOf } from "../core/incumbent.ts";
import {
  measureRule,
  perSide,
  trialsBeforeFirstLook,
} from "../core/measure_plan.ts";
import { BaselineError } from "../errors.ts";
import { resetWorktree } from "../infra/git/worktree.ts";
import { treeOf } from "../infra/git/repo.ts";
import { acquireLock, type RunLock } from "../infra/lock.ts";
import type { ContainerRuntime } from "../infra/runtime.ts";
import type { RunFile, Store } from "../infra/store/store.ts";
import { prepareTrials, setUpEngine, type TrialSetup } from "../trial/setup.ts";
import type { AppContext } from "./context.ts";
import type { Session } from "./session.ts";
import type { LoopPorts } from "./ports.ts";
import { confirmRun, confirmsAt } from "./confirm.ts";
import { phaseWriter } from "./run_phases.ts";
import { buildRunPorts, configPathOf } from "./run_ports.ts";
import { driveLoop, measureBaseline } from "./loop.ts";
import {
  guardStateOf,
  type LoopEnd,
  loopEndOf,
  recordStop,
  type RunState,
  type Spend,
  stateFromRecords,
} from "./run_state.ts";
import {
  abandonRun,
  finishRun,
  removeLeftovers,
  resumable,
  type RunEnd,
} from "./run_end.ts";

/** Hold the repository's run lock while `fn` runs. */
export async function withLock<T>(
  store: Store,
  ctx: AppContext,
  events: (e: RunEvent) => void,
  fn: (lock: RunLock) => Promise<T>,
): Promise<T> {
  const lock = await acquireLock(store.paths.lock, {
    pid: ctx.deps.pid,
    fault: ctx.deps.fault,
    onStaleTakeover: (old) =>
      events({
        event: "info",
        message:
          `Took over a stale lock left by process ${old}, which is gone.`,
      }),
  });
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}

/** The engine, the trial user and the trial image, with progress as events. */
export function engineFor(
  ctx: AppContext,
  runtime: ContainerRuntime,
  root: string,
  config: Config,
  events: (e: RunEvent) => void,
): Promise<TrialSetup> {
  return setUpEngine({
    runtime,
    root,
    config,
    env: (name) => ctx.env[name],
    signal: ctx.signal,
    onProgress: (line) => events({ event: "progress", message: line }),
  });
}

/** The engine as config.json records it. */
export function runEngineOf(setup: TrialSetup): NonNullable<RunFile["engine"]> {
  return {
    endpoint: setup.info.endpoint,
    shares_filesystem: setup.sharesFiles,
  };
}

/** The engine as the `run_started` event names it. */
export function engineOf(setup: TrialSetup) {
  return {
    product: setup.info.product,
    version: setup.info.serverVersion,
    endpoint: setup.info.endpoint,
    rootless: setup.info.rootless,
    shares_filesystem: setup.sharesFiles,
  };
}

/**
 * The prepare step (or its cached result) for the run's start tree, with
 * its phase in current.json (`preparing`). A signal during it leaves the
 * run interrupted and resumable: the stop is written, the prepare container
 * is gone (the runtime removes a killed container) and nothing is committed;
 * the run ends `prepare_interrupted`.
 */
export async function preparePhase(
  s: Omit<Session, "setup">,
  iter: number,
  engine: TrialSetup,
): Promise<TrialSetup | RunEnd> {
  if (s.config.prepareCommand === null) return engine;
  await phaseWriter(s.store, s.events, s.run, s.ctx.now).preparing(iter);
  try {
    return await prepareTrials(engine, {
      runtime: s.runtime,
      root: s.root,
      config: s.config,
      runId: s.run.run_id,
      source: { kind: "git", root: s.root, treeish: s.run.start_sha },
      git: s.ctx.deps.git,
      env: (name) => s.ctx.env[name],
      signal: s.ctx.signal,
      onProgress: (line) => s.events({ event: "progress", message: line }),
      fault: s.ctx.deps.fault,
      preparedImage: s.run.trial_image,
    });
  } catch (error) {
    if (!s.ctx.signal.aborted) throw error;
    await recordStop(s.store, s.run, "interrupted", s.ctx.now());
    await removeLeftovers(s.runtime, s.store, s.run.run_id);
    return { kind: "prepare_interrupted", runId: s.run.run_id, error };
  }
}

/** Baseline if needed, then the loop, then the stop. */
export async function loopSession(
  s: Session,
  key: string,
  worktree: string,
  records: IterationRecord[],
  resumed: { carried: Spend | null; crashTail: string | null } = {
    carried: null,
    crashTail: null,
  },
): Promise<RunEnd> {
  const ports = await buildRunPorts(s, worktree, key);
  let end: LoopEnd;
  try {
    if (records.length === 0) {
      records.push(await baselinePhase(s, ports, worktree));
    }
    const inc = incumbentOf(records, { confidence: s.config.confidence });
    const state = stateFromRecords({
      runId: s.run.run_id,
      config: s.config,
      configPath: configPathOf(s.run),
      deterministic: s.run.deterministic ?? false,
      unit: s.run.unit,
      guardUnits: s.run.guard_units ?? null,
      records,
      incumbentTree: await treeOf(s.ctx.deps.git, s.root, inc!.sha!),
      ...resumed,
      ...(s.run.extended_after === undefined
        ? {}
        : { since: s.run.extended_after }),
    });
    end = await driveLoop(ports, state);
    if (end.error === null && confirmsAt(end.reason)) {
      await confirmAtEnd(s, ports, state);
    }
  } catch (error) {
    const stopped = loopEndOf(error, s.ctx.signal);
    if (stopped === null) {
      await removeLeftovers(s.runtime, s.store, s.run.run_id);
      if (error instanceof BaselineError && records.length === 0) {
        await abandonRun(s, worktree);
        throw error;
      }
      throw resumable(error, s.run.run_id);
    }
    end = stopped;
  }
  return await finishRun(s, end, worktree, ports.fault);
}

/**
 * Measure the start commit, record it as iteration 0, and estimate how long
 * an iteration takes.
 */
async function baselinePhase(
  s: Session,
  ports: LoopPorts,
  worktree: string,
): Promise<IterationRecord> {
  await resetWorktree(s.ctx.deps.git, worktree, s.run.start_sha);
  const startTree = await treeOf(s.ctx.deps.git, s.root, s.run.start_sha);
  const phases = phaseWriter(s.store, s.events, s.run, s.ctx.now);
  const b = await measureBaseline(
    {
      trials: ports.trials,
      events: s.events,
      signal: s.ctx.signal,
      now: s.ctx.now,
      onTrialStart: (k, n) => phases.baselineTrial(k, n),
    },
    {
      runId: s.run.run_id,
      config: s.config,
      tree: startTree,
      sha: s.run.start_sha,
    },
  );
  s.run.deterministic = b.deterministic;
  s.run.unit = b.unit;
  s.run.guard_units = b.guardUnits;
  await s.store.writeRun(s.run);
  await s.store.appendRecord(b.record);
  ports.fault("run.baseline-recorded");
  // The baseline is recorded: nothing is in progress until iteration 1.
  await s.store.clearCurrent();
  s.events({ event: "iteration", record: b.record });
  const rule = measureRule(s.config.decision, b.deterministic);
  const plan = perSide(
    rule,
    s.config,
    guardStateOf(s.config, [b.record], null).deterministic,
  );
  s.events({
    event: "estimate",
    seconds_per_trial: b.secondsPerTrial,
    seconds_per_iteration: b.secondsPerTrial *
        trialsBeforeFirstLook(rule, plan) +
      (s.config.checkCommand ? b.secondsPerTrial : 0),
  });
  return b.record;
}

/**
 * The end-of-run confirmation (app/confirm.ts): the start commit and the
 * final incumbent measured interleaved through the loop's trial port; its
 * progress is in `.ratchet/confirmation.json`, so a resume continues it.
 */
async function confirmAtEnd(
  s: Session,
  ports: LoopPorts,
  state: RunState,
): Promise<void> {
  await confirmRun({
    trials: ports.trials,
    store: s.store,
    events: s.events,
    signal: s.ctx.signal,
    now: s.ctx.now,
    fault: ports.fault,
  }, {
    runId: s.run.run_id,
    config: s.config,
    startSha: s.run.start_sha,
    startTree: await treeOf(s.ctx.deps.git, s.root, s.run.start_sha),
    state,
  });
}
