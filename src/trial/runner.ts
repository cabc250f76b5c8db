/**
 * One trial (spec section 5): the tree's image → a fresh container that runs
 * the setup and run commands through the wrapper → what it left behind, read
 * from the stopped container → the outcome → the saved report. Also the
 * `--check-command` gate (`runCheck`), which is the same with another command.
 *
 * Nothing here touches the host's copy of a tree: the tree is in its image,
 * the control log, the setup output and the report file come back through
 * the Engine API (never following a link, bounded in size and time), and the
 * container is removed whatever happens.
 *
 * A host-side backstop catches a command that kills the in-container
 * watchdog: without a setup command the engine's timeout is set to the trial
 * timeout plus a grace period; with one (untimed, so of unknown length)
 * ratchet polls the control log for the wrapper's "start" line and then
 * arms its own kill. A disk watch kills a trial that fills the disk holding
 * `.ratchet/` or a local engine's storage (where a trial's writes land).
 *
 * Infrastructure failures (Docker unreachable or dying: UpstreamError from
 * the runtime; image problems: EnvironmentError) propagate; they are never a
 * TrialResult.
 */
import type { Config } from "../config/config.ts";
import { type ControlLog, parseControlLog } from "../core/control_log.ts";
import { judgeTrial } from "../core/trial_outcome.ts";
import {
  formatTrialReport,
  OUTPUT_CAP_BYTES,
  outputTail,
  type TrialResult,
} from "../core/trial_report.ts";
import { normalizeRelPath } from "../core/protect.ts";
import { reportFileOf } from "../core/report_source.ts";
import { RatchetError } from "../errors.ts";
import { lowestFree, requireFreeSpace } from "../infra/disk.ts";
import type {
  Collected,
  ContainerRuntime,
  PutEntry,
  RunResult,
} from "../infra/runtime.ts";
import type { NetnsGroup } from "../infra/netns_pool.ts";
import {
  CONTROL_DIR,
  type SpecContext,
  trialSpec,
  WORK_DIR,
} from "./container_spec.ts";
import type { TreeImages, TreeRef } from "./tree_images.ts";
import { guardTexts, withGuards } from "./guards.ts";
import { randomHex } from "../infra/random.ts";
import wrapper from "./wrapper.sh" with { type: "text" };

/** The in-container wrapper (`wrapper.sh`). */
export const WRAPPER: string = wrapper;
/** Most of a report file that is read. */
export const REPORT_CAP_BYTES = 10 * 1024 * 1024;
/** Extra time the host allows past the trial timeout before it kills. */
export const BACKSTOP_GRACE_MS = 5_000;
/** How often the host looks for the wrapper's start line (setup + timeout only). */
const POLL_MS = 200;
/** Most of the control log read back (a command may bloat it; then it has no wall time). */
const LOG_CAP_BYTES = 1024 * 1024;
/** Setup output kept for the saved report. */
const SETUP_OUTPUT_BYTES = 64 * 1024;
/**
 * Free space below which a running trial is killed: nothing else bounds what
 * a trial writes on a local engine's disk, and a run starts a trial only
 * with 1 GiB free.
 */
export const TRIAL_MIN_FREE_BYTES = 512 * 1024 ** 2;
/** How often a running trial's disk is looked at. */
const DISK_POLL_MS = 250;

const LOG_PATH = `${CONTROL_DIR}/log`;
const SETUP_PATH = `${CONTROL_DIR}/setup.out`;

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

/** The `--check-command` verdict. */
export interface CheckResult {
  passed: boolean;
  exitCode: number | null;
  timedOut: boolean;
  /** Last lines of stdout and stderr, for the record and the model. */
  outputTail: string;
  detail: string;
}

/** The report file (repo-relative) when `--report-source` names one. */
export function reportPathOf(
  config: Pick<Config, "reportSource">,
): string | null {
  const file = reportFileOf(config.reportSource);
  return file === null ? null : normalizeRelPath(file);
}

/** A host-side kill that fired because the in-container watchdog did not. */
class BackstopFired extends Error {}
/** The trial was filling the disk holding `.ratchet/`. */
class DiskFilled extends Error {}

const DISK_FILLED_DETAIL = `the trial wrote so much that less than ${
  TRIAL_MIN_FREE_BYTES / 1024 ** 2
} MiB stayed free on the disk holding .ratchet/ or the engine's storage; the container was killed`;

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

/** The control directory and the nonce, put into the container before it starts. */
function controlFiles(nonce: string, user: string): PutEntry[] {
  const [uid, gid] = user.split(":").map(Number) as [number, number];
  return [
    { path: CONTROL_DIR.slice(1), kind: "dir", mode: 0o700, uid, gid },
    {
      path: `${CONTROL_DIR.slice(1)}/nonce`,
      kind: "file",
      mode: 0o600,
      uid,
      gid,
      data: new TextEncoder().encode(nonce + "\n"),
    },
  ];
}

const decoder = new TextDecoder();

function textOf(c: Collected | undefined): string {
  return c?.kind === "file" ? decoder.decode(c.bytes) : "";
}

/** What a wrapped container left behind. */
interface Wrapped {
  run: RunResult;
  log: ControlLog;
  /** The host killed it: the backstop (time) or the disk watch. */
  killed: "backstop" | "disk" | null;
  /** The report file, when asked for. */
  report:
    | { ok: true; text: string; truncated: boolean }
    | { ok: false; message: string }
    | null;
  setupOutput: string | null;
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

/** The report file as read from the stopped container, judged. */
function reportOf(
  collected: Collected | undefined,
  reportPath: string,
): Wrapped["report"] {
  if (collected === undefined || collected.kind === "missing") {
    return {
      ok: false,
      message:
        `the report file ${reportPath} was not written by the run command`,
    };
  }
  if (collected.kind === "other") {
    return {
      ok: false,
      message: collected.type === "symlink"
        ? `the report file ${reportPath} is a symlink; ratchet does not follow it`
        : `the report path ${reportPath} is not a regular file (${collected.type})`,
    };
  }
  return {
    ok: true,
    text: decoder.decode(collected.bytes),
    truncated: collected.truncated,
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
  const nonce = randomHex(16);
  const timeoutS = config.trialTimeoutSeconds;
  const spec = trialSpec(ctx, {
    image,
    run: {
      wrapper: WRAPPER,
      command: input.command,
      setupCommand: config.setupCommand,
      timeoutSeconds: timeoutS,
    },
    iter: input.iter,
    trial: input.trial,
    caches,
  });
  const reportPath = wantReport ? reportPathOf(config) : null;
  const collect = [
    { path: LOG_PATH, maxBytes: LOG_CAP_BYTES },
    ...(config.setupCommand === null
      ? []
      : [{ path: SETUP_PATH, maxBytes: SETUP_OUTPUT_BYTES }]),
    ...(reportPath === null
      ? []
      : [{ path: `${WORK_DIR}/${reportPath}`, maxBytes: REPORT_CAP_BYTES }]),
  ];

  // The backstop and the disk watch (see the module comment).
  const host = new AbortController();
  const signal = deps.signal === undefined
    ? host.signal
    : AbortSignal.any([deps.signal, host.signal]);
  type Timer = ReturnType<typeof setTimeout>;
  const timers: { poll?: Timer; kill?: Timer; disk?: Timer } = {};
  const arm = () => {
    timers.kill = setTimeout(
      () => host.abort(new BackstopFired()),
      (timeoutS ?? 0) * 1000 + BACKSTOP_GRACE_MS,
    );
  };
  let engineTimeoutMs: number | null = null;
  if (timeoutS !== null && config.setupCommand === null) {
    engineTimeoutMs = timeoutS * 1000 + BACKSTOP_GRACE_MS;
  }
  const onStart = timeoutS === null || config.setupCommand === null
    ? undefined
    : (peek: (path: string, maxBytes: number) => Promise<Collected>) => {
      let busy = false;
      timers.poll = setInterval(async () => {
        if (busy || timers.kill !== undefined) return;
        busy = true;
        const head = await peek(LOG_PATH, 64 * 1024).catch(() => undefined);
        busy = false;
        if (
          timers.kill === undefined &&
          parseControlLog(textOf(head), nonce).started
        ) {
          clearInterval(timers.poll);
          arm();
        }
      }, POLL_MS);
    };
  const diskDirs = deps.diskDirs ?? [];
  if (diskDirs.length > 0) {
    let busy = false;
    timers.disk = setInterval(async () => {
      if (busy || host.signal.aborted) return;
      busy = true;
      const free = await lowestFree(diskDirs);
      busy = false;
      if (free !== null && free.bytes < TRIAL_MIN_FREE_BYTES) {
        host.abort(new DiskFilled(DISK_FILLED_DETAIL));
      }
    }, DISK_POLL_MS);
  }

  let run: RunResult;
  try {
    run = await runtime.run(spec, {
      timeoutMs: engineTimeoutMs,
      outputCapBytes: OUTPUT_CAP_BYTES,
      signal,
      sharedNetns: sharedNetnsOf(ctx.runId, input.iter, deps.images.baseImage),
      files: controlFiles(nonce, ctx.user),
      collect,
      ...(onStart === undefined ? {} : { onStart }),
    });
  } catch (error) {
    const reason = host.signal.reason;
    const ours = host.signal.aborted && !deps.signal?.aborted &&
      !(error instanceof RatchetError);
    if (!ours) throw error;
    if (reason instanceof DiskFilled) {
      // If the disk stays short, the trial was not the cause and the run
      // stops like any full disk (exit 4, resumable).
      await runtime.settled();
      await requireFreeSpace(diskDirs, TRIAL_MIN_FREE_BYTES);
      return {
        run: lostRun(DISK_FILLED_DETAIL),
        log: parseControlLog("", nonce),
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
      log: parseControlLog("", nonce),
      killed: "backstop",
      report: null,
      setupOutput: null,
    };
  } finally {
    clearInterval(timers.poll);
    clearInterval(timers.disk);
    clearTimeout(timers.kill);
  }
  return {
    run,
    log: parseControlLog(textOf(run.collected[LOG_PATH]), nonce),
    killed: null,
    report: reportPath === null
      ? null
      : reportOf(run.collected[`${WORK_DIR}/${reportPath}`], reportPath),
    setupOutput: config.setupCommand === null
      ? null
      : textOf(run.collected[SETUP_PATH]),
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
  const { run } = got;
  const stdout = decoder.decode(run.stdout);
  const stderr = decoder.decode(run.stderr);
  const metricJudged = got.killed === "disk"
    ? {
      outcome: "crashed" as const,
      score: null,
      unit: null,
      rule: null,
      detail: DISK_FILLED_DETAIL,
      timedOut: false,
      exitCode: null,
    }
    : judgeTrial({
      reportSource: config.reportSource,
      metricName: config.metricName,
      metricPattern: config.metricPattern,
      timeoutSeconds: config.trialTimeoutSeconds,
      exitCode: run.exitCode,
      killedForTime: got.killed === "backstop" || run.timedOut,
      oomKilled: run.oomKilled,
      log: got.log,
      stdout,
      stderr,
      stdoutTruncated: run.stdoutTruncated,
      stderrTruncated: run.stderrTruncated,
      report: got.report,
      ...(request.expectedUnit === undefined
        ? {}
        : { expectedUnit: request.expectedUnit }),
    });
  // --guard: the guards' values from the same report (trial/guards.ts).
  const judged = withGuards(metricJudged, {
    config,
    texts: guardTexts(config.reportSource, {
      stdout,
      stderr,
      stdoutTruncated: run.stdoutTruncated,
      stderrTruncated: run.stderrTruncated,
      reportText: got.report?.ok && !got.report.truncated
        ? got.report.text
        : null,
    }),
    ...(request.expectedGuardUnits === undefined
      ? {}
      : { expectedUnits: request.expectedGuardUnits }),
  });
  const result: TrialResult = {
    outcome: judged.outcome,
    score: judged.score,
    unit: judged.unit,
    rule: judged.rule,
    detail: judged.detail,
    exitCode: judged.exitCode,
    wallSeconds: got.log.wall?.seconds ?? null,
    stdout,
    stderr,
    stdoutTruncated: run.stdoutTruncated,
    stderrTruncated: run.stderrTruncated,
    timedOut: judged.timedOut,
    oomKilled: run.oomKilled,
    reportText: got.report?.ok ? got.report.text : null,
    containerId: run.containerId,
    guards: judged.guards,
    guardUnits: judged.guardUnits,
  };
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
  const { run, log } = got;
  const timedOut = got.killed === "backstop" || run.timedOut ||
    (log.timeout && log.wall === null);
  const exitCode = timedOut ? null : run.exitCode;
  const tail = outputTail(
    decoder.decode(run.stdout),
    decoder.decode(run.stderr),
  );
  const passed = got.killed === null && !timedOut && !run.oomKilled &&
    log.setupStatus === null && exitCode === 0;
  const detail = passed
    ? "check passed"
    : got.killed === "disk"
    ? DISK_FILLED_DETAIL
    : timedOut
    ? `the check command did not finish within --trial-timeout-seconds ${deps.config.trialTimeoutSeconds}`
    : run.oomKilled
    ? "the check command was killed for exceeding the memory limit"
    : log.setupStatus !== null
    ? `the setup command exited with status ${log.setupStatus} before the check`
    : `the check command exited with status ${exitCode ?? "—"}`;
  return { passed, exitCode, timedOut, outputTail: tail, detail };
}
