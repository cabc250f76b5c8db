/**
 * The files of a wrapped container's control directory: what ratchet puts in
 * before the start (the directory and the nonce), which paths it reads back
 * from the stopped container (the control log, the setup output, the report
 * file), and what they say. Reads go through the Engine API, never follow a
 * link and are bounded in size.
 */
import { reportFileOf } from "../core/report_source.ts";
import type { Config } from "../config/config.ts";
import {
  type ControlLog,
  controlLogEnded,
  parseControlLog,
  splitControlLines,
} from "../core/control_log.ts";
import { normalizeRelPath } from "../core/protect.ts";
import type {
  CapturedStderr,
  Collected,
  CollectWant,
  PutEntry,
  RunResult,
} from "../infra/runtime.ts";
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

/** The control directory and the nonce, put into the container before it starts. */
export function controlFiles(nonce: string, user: string): PutEntry[] {
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
 * (cut by the output cap, or mangled by the command), the setup output with
 * a setup command, and the report file when it is the report source.
 */
export function collectList(
  setupCommand: string | null,
  reportPath: string | null,
  nonce: string,
): (streams: CapturedStderr) => CollectWant[] {
  return (streams) => [
    ...(logOfStderr(streams, nonce) === null
      ? [{ path: LOG_PATH, maxBytes: LOG_CAP_BYTES }]
      : []),
    ...(setupCommand === null
      ? []
      : [{ path: SETUP_PATH, maxBytes: SETUP_OUTPUT_BYTES }]),
    ...(reportPath === null
      ? []
      : [{ path: `${WORK_DIR}/${reportPath}`, maxBytes: REPORT_CAP_BYTES }]),
  ];
}

/** The control log from the wrapper's stderr copy when whole, else null. */
function logOfStderr(
  streams: CapturedStderr,
  nonce: string,
): ControlLog | null {
  if (streams.stderrTruncated) return null;
  const log = parseControlLog(
    splitControlLines(streams.stderr, nonce).lines,
    nonce,
  );
  return controlLogEnded(log) ? log : null;
}

/** What the container that ran to its end left: its log, report and setup output. */
export function readWrapped(
  run: RunResult,
  input: {
    nonce: string;
    reportPath: string | null;
    setupCommand: string | null;
  },
): Wrapped {
  const { nonce, reportPath } = input;
  // What the command wrote to stderr, without the wrapper's lines.
  const command = { ...run, stderr: splitControlLines(run.stderr, nonce).rest };
  return {
    run: command,
    log: logOfStderr(run, nonce) ??
      parseControlLog(textOf(run.collected[LOG_PATH]), nonce),
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
