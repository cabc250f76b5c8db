/**
 * The files of a wrapped container's control directory: how they lie in
 * every tree image (the directory, the log and the setup output, owned by
 * the keeper so a command can write but not read them), which paths ratchet
 * reads back from the stopped container (the control log when stderr does
 * not hold it whole, the setup output, the report file), and what they say.
 * Reads go through the Engine API, never follow a link and are bounded in
 * size.
 */
import { reportFileOf } from "../core/report_source.ts";
import type { Config } from "../config/config.ts";
import {
  type ControlLog,
  controlLogEnded,
  controlOfStderr,
  EMPTY_CONTROL_LOG,
  parseControlLog,
} from "../core/control_log.ts";
import { normalizeRelPath } from "../core/protect.ts";
import { type Ident, keeperOf } from "../core/tree_layout.ts";
import type {
  CapturedStderr,
  Collected,
  CollectWant,
  RunResult,
} from "../infra/runtime.ts";
import type { TarItem } from "../infra/tar.ts";
import { CONTROL_DIR, WORK_DIR } from "./container_spec.ts";

/** Most of a report file that is read. */
export const REPORT_CAP_BYTES = 10 * 1024 * 1024;
/** Most of the control log read back (a command may bloat it; then it has no wall time). */
const LOG_CAP_BYTES = 1024 * 1024;
/** Setup output kept for the saved report. */
const SETUP_OUTPUT_BYTES = 64 * 1024;

/** The wrapper's control log (the nonce-tagged start and wall lines). */
export const LOG_PATH = `${CONTROL_DIR}/log`;
const SETUP_PATH = `${CONTROL_DIR}/setup.out`;

/** The report file (repo-relative) when `--report-source` names one. */
export function reportPathOf(
  config: Pick<Config, "reportSource">,
): string | null {
  const file = reportFileOf(config.reportSource);
  return file === null ? null : normalizeRelPath(file);
}

/**
 * The control directory as it lies in every tree image: the keeper's, 0755
 * (nothing in it can be removed or replaced), with the log and the setup
 * output the keeper's too, 0622: the trial user (root included: it has no
 * capability) may write and truncate them, never read them or change their
 * mode. The nonce-signed log stays unreadable to the command it times.
 */
export function controlDirItems(trial: Ident, mtime: number): TarItem[] {
  const keeper = keeperOf(trial);
  const dir = CONTROL_DIR.slice(1);
  const file = (path: string): TarItem => ({
    path,
    kind: "file",
    mode: 0o622,
    ...keeper,
    mtime,
    data: new Uint8Array(),
  });
  return [
    { path: dir, kind: "dir", mode: 0o755, ...keeper, mtime },
    file(LOG_PATH.slice(1)),
    file(SETUP_PATH.slice(1)),
  ];
}

/** A collected file's text; "" for anything else. */
export function textOf(c: Collected | undefined): string {
  return c?.kind === "file" ? new TextDecoder().decode(c.bytes) : "";
}

/** What a wrapped container left behind. */
export interface Wrapped {
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

/**
 * What to read back from the stopped container, once its streams are
 * complete: the control log only when stderr does not already hold it whole
 * (cut by the output cap) and the wrapper announced its nonce, the setup
 * output with a setup command, and the report file when it is the report
 * source.
 */
export function collectList(
  setupCommand: string | null,
  reportPath: string | null,
): (streams: CapturedStderr) => CollectWant[] {
  return (streams) => {
    const control = controlOfStderr(streams.stderr);
    return [
      ...(control !== null && !wholeIn(control.log, streams)
        ? [{ path: LOG_PATH, maxBytes: LOG_CAP_BYTES }]
        : []),
      ...(setupCommand === null
        ? []
        : [{ path: SETUP_PATH, maxBytes: SETUP_OUTPUT_BYTES }]),
      ...(reportPath === null
        ? []
        : [{ path: `${WORK_DIR}/${reportPath}`, maxBytes: REPORT_CAP_BYTES }]),
    ];
  };
}

/** Whether the log read from stderr is the whole log (stderr not cut, the log ended). */
function wholeIn(log: ControlLog, streams: CapturedStderr): boolean {
  return !streams.stderrTruncated && controlLogEnded(log);
}

/**
 * Whether the wrapper's start line is in the stderr seen so far: the
 * command (after any setup) has begun.
 */
export function startedIn(stderr: Uint8Array): boolean {
  return controlOfStderr(stderr)?.log.started === true;
}

/** What the container that ran to its end left: its log, report and setup output. */
export function readWrapped(
  run: RunResult,
  input: { reportPath: string | null; setupCommand: string | null },
): Wrapped {
  const { reportPath } = input;
  const control = controlOfStderr(run.stderr);
  return {
    // What the command wrote to stderr, without the wrapper's lines.
    run: control === null ? run : { ...run, stderr: control.rest },
    log: control === null
      ? EMPTY_CONTROL_LOG
      : wholeIn(control.log, run)
      ? control.log
      : parseControlLog(textOf(run.collected[LOG_PATH]), control.nonce),
    killed: null,
    report: reportPath === null
      ? null
      : reportOf(run.collected[`${WORK_DIR}/${reportPath}`], reportPath),
    setupOutput: input.setupCommand === null
      ? null
      : textOf(run.collected[SETUP_PATH]),
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
    text: new TextDecoder().decode(collected.bytes),
    truncated: collected.truncated,
  };
}
