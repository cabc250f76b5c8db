/**
 * `ratchet run` and `ratchet resume`: preflight, the run's worktree and
 * image, the baseline, the loop, and a clean stop (state written, candidate
 * reverted, containers removed) whatever ends it.
 */
import type { CommandContext } from "../context.ts";
import type { ConfigFlags } from "../args.ts";
import type { Config } from "../../config/config.ts";
import { loadConfig } from "../../config/load.ts";
import { toFileForm } from "../../config/schema.ts";
import { matchesAny, REPO_CONFIG_FILE } from "../../core/protect.ts";
import { makeRunId } from "../../core/run_id.ts";
import type { RunEvent } from "../../core/events.ts";
import { type IterationRecord, SCHEMA_VERSION } from "../../core/state.ts";
import { incumbentOf } from "../../core/incumbent.ts";
import {
  measureRule,
  perSide,
  trialsBeforeFirstLook,
} from "../../core/measure_plan.ts";
import {
  BaselineError,
  ConfigError,
  EnvironmentError,
  InterruptedError,
} from "../../errors.ts";
import { priceFor } from "../../agent/pricing.ts";
import { type FaultHook, noFault } from "../../infra/fault.ts";
import {
  createWorktree,
  ensureExcluded,
  findRepoRoot,
  headSha,
  isDirty,
  removeWorktree,
  resetWorktree,
  runGit,
  treeOf,
} from "../../infra/git.ts";
import { acquireLock, type RunLock } from "../../infra/lock.ts";
import { requireFreeSpace, RUN_MIN_FREE_BYTES } from "../../infra/disk.ts";
import { snapshotHarness } from "../../infra/harness_snapshot.ts";
import type { ContainerRuntime } from "../../infra/runtime.ts";
import type { RunFile, Store } from "../../infra/store.ts";
import { repoOverview } from "../../infra/workspace.ts";
import {
  prepareTrials,
  setUpEngine,
  specContext,
  type TrialSetup,
} from "../../trial/setup.ts";
import { removeRunImages, TreeImages } from "../../trial/tree_images.ts";
import { listSource } from "../../trial/tree_source.ts";
import type { LoopPorts } from "../../app/ports.ts";
import {
  crashTailOf,
  driveLoop,
  guardStateOf,
  interruptedSpend,
  type LoopEnd,
  loopEndOf,
  measureBaseline,
  policyOf,
  recordStop,
  stateFromRecords,
} from "../../app/run_state.ts";
import type { RunState, Spend } from "../../app/loop.ts";
import { confirmRun, confirmsAt } from "../../app/confirm.ts";
import { claimOf } from "../../core/confirm.ts";
import { confirmationBasis, gainText } from "../../ui/claim.ts";
import { gitPort, proposerPort, trialPort } from "../../app/run_ports.ts";
import { restoreWorktree } from "../../app/resume_worktree.ts";
import { jsonView, type RunView, textView } from "../../ui/run_view.ts";
import { checkModel } from "../../app/model_check.ts";
import { phaseWriter } from "../../app/run_phases.ts";
import { resumeSettings } from "../../app/resume_settings.ts";
import { fmtNum, fmtPct } from "../../ui/format.ts";
import { formatError } from "../../ui/errors.ts";

function randomHex4(): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(2)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
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

/** Refuse globs that match no tracked file, and files both editable and harness. */
async function checkGlobs(
  root: string,
  sha: string,
  config: Config,
): Promise<void> {
  const files =
    (await runGit(root, ["ls-tree", "-r", "-z", "--name-only", sha]))
      .split("\0").filter((f) => f !== "");
  for (
    const [name, globs] of [["editable", config.editable], [
      "harness",
      config.harness,
    ]] as const
  ) {
    for (const glob of globs) {
      if (!files.some((f) => matchesAny(f, [glob]))) {
        throw new ConfigError(
          `--${name} "${glob}" matches no file in the repository`,
          {
            key: name,
            hint:
              'Globs are relative to the repo root (e.g. "tests/**", "src/*.py"); check the spelling.',
          },
        );
      }
    }
  }
  if (config.editable.length > 0 && config.harness.length > 0) {
    const both = files.find((f) =>
      matchesAny(f, config.editable) && matchesAny(f, config.harness)
    );
    if (both !== undefined) {
      throw new ConfigError(
        `${both} is matched by both --editable and --harness`,
        {
          key: "editable",
          hint:
            "A path is either the subject (editable) or the harness (read-only); narrow one of the globs.",
        },
      );
    }
  }
}

/** The engine as the `run_started` event names it. */
function engineOf(setup: TrialSetup) {
  return {
    product: setup.info.product,
    version: setup.info.serverVersion,
    endpoint: setup.info.endpoint,
    rootless: setup.info.rootless,
    shares_filesystem: setup.sharesFiles,
  };
}

/**
 * The disks a trial may fill: the one holding `.ratchet/`, and a local
 * engine's storage (its data root, when this machine has that path).
 */
function diskDirsOf(stateDir: string, setup: TrialSetup): string[] {
  const root = setup.info.dataRoot;
  return setup.sharesFiles && root !== null ? [stateDir, root] : [stateDir];
}

/**
 * Remove what a run left on the engine (containers, tree images, volumes)
 * and in `.ratchet/tmp/` (probe directories of a killed process).
 */
async function removeLeftovers(
  runtime: ContainerRuntime,
  store: Store,
  runId: string,
): Promise<void> {
  await removeRunImages(runtime, runId).catch(() => {});
  await Deno.remove(store.paths.tmp, { recursive: true }).catch(() => {});
}

/**
 * The config file the model may not change (repository-relative), as the
 * run recorded it; runs from before it was recorded used ratchet.jsonc.
 */
function configPathOf(run: RunFile): string | null {
  return run.config_file === undefined ? REPO_CONFIG_FILE : run.config_file;
}

/**
 * What a trusted config's `"prices"` override, said at the start so a price
 * of 0 (which would defeat --max-cost-usd) is seen: a warning when a price
 * is 0, else an info line; null when nothing is overridden.
 */
export function pricesNotice(
  config: Config,
  configFile: string | null,
): RunEvent | null {
  const models = Object.entries(config.prices);
  if (models.length === 0) return null;
  const usd = (n: number) => `$${n}`;
  const free = models.some(([, p]) =>
    p.input === 0 || p.output === 0 || p.cache_write === 0 ||
    p.cache_read === 0
  );
  const message = `Prices from ${
    configFile ?? "the config"
  } override the built-in table (USD per million tokens): ${
    models.map(([model, p]) =>
      `${model} input ${usd(p.input)}, output ${usd(p.output)}, cache write ${
        usd(p.cache_write)
      }, cache read ${usd(p.cache_read)}`
    ).join("; ")
  }${
    free
      ? ". A price of 0 means those tokens never count toward --max-cost-usd"
      : ""
  }`;
  return free ? { event: "warning", message } : { event: "info", message };
}

/** The pieces a run needs once preflight has passed. */
interface Session {
  ctx: CommandContext;
  root: string;
  store: Store;
  run: RunFile;
  config: Config;
  runtime: ContainerRuntime;
  /** The engine, the trial user and the trial image (prepared). */
  setup: TrialSetup;
  events: (e: RunEvent) => void;
  view: RunView;
}

function apiKey(ctx: CommandContext): string {
  const key = ctx.env.ANTHROPIC_API_KEY;
  if (key === undefined || key.trim() === "") {
    throw new EnvironmentError("ANTHROPIC_API_KEY is not set", {
      hint: "Export your Anthropic API key: export ANTHROPIC_API_KEY=sk-ant-…",
    });
  }
  return key;
}

function buildPorts(
  s: Session,
  worktree: string,
  key: string,
): Promise<LoopPorts> {
  return (async () => {
    const config = s.config;
    const policy = policyOf(config, configPathOf(s.run));
    const envOf = (name: string) => s.ctx.env[name];
    const fault = s.ctx.deps.fault;
    const model = s.ctx.deps.model(key);
    const startTree = await treeOf(s.root, s.run.start_sha);
    const images = new TreeImages({
      runtime: s.runtime,
      runId: s.run.run_id,
      baseImage: s.setup.image,
      snapshotDir: s.store.paths.harness,
      policy,
      trialUser: s.setup.trialUser,
      fault,
      signal: s.ctx.signal,
      onBuilt: (b) =>
        s.events({
          event: "progress",
          message: `Tree ${
            b.key.slice(0, 12)
          } sent to the engine as ${b.image} (${b.files} files, ${
            (b.bytes / 1024 ** 2).toFixed(1)
          } MiB, ${b.seconds.toFixed(1)} s)`,
        }),
    });
    const spec = specContext(s.run.run_id, config, s.setup, envOf);
    const trials = trialPort({
      runtime: s.runtime,
      images,
      spec,
      config,
      saveReport: async (iter, trial, text) => {
        await s.store.saveReport(iter, trial, text);
      },
      signal: s.ctx.signal,
      diskDirs: diskDirsOf(s.store.paths.root, s.setup),
      root: s.root,
      pinned: [startTree],
    });
    const guardedTrials = {
      async trial(input: Parameters<typeof trials.trial>[0]) {
        await requireFreeSpace([s.store.paths.root], RUN_MIN_FREE_BYTES);
        fault("trial.before-start");
        return await trials.trial(input);
      },
      check: trials.check,
      retain: trials.retain,
    };
    const listing = await listSource({
      kind: "git",
      root: s.root,
      treeish: s.run.start_sha,
    });
    return {
      git: gitPort(s.root, worktree),
      trials: guardedTrials,
      proposer: proposerPort({
        model,
        config,
        policy,
        repoOverview: repoOverview(listing.entries, policy),
        events: s.events,
        sandbox: {
          runtime: s.runtime,
          images,
          spec,
          root: s.root,
          worktree,
          policy,
          trialUser: s.setup.trialUser,
          preparedRoots: s.setup.preparedRoots,
          maxFileBytes: config.maxFileSize ?? Number.POSITIVE_INFINITY,
        },
      }),
      store: s.store,
      events: s.events,
      now: s.ctx.now,
      fault,
      signal: s.ctx.signal,
    };
  })();
}

/** Run the prepare step (or reuse its result) for the run's start tree. */
async function prepare(
  s: Omit<Session, "setup">,
  setup: TrialSetup,
): Promise<TrialSetup> {
  return await prepareTrials(setup, {
    runtime: s.runtime,
    root: s.root,
    config: s.config,
    runId: s.run.run_id,
    source: { kind: "git", root: s.root, treeish: s.run.start_sha },
    env: (name) => s.ctx.env[name],
    signal: s.ctx.signal,
    onProgress: (line) => s.events({ event: "progress", message: line }),
    fault: s.ctx.deps.fault,
    preparedImage: s.run.trial_image,
  });
}

/**
 * The prepare step with its phase in current.json (`preparing`). A signal
 * during it leaves the run interrupted and resumable: the stop is written,
 * the prepare container is gone (the runtime removes a killed container)
 * and nothing is committed.
 */
async function preparePhase(
  s: Omit<Session, "setup">,
  iter: number,
  engine: TrialSetup,
): Promise<TrialSetup> {
  if (s.config.prepareCommand === null) return engine;
  await phaseWriter(s.store, s.events, s.run, s.ctx.now).preparing(iter);
  try {
    return await prepare(s, engine);
  } catch (error) {
    if (s.ctx.signal.aborted) {
      await recordStop(s.store, s.run, "interrupted", s.ctx.now());
      await removeLeftovers(s.runtime, s.store, s.run.run_id);
      s.view.close();
      s.ctx.output.err(
        `Run ${s.run.run_id} stopped (interrupted) during --prepare-command; continue with: ratchet resume`,
      );
    }
    throw error;
  }
}

/**
 * After the loop: write the stop, clean up, say how to take the result, and
 * return the exit code.
 */
async function finish(
  s: Session,
  end: LoopEnd,
  worktree: string,
  fault: FaultHook = noFault,
): Promise<number> {
  s.run = await recordStop(s.store, s.run, end.reason, s.ctx.now());
  fault("run.stop-recorded");
  // A resumable stop keeps current.json: it carries the spend of the
  // iteration cut short into the retry.
  if (end.error === null) await s.store.clearCurrent().catch(() => {});
  // Containers, tree images and cache volumes, on any ending.
  await removeLeftovers(s.runtime, s.store, s.run.run_id);
  fault("images.removed");
  const records = await s.store.readRecords();
  const best = incumbentOf(records, { confidence: s.config.confidence });
  s.events({
    event: "stopped",
    reason: end.reason,
    run_id: s.run.run_id,
    branch: s.run.branch,
    best: best ? { iter: best.iter, mean: best.mean, sha: best.sha } : null,
  });
  s.view.close();
  if (end.error) {
    if (!(end.error instanceof InterruptedError)) {
      s.ctx.output.err(
        formatError(end.error, {
          verbose: false,
          color: s.ctx.output.colorErr,
        }),
      );
    }
    s.ctx.output.err(
      `Run ${s.run.run_id} stopped (${end.reason}); continue with: ratchet resume`,
    );
    return end.error.exitCode;
  }
  await removeWorktree(s.root, worktree);
  const baseline = records[0]?.avg ?? null;
  const kept = records.filter((r) => r.iter > 0 && r.kept).length;
  const gain = best && baseline !== null && baseline !== 0
    ? ` (${fmtPct((best.mean - baseline) / Math.abs(baseline))} vs baseline ${
      fmtNum(baseline)
    })`
    : "";
  const claim = claimOf(
    await s.store.readConfirmation().catch(() => null),
    s.run.run_id,
    best?.sha ?? null,
  );
  const lines = [
    `Run ${s.run.run_id} finished: ${end.reason}. ${kept} change(s) kept; best ${
      fmtNum(best?.mean)
    }${claim === null ? gain : ""}.`,
  ];
  if (claim !== null) {
    lines.push(
      `Claimed gain: ${gainText(claim.result.gain, claim.result.ci)} (${
        confirmationBasis(claim)
      }).`,
    );
  }
  if (kept > 0) {
    lines.push(
      `Take the result with: ratchet apply   (or: git merge --squash ${s.run.branch})`,
    );
  } else {
    lines.push(
      `No change was kept; the branch ${s.run.branch} equals the start commit.`,
    );
  }
  if (!(s.view as { json?: boolean }).json) s.ctx.output.err(lines.join("\n"));
  return 0;
}

async function withLock<T>(
  store: Store,
  ctx: CommandContext,
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

/** `ratchet run`. */
export async function runRun(
  cmd: ConfigFlags & { json: boolean },
  ctx: CommandContext,
): Promise<number> {
  const root = await findRepoRoot(ctx.cwd);
  const startSha = await headSha(root);
  const dirty = await isDirty(root);
  const { config, configFile, configInRepo } = await loadConfig({
    cwd: ctx.cwd,
    repoRoot: root,
    configPath: cmd.configPath,
    flags: cmd.flags,
    trustConfig: cmd.trustConfig,
    purpose: "run",
    envModel: ctx.env.RATCHET_MODEL,
    readTextFile: (p) => Deno.readTextFile(p),
  });
  priceFor(config.model, config.prices);
  await checkGlobs(root, startSha, config);
  const key = apiKey(ctx);
  const view = makeView(cmd.json, ctx, config.iterations);
  const events = (e: RunEvent) => view.handle(e);
  const prices = pricesNotice(config, configFile);
  if (prices !== null) events(prices);
  // The engine and the image are checked before anything is written: an
  // unreachable Docker or a missing image leaves no .ratchet/ behind and
  // never archives the previous run.
  const runtime = ctx.deps.engine();
  await runtime.info();
  await checkModel(ctx, {
    apiKey: key,
    model: config.model,
    warn: (message) => events({ event: "warning", message }),
  });
  const engine = await setUpEngine({
    runtime,
    root,
    config,
    env: (name) => ctx.env[name],
    signal: ctx.signal,
    onProgress: (line) => events({ event: "progress", message: line }),
  });
  const store = ctx.deps.store(root);
  await store.init();
  return await withLock(store, ctx, events, async () => {
    const previous = await store.readRun().catch(() => null);
    if (previous !== null) {
      await removeLeftovers(runtime, store, previous.run_id);
    }
    await removeWorktree(root, store.paths.worktree).catch(() => {});
    await finishInterruptedStart(root, store, previous);
    // An archive interrupted after config.json moved still has to finish
    // (its intent file says where), or the next archive would collide.
    const hasPrevious = previous !== null ||
      await Deno.stat(store.paths.config).then(() => true, () => false) ||
      await Deno.stat(store.paths.results).then(() => true, () => false) ||
      await Deno.stat(store.paths.archiveIntent).then(() => true, () => false);
    const archived = hasPrevious ? await store.archive(ctx.now()) : null;
    if (archived) {
      events({
        event: "info",
        message: `Archived the previous run to ${archived}`,
      });
    }
    await store.init();
    const runId = makeRunId(ctx.now(), randomHex4());
    const branch = `ratchet/${runId}`;
    const run: RunFile = {
      schema_version: SCHEMA_VERSION,
      run_id: runId,
      created_at: ctx.now().toISOString(),
      repo_root: root,
      start_sha: startSha,
      branch,
      config: toFileForm(config),
      config_file: configInRepo,
      deterministic: null,
      trial_image: null,
      unit: null,
      engine: {
        endpoint: engine.info.endpoint,
        shares_filesystem: engine.sharesFiles,
      },
      state: "running",
      stop_reason: null,
      finished_at: null,
    };
    await ensureExcluded(root, ".ratchet/");
    const fault = ctx.deps.fault;
    await store.writeStartIntent({
      run_id: runId,
      branch,
      start_sha: startSha,
    });
    await createWorktree(root, store.paths.worktree, branch, startSha);
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
      start_sha: startSha,
      resumed: false,
      dirty,
      engine: engineOf(engine),
    });
    const partial = {
      ctx,
      root,
      store,
      run,
      config,
      runtime,
      events,
      view,
    };
    const setup = await preparePhase(partial, 0, engine);
    run.trial_image = setup.image;
    await store.writeRun(run);
    const session: Session = { ...partial, setup };
    return await loopSession(session, key, store.paths.worktree, []);
  });
}

/** Baseline if needed, then the loop, then the stop. */
async function loopSession(
  s: Session,
  key: string,
  worktree: string,
  records: IterationRecord[],
  resumed: { carried: Spend | null; crashTail: string | null } = {
    carried: null,
    crashTail: null,
  },
): Promise<number> {
  const ports = await buildPorts(s, worktree, key);
  let end: LoopEnd;
  try {
    if (records.length === 0) {
      await resetWorktree(worktree, s.run.start_sha);
      const startTree = await treeOf(s.root, s.run.start_sha);
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
      records.push(b.record);
      s.events({ event: "iteration", record: b.record });
      const rule = measureRule(s.config.decision, b.deterministic);
      const plan = perSide(
        rule,
        s.config,
        guardStateOf(s.config, records, null).deterministic,
      );
      s.events({
        event: "estimate",
        seconds_per_trial: b.secondsPerTrial,
        seconds_per_iteration: b.secondsPerTrial *
            trialsBeforeFirstLook(rule, plan) +
          (s.config.checkCommand ? b.secondsPerTrial : 0),
      });
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
      incumbentTree: await treeOf(s.root, inc!.sha!),
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
    if (stopped !== null) {
      end = stopped;
    } else {
      s.view.close();
      await removeLeftovers(s.runtime, s.store, s.run.run_id);
      if (error instanceof BaselineError && records.length === 0) {
        await abandonRun(s, worktree);
        throw error;
      }
      throw resumable(error, s.run.run_id);
    }
  }
  return await finish(s, end, worktree, ports.fault);
}

/**
 * The end-of-run confirmation (src/confirm.ts): the start commit and the
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
    startTree: await treeOf(s.root, s.run.start_sha),
    state,
  });
}

/**
 * A `run` killed after creating its branch but before writing config.json
 * left a branch no run owns: delete it, but only while it still points at
 * its start commit (nothing was ever committed on it).
 */
async function finishInterruptedStart(
  root: string,
  store: Store,
  previous: RunFile | null,
): Promise<void> {
  const intent = await store.readStartIntent();
  if (intent === null) return;
  if (previous?.run_id !== intent.run_id) {
    const tip = await runGit(root, [
      "rev-parse",
      "--verify",
      "--quiet",
      `refs/heads/${intent.branch}`,
    ]).catch(() => null);
    if (tip === intent.start_sha) {
      await runGit(root, ["branch", "-D", "--", intent.branch]);
    }
  }
  await store.clearStartIntent();
}

/**
 * A run stopped by something the user must fix (a rejected key, billing, an
 * engine refusing the limits) keeps everything it did: the hint says so, and
 * how to go on once fixed.
 */
function resumable(error: unknown, runId: string): unknown {
  if (!(error instanceof EnvironmentError)) return error;
  const next =
    `run ${runId} is kept: once fixed, continue it with \`ratchet resume\``;
  return new EnvironmentError(error.message, {
    hint: error.hint === undefined ? next : `${error.hint}; ${next}`,
    cause: error.cause ?? error,
  });
}

/**
 * A run whose baseline cannot be measured (exit 5) never started: remove its
 * worktree, branch, config and harness snapshot, and keep only the trial
 * reports the error points to. The next `ratchet run` starts afresh.
 */
async function abandonRun(s: Session, worktree: string): Promise<void> {
  await removeWorktree(s.root, worktree).catch(() => {});
  await runGit(s.root, ["branch", "-D", s.run.branch]).catch(() => "");
  await Deno.remove(s.store.paths.config).catch(() => {});
  await Deno.remove(s.store.paths.harness, { recursive: true }).catch(
    () => {},
  );
  // The baseline's phase (current.json) belongs to the run that never was.
  await s.store.clearCurrent().catch(() => {});
}

/** Everything the run has spent: its records and an iteration cut short. */
async function spentSoFar(
  store: Store,
  run: RunFile,
  records: readonly IterationRecord[],
): Promise<number> {
  const carried = interruptedSpend(
    await store.readCurrent().catch(() => null),
    run.run_id,
    records.length,
  );
  return records.reduce((a, r) => a + r.cost_usd, 0) +
    (carried?.costUsd ?? 0);
}

/**
 * `ratchet resume [--iterations N] [--max-cost-usd X] [--patience K]
 * [--threshold X] [--model NAME]`.
 */
export async function runResume(
  cmd: { flags: Partial<Config>; json: boolean },
  ctx: CommandContext,
): Promise<number> {
  const root = await findRepoRoot(ctx.cwd);
  const store = ctx.deps.store(root);
  const run = await store.readRun();
  if (run === null) {
    throw new EnvironmentError(`There is no run to resume in ${root}`, {
      hint: "Start one with `ratchet run`.",
    });
  }
  const before = await store.readRecords();
  const settings = resumeSettings({
    run,
    records: before,
    flags: cmd.flags,
    spentUsd: await spentSoFar(store, run, before),
  });
  const config = settings.config;
  const key = apiKey(ctx);
  const view = makeView(cmd.json, ctx, config.iterations);
  const events = (e: RunEvent) => view.handle(e);
  return await withLock(store, ctx, events, async () => {
    const records = await store.readRecords();
    if (settings.kind === "finished") {
      ctx.output.err(
        `Run ${run.run_id} already finished (${
          run.stop_reason ?? "done"
        }). Extend it with --iterations N (or a higher --max-cost-usd, --patience, --threshold), or take the result with: ratchet apply`,
      );
      // A run killed while finishing (its stop already written) can have
      // left its worktree and containers behind: finish that cleanup now.
      await removeWorktree(root, store.paths.worktree).catch(() => {});
      await removeLeftovers(
        ctx.deps.engine(),
        store,
        run.run_id,
      );
      return 0;
    }
    await checkModel(ctx, {
      apiKey: key,
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
    const engine = await setUpEngine({
      runtime,
      root,
      config,
      env: (name) => ctx.env[name],
      signal: ctx.signal,
      onProgress: (line) => events({ event: "progress", message: line }),
    });
    run.engine = {
      endpoint: engine.info.endpoint,
      shares_filesystem: engine.sharesFiles,
    };
    // Attached again if gone; at the incumbent, whatever the interrupted
    // iteration left (resume_worktree.ts).
    const worktree = store.paths.worktree;
    await restoreWorktree({
      root,
      worktree,
      branch: run.branch,
      startSha: run.start_sha,
      records,
      confidence: config.confidence,
    });
    const setup = await preparePhase(
      { ctx, root, store, run, config, runtime, events, view },
      records.length,
      engine,
    );
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
    const session: Session = {
      ctx,
      root,
      store,
      run,
      config,
      runtime,
      setup,
      events,
      view,
    };
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
    return await loopSession(session, key, worktree, records, {
      carried,
      crashTail: await crashTailOf(store, records.at(-1)),
    });
  });
}
