/**
 * One trial (spec section 5): the tree's image → a fresh container that runs
 * the setup and run commands through the wrapper → what it left behind, read
 * from the stopped container → the outcome → the saved report. Also the
 * `--check-command` gate (`runCheck`), which is the same with another command.
 *
 * Nothing here touches the host's copy of a tree: the tree (and the control
 * directory) is in its image, the wrapper's control log comes back on
 * stderr, and the setup output, the report file and, when stderr was cut,
 * the control log come back through the Engine API (never following a link, bounded in size and time), and the
 * container is removed whatever happens.
 *
 * A host-side backstop catches a command that kills the in-container
 * watchdog: without a setup command the engine's timeout is set to the trial
 * timeout plus a grace period; with one (untimed, so of unknown length)
 * ratchet watches stderr for the wrapper's "start" line and then arms its
 * own kill. A disk watch kills a trial that fills the disk holding
 * `.ratchet/` or a local engine's storage (where a trial's writes land).
 *
 * Infrastructure failures (Docker unreachable or dying: UpstreamError from
 * the runtime; image problems: EnvironmentError) propagate; they are never a
 * TrialResult.
 *
 * This file holds the steps in order; the control files are in
 * `control_files.ts`, the backstop in `backstop.ts`, the disk watch in
 * `disk_watch.ts`, and what the end means in `verdict.ts`.
 */
import type { Config } from "../config/config.ts";
import { EMPTY_CONTROL_LOG } from "../core/control_log.ts";
import {
  formatTrialReport,
  OUTPUT_CAP_BYTES,
  type TrialResult,
} from "../core/trial_report.ts";
import { RatchetError } from "../errors.ts";
import type { ContainerRuntime, RunResult } from "../infra/runtime.ts";
import type { NetnsGroup } from "../infra/netns_pool.ts";
import { backstopFor } from "./backstop.ts";
import { type SpecContext, trialSpec } from "./container_spec.ts";
import {
  collectList,
  readWrapped,
  reportPathOf,
  type Wrapped,
} from "./control_files.ts";
import {
  DISK_FILLED_DETAIL,
  DiskFilled,
  failIfDiskStillShort,
  watchDisk,
} from "./disk_watch.ts";
import type { TreeImages, TreeRef } from "./tree_images.ts";
import { type CheckResult, checkResultOf, trialResultOf } from "./verdict.ts";
import wrapper from "./wrapper.sh" with { type: "text" };

export type { TrialResult };

/** The in-container wrapper (`wrapper.sh`). */
export const WRAPPER: string = wrapper;

/** What trials need from the outside, once per run (or measure). */
export interface TrialDeps {
  runtime: ContainerRuntime;
  images: TreeImages;
  spec: SpecContext;
  config: Pick<
    Config,
    | "runCommand"
    | "setupCommand"
    | "checkCommand"
    | "trialTimeoutSeconds"
    | "reportSource"
    | "metricName"
    | "metricPattern"
    | "cache"
    | "guard"
  >;
  /** Stores the human-readable trial report (`.ratchet/reports/iter-NNNN-trial-NN.txt`). */
  saveReport?: (iter: number, trial: number, text: string) => Promise<void>;
  /** Aborting kills and removes the container; the trial then rejects. */
  signal?: AbortSignal;
  /**
   * Directories whose disks the disk watch looks at: `.ratchet/`, and a
   * local engine's storage, where what a trial writes lands.
   */
  diskDirs?: readonly string[];
}

/** One trial to run. */
export interface TrialRequest {
  iter: number;
  /** 1-based trial number within the iteration (report file name). */
  trial: number;
  side: "incumbent" | "candidate" | "baseline" | "measure";
  tree: TreeRef;
  /** The baseline's unit: a different unit is no_metric. Undefined: not checked. */
  expectedUnit?: string | null;
  /** The baseline's guard units (`--guard`); undefined: not checked. */
  expectedGuardUnits?: Record<string, string | null>;
}

/**
 * The containers of one iteration (check, trials of both sides) share one
 * loopback-only network namespace; each iteration gets a new one (see
 * `netns_pool.ts`).
 */
function sharedNetnsOf(
  runId: string,
  iter: number,
  image: string,
): NetnsGroup {
  return { key: `${runId}/${iter}`, scope: runId, image };
}

/** A result for a container the host killed and whose output is lost. */
function lostRun(stderr: string): RunResult {
  return {
    containerId: "",
    exitCode: null,
    stdout: new Uint8Array(),
    stderr: new TextEncoder().encode(`ratchet: ${stderr}\n`),
    stdoutTruncated: false,
    stderrTruncated: false,
    timedOut: false,
    oomKilled: false,
    collected: {},
    changes: null,
  };
}

/**
 * Run `command` through the wrapper in a fresh container of the tree's
 * image, with the watchdogs, and read back what it left.
 */
async function runWrapped(
  deps: TrialDeps,
  input: { iter: number; trial: string; tree: TreeRef; command: string },
  wantReport: boolean,
): Promise<Wrapped> {
  deps.signal?.throwIfAborted();
  const { config, runtime, spec: ctx } = deps;
  const image = await deps.images.imageOf(input.tree);
  const caches = await deps.images.caches(input.tree, config.cache, ctx);
  const spec = trialSpec(ctx, {
    image,
    run: {
      wrapper: WRAPPER,
      command: input.command,
      setupCommand: config.setupCommand,
      timeoutSeconds: config.trialTimeoutSeconds,
    },
    iter: input.iter,
    trial: input.trial,
    caches,
  });
  const reportPath = wantReport ? reportPathOf(config) : null;
  const collect = collectList(config.setupCommand, reportPath);

  // The backstop and the disk watch (see the module comment).
  const host = new AbortController();
  const signal = deps.signal === undefined
    ? host.signal
    : AbortSignal.any([deps.signal, host.signal]);
  const backstop = backstopFor({
    timeoutSeconds: config.trialTimeoutSeconds,
    setupCommand: config.setupCommand,
    host,
  });
  const diskDirs = deps.diskDirs ?? [];
  const disk = watchDisk(diskDirs, host);

  let run: RunResult;
  try {
    run = await runtime.run(spec, {
      timeoutMs: backstop.engineTimeoutMs,
      outputCapBytes: OUTPUT_CAP_BYTES,
      signal,
      sharedNetns: sharedNetnsOf(ctx.runId, input.iter, deps.images.baseImage),
      collect,
      ...(backstop.onStart === undefined ? {} : { onStart: backstop.onStart }),
    });
  } catch (error) {
    const reason = host.signal.reason;
    const ours = host.signal.aborted && !deps.signal?.aborted &&
      !(error instanceof RatchetError);
    if (!ours) throw error;
    // Awaited, so the watches stop (finally) only once this is done.
    return await hostKilled(runtime, diskDirs, reason);
  } finally {
    backstop.stop();
    disk.stop();
  }
  return readWrapped(run, {
    reportPath,
    setupCommand: config.setupCommand,
  });
}

/** What a container the host killed left: nothing, its output is lost. */
async function hostKilled(
  runtime: ContainerRuntime,
  diskDirs: readonly string[],
  reason: unknown,
): Promise<Wrapped> {
  if (reason instanceof DiskFilled) {
    // If the disk stays short, the trial was not the cause and the run
    // stops like any full disk (exit 4, resumable).
    await failIfDiskStillShort(runtime, diskDirs);
    return {
      run: lostRun(DISK_FILLED_DETAIL),
      log: EMPTY_CONTROL_LOG,
      killed: "disk",
      report: null,
      setupOutput: null,
    };
  }
  // The backstop: the container was killed and removed; its output is lost.
  return {
    run: lostRun(
      "the run command outlived its timeout and the in-container watchdog; the container was killed from the host and its output is lost",
    ),
    log: EMPTY_CONTROL_LOG,
    killed: "backstop",
    report: null,
    setupOutput: null,
  };
}

/**
 * Run one trial of `request.tree` and say how it went. Saves the trial's
 * report through `deps.saveReport` when given. Throws only for
 * infrastructure failures and aborts (the container is removed either way).
 */
export async function runTrial(
  deps: TrialDeps,
  request: TrialRequest,
): Promise<TrialResult> {
  const { config } = deps;
  const got = await runWrapped(deps, {
    iter: request.iter,
    trial: String(request.trial),
    tree: request.tree,
    command: config.runCommand,
  }, true);
  const result = trialResultOf(config, request, got);
  await deps.saveReport?.(
    request.iter,
    request.trial,
    formatTrialReport(result, {
      runId: deps.spec.runId,
      iter: request.iter,
      trial: request.trial,
      side: request.side,
      reportSource: config.reportSource,
      clock: got.log.wall?.clock ?? null,
      setupOutput: got.setupOutput,
    }),
  );
  return result;
}

/**
 * Run `--check-command` once on the tree, in its own fresh container, after
 * the setup command, bounded by `--trial-timeout-seconds` when set. Passed
 * means exit status 0.
 */
export async function runCheck(
  deps: TrialDeps,
  request: { iter: number; tree: TreeRef },
): Promise<CheckResult> {
  const command = deps.config.checkCommand;
  if (command === null) {
    return {
      passed: true,
      exitCode: null,
      timedOut: false,
      outputTail: "",
      detail: "no --check-command configured",
    };
  }
  const got = await runWrapped(deps, {
    iter: request.iter,
    trial: "check",
    tree: request.tree,
    command,
  }, false);
  return checkResultOf(deps.config, got);
}
