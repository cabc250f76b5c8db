/**
 * One trial (spec section 5): materialise the tree → plan the mounts → run
 * the setup and run commands in a fresh container → capture → extract the
 * metric → a TrialResult. Also the `--check-command` gate (`runCheck`).
 *
 * Inside the container a small POSIX-sh wrapper (WRAPPER below) runs the
 * setup command (untimed, output to a side file), then the run command under
 * `sh -c`, timing it with the best clock the image has (`date +%s%N`,
 * busybox `adjtimex` in µs, else `/proc/uptime` in 10 ms steps), and enforces
 * `--trial-timeout-seconds` with a watchdog that SIGKILLs every process of
 * the trial (`kill -9 -1`). It writes what it measured into ratchet's control
 * directory (`/.ratchet-trial/log`), each line prefixed with a nonce.
 *
 * Forgery trade-off: the command runs as the same user as the wrapper, so it
 * can write the control directory and read the wrapper's command line. The
 * nonce is therefore never on a command line or in the environment: ratchet
 * writes it to a file that the wrapper reads and truncates before the setup
 * command starts, so the nonce lives only in the wrapper's memory. A command
 * can then destroy the log (its trial has no wall time → no_metric), but it
 * cannot write a line ratchet accepts, short of reading its parent's memory
 * through ptrace — the same class as patching the harness in memory, which
 * the spec leaves to the integrity instructions and the check command.
 *
 * A host-side backstop catches a command that kills the watchdog: without a
 * setup command the engine's timeout is set to the trial timeout plus a grace
 * period; with one (untimed, so of unknown length) ratchet polls the log for
 * the wrapper's "start" line and then arms its own kill.
 *
 * Infrastructure failures (Docker unreachable or dying: UpstreamError from
 * the runtime; image or mount problems: EnvironmentError) propagate; they are
 * never a TrialResult.
 */
import { statfs } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "./config/config.ts";
import { extractMetric, type MetricResult } from "./core/metric.ts";
import { guardTexts, withGuards } from "./trial_guards.ts";
import { normalizeRelPath } from "./core/protect.ts";
import type { TrialOutcome } from "./core/state.ts";
import { RatchetError, UpstreamError } from "./errors.ts";
import {
  materialize,
  type Owner,
  parseOwner,
  tmpRootOf,
  type TreeSource,
} from "./infra/materialize.ts";
import {
  cacheMounts,
  CONTROL_DIR,
  extraMounts,
  HOME_DIR,
  planTrialMounts,
  systemMounts,
  WORK_DIR,
} from "./infra/mounts.ts";
import type {
  ContainerRuntime,
  ContainerSpec,
  EngineInfo,
  Limits,
  Mount,
  RunResult,
} from "./infra/runtime.ts";
import type { NetnsGroup } from "./infra/netns_pool.ts";
import type { TrialSummary } from "./loop_ports.ts";

/** Cap per output stream (spec: 10 MiB, the cap recorded). */
export const OUTPUT_CAP_BYTES = 10 * 1024 * 1024;
/** Most of a report file that is read. */
export const REPORT_CAP_BYTES = 10 * 1024 * 1024;
/** Extra time the host allows past the trial timeout before it kills. */
export const BACKSTOP_GRACE_MS = 5_000;
/** How often the host looks for the wrapper's start line (setup + timeout only). */
const POLL_MS = 200;
/** Bytes of the control log read from each end (a command may bloat it). */
const LOG_READ_BYTES = 64 * 1024;
/** Setup output kept for the saved report. */
const SETUP_OUTPUT_BYTES = 64 * 1024;

/**
 * The in-container wrapper. Arguments: $1 the command, $2 the setup command
 * (or empty), $3 the timeout in seconds (or empty). Exits with the command's
 * status (or the setup command's when that failed).
 */
export const WRAPPER = `c=${CONTROL_DIR}
n=
read -r n < "$c/nonce" 2>/dev/null
: > "$c/nonce" 2>/dev/null
[ -n "$n" ] || { echo "ratchet: the trial control file is missing" >&2; exit 125; }
r() { printf '%s %s\\n' "$n" "$*" >> "$c/log"; }
k=up
case $EPOCHREALTIME in
  [0-9]*[.,][0-9]*) k=er ;;
  *)
    v=$(date +%s%N 2>/dev/null)
    case $v in ''|*[!0-9]*) adjtimex >/dev/null 2>&1 && k=us ;; *) k=ns ;; esac ;;
esac
now() {
  case $k in
    ns) date +%s%N ;;
    us) adjtimex 2>/dev/null | sed -n -e 's/^ *time\\.tv_sec: *\\([0-9]*\\).*/\\1/p' -e 's/^ *time\\.tv_usec: *\\([0-9]*\\).*/\\1/p' | tr '\\n' ':' ;;
    *) read -r v _ < /proc/uptime; echo "$v" ;;
  esac
}
if [ -n "$2" ]; then
  (cd ${WORK_DIR} && exec sh -c "$2") > "$c/setup.out" 2>&1 < /dev/null
  s=$?
  if [ "$s" -ne 0 ]; then r setup "$s"; exit "$s"; fi
fi
cd ${WORK_DIR} || exit 125
r start
if [ $k = er ]; then t0=$EPOCHREALTIME; else t0=$(now); fi
if [ -n "$3" ]; then
  sh -c "$1" & p=$!
  (sleep "$3"; r timeout; kill -9 -1) < /dev/null > /dev/null 2>&1 & w=$!
  wait "$p"; s=$?
  if [ $k = er ]; then t1=$EPOCHREALTIME; else t1=$(now); fi
  kill -9 "$w" 2>/dev/null
else
  sh -c "$1"; s=$?
  if [ $k = er ]; then t1=$EPOCHREALTIME; else t1=$(now); fi
fi
r wall "$k" "$t0" "$t1" "$s"
exit "$s"
`;

/** What a trial needs from the outside. */
export interface TrialDeps {
  runtime: ContainerRuntime;
  /** Reads a host variable; only `--pass-env` names are ever asked for. */
  env: (name: string) => string | undefined;
  /** Stores the human-readable trial report (`.ratchet/reports/iter-NNNN-trial-NN.txt`). */
  saveReport?: (iter: number, trial: number, text: string) => Promise<void>;
  /** Aborting kills and removes the container; the trial then rejects. */
  signal?: AbortSignal;
}

/** One trial to run. */
export interface TrialRequest {
  runId: string;
  iter: number;
  /** 1-based trial number within the iteration (report file name). */
  trial: number;
  side: "incumbent" | "candidate" | "baseline" | "measure";
  /** The tree to measure: a git tree or a plain checkout directory. */
  source: TreeSource;
  /** The repository root: `.ratchet/tmp/` lives there, `--mount` sources are relative to it. */
  repoRoot: string;
  /** The pinned harness snapshot (`.ratchet/harness/`), or null to protect the harness from the tree copy itself. */
  harnessDir: string | null;
  config: Config;
  /** The trial image. */
  image: string;
  /** "uid:gid" owning the repository; trials run as it (0:0 on rootless engines). */
  repoOwner: string;
  /** The baseline's unit: a different unit is no_metric. Undefined: not checked. */
  expectedUnit?: string | null;
  /** The baseline's guard units (`--guard`); undefined: not checked. */
  expectedGuardUnits?: Record<string, string | null>;
  /** Extra container labels (tests add `ratchet.test`). */
  labels?: Record<string, string>;
  /** Whether the engine is rootless, when the caller already asked it; else `info()` is asked once per runtime. */
  rootless?: boolean;
}

/** Everything one trial produced. */
export interface TrialResult {
  outcome: TrialOutcome;
  score: number | null;
  unit: string | null;
  rule: string | null;
  exitCode: number | null;
  /** The run command's wall time measured inside the container (null when unknown). */
  wallSeconds: number | null;
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  timedOut: boolean;
  oomKilled: boolean;
  /** The report file's text when `--report-source` is a path (stdout/stderr are above). */
  reportText: string | null;
  /** Why the trial is not `ok` (extraction message, exit code …); "" when ok. */
  detail: string;
  containerId: string;
  /** Each `--guard`'s value (null when the trial is not ok); see trial_guards.ts. */
  guards: Record<string, number | null>;
  /** Each guard's non-time unit (null for plain numbers and times). */
  guardUnits: Record<string, string | null>;
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

/** What the wrapper wrote into the control log. */
export interface ControlLog {
  started: boolean;
  /** The setup command's non-zero status, when it failed. */
  setupStatus: number | null;
  /** The watchdog fired. */
  timeout: boolean;
  /** Wall time of the command in seconds, and which clock measured it. */
  wall: { seconds: number; clock: string; status: number } | null;
}

/** Clock names written by the wrapper, for messages. */
export const CLOCKS: Readonly<Record<string, string>> = {
  // The shell's own clock (busybox ash, bash): no process forked to read it.
  er: "$EPOCHREALTIME (µs)",
  ns: "date +%s%N (ns)",
  us: "adjtimex (µs)",
  up: "/proc/uptime (10 ms)",
};

/** A wrapper timestamp in nanoseconds, or null when malformed. */
export function clockNs(clock: string, value: string): bigint | null {
  if (clock === "ns") return /^\d{1,25}$/.test(value) ? BigInt(value) : null;
  if (clock === "us") {
    const m = /^(\d{1,20}):(\d{1,6}):?$/.exec(value);
    return m ? BigInt(m[1]!) * 1_000_000_000n + BigInt(m[2]!) * 1000n : null;
  }
  // Decimal seconds: $EPOCHREALTIME (a fraction always, "," in some
  // locales) and /proc/uptime (a fraction of up to 2 digits).
  const decimal = clock === "er"
    ? /^(\d{1,20})[.,](\d{1,9})$/.exec(value)
    : clock === "up"
    ? /^(\d{1,20})(?:\.(\d{1,9}))?$/.exec(value)
    : null;
  if (decimal) {
    return BigInt(decimal[1]!) * 1_000_000_000n +
      BigInt((decimal[2] ?? "").padEnd(9, "0"));
  }
  return null;
}

/** Parse the control log; lines without the nonce (forgeries, noise) are ignored. */
export function parseControlLog(text: string, nonce: string): ControlLog {
  const log: ControlLog = {
    started: false,
    setupStatus: null,
    timeout: false,
    wall: null,
  };
  for (const line of text.split("\n")) {
    const parts = line.trim().split(/\s+/);
    if (parts[0] !== nonce) continue;
    const [, kind, a, b, c, d] = parts;
    if (kind === "start") log.started = true;
    else if (kind === "timeout") log.timeout = true;
    else if (kind === "setup" && a !== undefined && /^\d+$/.test(a)) {
      log.setupStatus ??= Number(a);
    } else if (
      kind === "wall" && log.wall === null && a !== undefined &&
      b !== undefined && c !== undefined && d !== undefined
    ) {
      const t0 = clockNs(a, b);
      const t1 = clockNs(a, c);
      if (t0 !== null && t1 !== null && t1 >= t0 && /^\d+$/.test(d)) {
        log.wall = {
          seconds: Number(t1 - t0) / 1e9,
          clock: a,
          status: Number(d),
        };
      }
    }
  }
  return log;
}

/** The environment of a trial: HOME plus the `--pass-env` names the host has; never ANTHROPIC_*. */
export function trialEnv(
  passEnv: readonly string[],
  read: (name: string) => string | undefined,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of passEnv) {
    // Config validation refuses these; this is the last line of defence.
    if (/^ANTHROPIC_/i.test(name)) continue;
    const value = read(name);
    if (value !== undefined) env[name] = value;
  }
  // ratchet's HOME wins: it is the one place known to be writable.
  env.HOME = HOME_DIR;
  return env;
}

/** Container limits from the config. */
export function limitsOf(config: Config): Limits {
  return {
    cpus: config.cpus,
    memoryBytes: config.memory,
    pidsLimit: config.pidsLimit,
    shmSizeBytes: config.shmSize,
    gpus: config.gpus,
  };
}

/** The report file (repo-relative) when `--report-source` names one. */
export function reportPathOf(config: Config): string | null {
  return ["stdout", "stderr", "wall"].includes(config.reportSource)
    ? null
    : normalizeRelPath(config.reportSource);
}

/** Last `maxLines` lines (at most `maxChars` characters) of a text. */
export function tailOf(text: string, maxLines = 40, maxChars = 4000): string {
  const lines = text.replace(/\s+$/, "").split("\n");
  let out = lines.slice(-maxLines).join("\n");
  if (out.length > maxChars) out = "…" + out.slice(out.length - maxChars);
  return out;
}

/** The tail of a trial's stdout and stderr, labelled, for the model and records. */
export function outputTail(stdout: string, stderr: string): string {
  const parts: string[] = [];
  if (stdout.trim() !== "") {
    parts.push(`--- stdout (tail) ---\n${tailOf(stdout)}`);
  }
  if (stderr.trim() !== "") {
    parts.push(`--- stderr (tail) ---\n${tailOf(stderr)}`);
  }
  return parts.length === 0 ? "(no output)" : parts.join("\n");
}

/** The loop's view of a trial. */
export function toTrialSummary(result: TrialResult): TrialSummary {
  return {
    outcome: result.outcome,
    score: result.score,
    unit: result.unit,
    wallSeconds: result.wallSeconds,
    detail: result.detail,
    outputTail: outputTail(result.stdout, result.stderr),
    guards: result.guards,
    guardUnits: result.guardUnits,
  };
}

/** The facts that decide a trial's outcome. */
export interface OutcomeInput {
  timedOut: boolean;
  oomKilled: boolean;
  setupStatus: number | null;
  exitCode: number | null;
  timeoutSeconds: number | null;
  /** The extraction, or a reason there was nothing to extract from. */
  metric: MetricResult | { ok: false; message: string };
  expectedUnit?: string | null;
}

/**
 * Outcome, score and detail, in the spec's order of precedence: timeout,
 * OOM, crash (setup or run command non-zero), then the metric (missing,
 * NaN, infinite, or a unit other than the baseline's → no_metric).
 */
export function decideOutcome(
  input: OutcomeInput,
): {
  outcome: TrialOutcome;
  score: number | null;
  unit: string | null;
  rule: string | null;
  detail: string;
} {
  const fail = (outcome: TrialOutcome, detail: string) => ({
    outcome,
    score: null,
    unit: null,
    rule: null,
    detail,
  });
  if (input.timedOut) {
    return fail(
      "timeout",
      `the run command did not finish within --trial-timeout-seconds ${
        input.timeoutSeconds ?? "?"
      }; all its processes were killed`,
    );
  }
  if (input.oomKilled) {
    return fail(
      "oom",
      "a process was killed for exceeding the memory limit (--memory)",
    );
  }
  if (input.setupStatus !== null) {
    return fail(
      "crashed",
      `the setup command (--setup-command) exited with status ${input.setupStatus}`,
    );
  }
  if (input.exitCode !== 0) {
    return fail(
      "crashed",
      input.exitCode === null
        ? "the run command ended without an exit status"
        : `the run command exited with status ${input.exitCode}${
          input.exitCode > 128 && input.exitCode < 160
            ? ` (killed by signal ${input.exitCode - 128})`
            : ""
        }`,
    );
  }
  const m = input.metric;
  if (!m.ok) return fail("no_metric", m.message);
  if (input.expectedUnit !== undefined && m.unit !== input.expectedUnit) {
    return {
      outcome: "no_metric",
      score: null,
      unit: m.unit,
      rule: m.rule,
      detail: `the metric's unit ${
        m.unit === null ? "(none)" : `"${m.unit}"`
      } differs from the baseline's ${
        input.expectedUnit === null ? "(none)" : `"${input.expectedUnit}"`
      }`,
    };
  }
  return {
    outcome: "ok",
    score: m.value,
    unit: m.unit,
    rule: m.rule,
    detail: "",
  };
}

/** Metadata printed at the top of a saved trial report. */
export interface ReportMeta {
  runId: string;
  iter: number;
  trial: number;
  side: string;
  reportSource: string;
  clock: string | null;
  setupOutput: string | null;
}

/** The report's `guards:` line (`--guard`), or nothing without guards. */
function guardLine(result: TrialResult): string[] {
  const names = Object.keys(result.guards ?? {});
  if (names.length === 0) return [];
  return [
    `guards:      ${
      names.map((n) => {
        const v = result.guards[n];
        const u = result.guardUnits?.[n];
        return `${n}=${v === null || v === undefined ? "—" : String(v)}${
          u ? ` ${u}` : ""
        }`;
      }).join(", ")
    }`,
  ];
}

/** The human-readable `.ratchet/reports/iter-NNNN-trial-NN.txt`. */
export function formatTrialReport(
  result: TrialResult,
  meta: ReportMeta,
): string {
  const yesNo = (b: boolean) => (b ? "yes" : "no");
  const mib = OUTPUT_CAP_BYTES / 1024 / 1024;
  const lines = [
    `ratchet trial report — run ${meta.runId}, ${
      meta.iter < 0 ? "end-of-run confirmation" : `iteration ${meta.iter}`
    }, trial ${meta.trial} (${meta.side})`,
    `outcome:     ${result.outcome}`,
    `score:       ${result.score === null ? "—" : String(result.score)}${
      result.unit === null ? "" : ` ${result.unit}`
    }${result.rule === null ? "" : ` (rule: ${result.rule})`}`,
    `exit code:   ${result.exitCode === null ? "—" : result.exitCode}`,
    `wall time:   ${
      result.wallSeconds === null ? "—" : `${result.wallSeconds.toFixed(6)} s`
    }${
      meta.clock === null ? "" : ` (clock: ${CLOCKS[meta.clock] ?? meta.clock})`
    }`,
    ...guardLine(result),
    `timed out:   ${yesNo(result.timedOut)}`,
    `oom-killed:  ${yesNo(result.oomKilled)}`,
    `container:   ${result.containerId}`,
  ];
  if (result.detail !== "") lines.push(`detail:      ${result.detail}`);
  const section = (title: string, body: string) =>
    `\n===== ${title} =====\n${body}${
      body.endsWith("\n") || body === "" ? "" : "\n"
    }`;
  let text = lines.join("\n") + "\n";
  if (meta.setupOutput !== null) {
    text += section("setup command output", meta.setupOutput);
  }
  if (result.reportText !== null) {
    text += section(`report (${meta.reportSource})`, result.reportText);
  } else {
    text += `\nreport source: ${meta.reportSource}\n`;
  }
  text += section(
    `stdout (${byteLength(result.stdout)} bytes${
      result.stdoutTruncated ? `, truncated at ${mib} MiB` : ""
    })`,
    result.stdout,
  );
  text += section(
    `stderr (${byteLength(result.stderr)} bytes${
      result.stderrTruncated ? `, truncated at ${mib} MiB` : ""
    })`,
    result.stderr,
  );
  return text;
}

/**
 * Read back what `formatTrialReport` wrote: the side, the outcome and both
 * streams. Null for text that is not a trial report.
 */
export function parseTrialReport(
  text: string,
): { side: string; outcome: string; stdout: string; stderr: string } | null {
  const head = /^ratchet trial report — .*\((\w+)\)\noutcome: +(\w+)\n/.exec(
    text,
  );
  // The streams are the last two sections; searching from the end keeps a
  // stdout that prints a section line from being cut short.
  const errAt = text.lastIndexOf("\n===== stderr (");
  const outAt = errAt < 0 ? -1 : text.lastIndexOf("\n===== stdout (", errAt);
  if (head === null || outAt < 0) return null;
  const body = (from: number, to: number) => {
    const start = text.indexOf("=====\n", from + 8);
    return start < 0 || start > to ? "" : text.slice(start + 6, to);
  };
  return {
    side: head[1]!,
    outcome: head[2]!,
    stdout: body(outAt, errAt),
    stderr: body(errAt, text.length),
  };
}

function byteLength(text: string): number {
  return new TextEncoder().encode(text).length;
}

const decoder = new TextDecoder();

/** Up to `head` bytes from the start and `tail` from the end of a file ("" when missing). */
async function readEnds(
  path: string,
  head: number,
  tail: number,
): Promise<string> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return "";
  }
  try {
    const size = (await file.stat()).size;
    const readAt = async (offset: number, length: number) => {
      await file.seek(offset, Deno.SeekMode.Start);
      const buf = new Uint8Array(length);
      let filled = 0;
      while (filled < length) {
        const n = await file.read(buf.subarray(filled));
        if (n === null) break;
        filled += n;
      }
      return decoder.decode(buf.subarray(0, filled));
    };
    if (size <= head + tail) return await readAt(0, size);
    return (await readAt(0, head)) + "\n" +
      (await readAt(size - tail, tail));
  } finally {
    file.close();
  }
}

/**
 * Read the report file from the trial's tree copy after the container has
 * stopped. Refuses a path that leaves the copy, passes through a symlink or
 * is one (a trial could otherwise make ratchet read any host file), and
 * anything but a regular file.
 */
export async function readReportFile(
  treeDir: string,
  reportPath: string,
): Promise<
  { ok: true; text: string; truncated: boolean } | {
    ok: false;
    message: string;
  }
> {
  const rel = normalizeRelPath(reportPath);
  if (rel === "" || rel === ".." || rel.startsWith("../")) {
    return {
      ok: false,
      message: `the report path ${reportPath} is outside the repository`,
    };
  }
  const parts = rel.split("/");
  for (let i = 1; i <= parts.length; i++) {
    const sub = parts.slice(0, i).join("/");
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(join(treeDir, sub));
    } catch {
      return {
        ok: false,
        message:
          `the report file ${reportPath} was not written by the run command`,
      };
    }
    if (info.isSymlink) {
      return {
        ok: false,
        message: i === parts.length
          ? `the report file ${reportPath} is a symlink; ratchet does not follow it`
          : `the report path ${reportPath} passes through the symlink ${sub}; ratchet does not follow it`,
      };
    }
    if (i < parts.length && !info.isDirectory) {
      return {
        ok: false,
        message: `the report path ${reportPath}: ${sub} is not a directory`,
      };
    }
    if (i === parts.length && !info.isFile) {
      return {
        ok: false,
        message: `the report path ${reportPath} is not a regular file`,
      };
    }
  }
  // Belt and braces: the resolved path must still be inside the copy.
  const full = join(treeDir, rel);
  const [real, root] = await Promise.all([
    Deno.realPath(full),
    Deno.realPath(treeDir),
  ]);
  if (!real.startsWith(root + "/")) {
    return {
      ok: false,
      message:
        `the report file ${reportPath} resolves outside the trial's tree`,
    };
  }
  using file = await Deno.open(full, { read: true });
  const buf = new Uint8Array(REPORT_CAP_BYTES + 1);
  let filled = 0;
  while (filled < buf.length) {
    const n = await file.read(buf.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  const truncated = filled > REPORT_CAP_BYTES;
  return {
    ok: true,
    text: decoder.decode(buf.subarray(0, Math.min(filled, REPORT_CAP_BYTES))),
    truncated,
  };
}

const engineInfo = new WeakMap<ContainerRuntime, Promise<EngineInfo>>();

/**
 * The engine's facts, asked once per runtime. A failure here happens
 * mid-run (the run checked the engine at start), so it is upstream (exit 4).
 */
async function infoOf(runtime: ContainerRuntime): Promise<EngineInfo> {
  let info = engineInfo.get(runtime);
  if (info === undefined) {
    info = runtime.info();
    engineInfo.set(runtime, info);
    info.catch(() => engineInfo.delete(runtime));
  }
  try {
    return await info;
  } catch (error) {
    if (error instanceof UpstreamError) throw error;
    throw new UpstreamError(
      error instanceof Error ? error.message : String(error),
      {
        hint: "Make sure Docker is running, then `ratchet resume`.",
        cause: error,
      },
    );
  }
}

/** The user a trial runs as: the repo's owner, or 0:0 on a rootless engine. */
async function trialUser(
  runtime: ContainerRuntime,
  request: TrialRequest,
): Promise<{ user: string; owner: Owner | null }> {
  const rootless = request.rootless ?? (await infoOf(runtime)).rootless;
  if (rootless) return { user: "0:0", owner: null };
  return { user: request.repoOwner, owner: parseOwner(request.repoOwner) };
}

const preparedCaches = new WeakMap<
  ContainerRuntime,
  Map<string, Promise<void>>
>();

/**
 * Create the run's `--cache` volumes once and open them to the trial user:
 * a fresh volume is root-owned, and with every capability dropped the trial
 * could not write to it. A helper container (root, same image, so Docker
 * first copies the image's content at that path) makes each volume's root
 * world-writable with the sticky bit, like /tmp.
 */
async function prepareCaches(
  runtime: ContainerRuntime,
  request: TrialRequest,
  mounts: Mount[],
): Promise<void> {
  let known = preparedCaches.get(runtime);
  if (known === undefined) {
    known = new Map();
    preparedCaches.set(runtime, known);
  }
  const missing = mounts.filter((m) => !known.has(m.source));
  if (missing.length === 0) {
    await Promise.all(mounts.map((m) => known.get(m.source)));
    return;
  }
  const work = (async () => {
    for (const m of missing) {
      await runtime.createVolume(m.source, {
        "ratchet.run": request.runId,
        "ratchet.cache": m.target,
        ...request.labels,
      });
    }
    await runtime.run({
      image: request.image,
      cmd: [
        "sh",
        "-c",
        'for d in "$@"; do chmod 1777 "$d"; done',
        "ratchet-cache",
        ...missing.map((m) => m.target),
      ],
      workingDir: "/",
      env: {},
      user: "0:0",
      mounts: missing,
      network: "none",
      limits: limitsOf(request.config),
      labels: {
        "ratchet.run": request.runId,
        "ratchet.iter": String(request.iter),
        "ratchet.trial": "cache",
        ...request.labels,
      },
    }, { timeoutMs: 60_000, outputCapBytes: 64 * 1024 });
  })();
  for (const m of missing) known.set(m.source, work);
  work.catch(() => {
    for (const m of missing) known.delete(m.source);
  });
  await work;
  await Promise.all(mounts.map((m) => known.get(m.source)));
}

/** A host-side kill that fired because the in-container watchdog did not. */
class BackstopFired extends Error {}

/**
 * Free space below which a running trial is killed: the tree copy lives on
 * the disk holding `.ratchet/`, and nothing else bounds what a trial writes
 * there (a run starts a trial only with 1 GiB free).
 */
export const TRIAL_MIN_FREE_BYTES = 512 * 1024 ** 2;
/** How often a running trial's disk is looked at. */
const DISK_POLL_MS = 250;

/** The trial was filling the disk holding `.ratchet/`. */
class DiskFilled extends Error {}

/**
 * The containers of one iteration (check, trials of both sides) share one
 * loopback-only network namespace; each iteration gets a new one (see
 * `netns_pool.ts`).
 */
function sharedNetnsOf(
  request: { runId: string; iter: number },
): NetnsGroup {
  return { key: `${request.runId}/${request.iter}`, scope: request.runId };
}

async function freeBytes(dir: string): Promise<number | null> {
  const s = await statfs(dir).catch(() => null);
  return s === null ? null : Number(s.bavail) * Number(s.bsize);
}

const DISK_FILLED_DETAIL = `the trial wrote so much that less than ${
  TRIAL_MIN_FREE_BYTES / 1024 ** 2
} MiB stayed free on the disk holding .ratchet/; the container was killed and its copy of the tree removed`;

interface ContainerOutcome {
  run: RunResult;
  log: ControlLog;
  backstop: boolean;
  /** Killed by the disk watch (DISK_FILLED_DETAIL). */
  diskFilled: boolean;
  reportText: string | null;
  reportProblem: string | null;
  setupOutput: string | null;
}

/**
 * Materialise, mount, run `command` through the wrapper, and collect what
 * the container left behind. The trial directory is removed in every case.
 */
async function runWrapped(
  deps: TrialDeps,
  request: TrialRequest,
  command: string,
  trialLabel: string,
  wantReport: boolean,
): Promise<ContainerOutcome> {
  const { config, runtime } = { config: request.config, runtime: deps.runtime };
  deps.signal?.throwIfAborted();
  const { user, owner } = await trialUser(runtime, request);
  const caches = cacheMounts(request.runId, config.cache);
  const extras = await extraMounts(request.repoRoot, config.mount);
  if (caches.length > 0) await prepareCaches(runtime, request, caches);

  await using trial = await materialize(request.source, {
    tmpRoot: tmpRootOf(request.repoRoot),
    label: `${sanitize(request.runId)}-i${request.iter}-${trialLabel}`,
    owner,
  });
  const reportPath = reportPathOf(config);
  if (reportPath !== null) {
    // A stale report (committed, or left by whoever made the tree) must not
    // count as this trial's.
    await Deno.remove(join(trial.tree, reportPath), { recursive: true }).catch(
      () => {},
    );
  }
  const plan = await planTrialMounts({
    treeDir: trial.tree,
    harnessDir: request.harnessDir,
    harness: config.harness,
    editable: config.editable,
    scratch: config.scratch,
    reportPath,
    owner,
  });
  const nonce = randomHex(16);
  await Deno.writeTextFile(join(trial.ctl, "nonce"), nonce + "\n", {
    mode: 0o600,
  });
  if (owner !== null && Deno.uid() === 0 && owner.uid !== 0) {
    await Deno.chown(join(trial.ctl, "nonce"), owner.uid, owner.gid);
  }

  const timeoutS = config.trialTimeoutSeconds;
  const spec: ContainerSpec = {
    image: request.image,
    cmd: [
      "sh",
      "-c",
      WRAPPER,
      "ratchet-trial",
      command,
      config.setupCommand ?? "",
      timeoutS === null ? "" : String(timeoutS),
    ],
    workingDir: WORK_DIR,
    env: trialEnv(config.passEnv, deps.env),
    user,
    mounts: [...plan.mounts, ...systemMounts(trial.ctl), ...caches, ...extras],
    network: config.network,
    limits: limitsOf(config),
    labels: {
      "ratchet.run": request.runId,
      "ratchet.iter": String(request.iter),
      "ratchet.trial": trialLabel.replace(/^t/, ""),
      ...request.labels,
    },
  };

  // The backstop (see the module comment).
  const backstop = new AbortController();
  const signal = deps.signal === undefined
    ? backstop.signal
    : AbortSignal.any([deps.signal, backstop.signal]);
  let poller: ReturnType<typeof setInterval> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    timer = setTimeout(
      () => backstop.abort(new BackstopFired()),
      (timeoutS ?? 0) * 1000 + BACKSTOP_GRACE_MS,
    );
  };
  let engineTimeoutMs: number | null = null;
  if (timeoutS !== null) {
    if (config.setupCommand === null) {
      engineTimeoutMs = timeoutS * 1000 + BACKSTOP_GRACE_MS;
    } else {
      let busy = false;
      poller = setInterval(async () => {
        if (busy || timer !== undefined) return;
        busy = true;
        const head = await readEnds(join(trial.ctl, "log"), LOG_READ_BYTES, 0)
          .catch(() => "");
        busy = false;
        if (timer === undefined && parseControlLog(head, nonce).started) {
          clearInterval(poller);
          arm();
        }
      }, POLL_MS);
    }
  }

  // The disk watch: see TRIAL_MIN_FREE_BYTES.
  let diskBusy = false;
  const diskWatch = setInterval(async () => {
    if (diskBusy || backstop.signal.aborted) return;
    diskBusy = true;
    const free = await freeBytes(trial.dir);
    diskBusy = false;
    if (free !== null && free < TRIAL_MIN_FREE_BYTES) {
      backstop.abort(new DiskFilled(DISK_FILLED_DETAIL));
    }
  }, DISK_POLL_MS);

  let run: RunResult;
  let backstopFired = false;
  let diskFilled = false;
  try {
    run = await runtime.run(spec, {
      timeoutMs: engineTimeoutMs,
      outputCapBytes: OUTPUT_CAP_BYTES,
      signal,
      sharedNetns: sharedNetnsOf(request),
    });
  } catch (error) {
    if (
      error instanceof DiskFilled ||
      (backstop.signal.reason instanceof DiskFilled && !deps.signal?.aborted &&
        !(error instanceof RatchetError))
    ) {
      // Free the copy now: if the disk stays short, the trial was not the
      // cause and the run stops like any full disk (exit 4, resumable).
      await trial.remove();
      const free = await freeBytes(tmpRootOf(request.repoRoot));
      if (free !== null && free < TRIAL_MIN_FREE_BYTES) {
        throw new UpstreamError(
          `Only ${(free / 1024 ** 2).toFixed(0)} MiB free on the disk holding ${
            tmpRootOf(request.repoRoot)
          }`,
          { hint: "Free at least 1 GiB there, then run `ratchet resume`." },
        );
      }
      diskFilled = true;
      run = {
        containerId: "",
        exitCode: null,
        stdout: new TextEncoder().encode(""),
        stderr: new TextEncoder().encode(`ratchet: ${DISK_FILLED_DETAIL}\n`),
        stdoutTruncated: false,
        stderrTruncated: false,
        timedOut: false,
        oomKilled: false,
      };
      return {
        run,
        log: parseControlLog("", nonce),
        backstop: false,
        diskFilled,
        reportText: null,
        reportProblem: null,
        setupOutput: null,
      };
    }
    const ours = error instanceof BackstopFired ||
      (backstop.signal.aborted && !deps.signal?.aborted &&
        !(error instanceof RatchetError));
    if (!ours) throw error;
    // The engine killed and removed the container; its output is lost.
    backstopFired = true;
    run = {
      containerId: "",
      exitCode: null,
      stdout: new TextEncoder().encode(""),
      stderr: new TextEncoder().encode(
        "ratchet: the run command outlived its timeout and the in-container watchdog; the container was killed from the host and its output is lost\n",
      ),
      stdoutTruncated: false,
      stderrTruncated: false,
      timedOut: true,
      oomKilled: false,
    };
  } finally {
    clearInterval(poller);
    clearInterval(diskWatch);
    clearTimeout(timer);
  }

  const log = parseControlLog(
    await readEnds(join(trial.ctl, "log"), LOG_READ_BYTES, LOG_READ_BYTES),
    nonce,
  );
  const setupOutput = config.setupCommand === null
    ? null
    : await readEnds(join(trial.ctl, "setup.out"), 0, SETUP_OUTPUT_BYTES);
  let reportText: string | null = null;
  let reportProblem: string | null = null;
  if (wantReport && reportPath !== null) {
    const read = await readReportFile(trial.tree, reportPath);
    if (read.ok) {
      reportText = read.text;
      if (read.truncated) {
        reportProblem = `the report file is larger than ${
          REPORT_CAP_BYTES / 1024 / 1024
        } MiB; only its start was read`;
      }
    } else {
      reportProblem = read.message;
    }
  }
  return {
    run,
    log,
    backstop: backstopFired,
    diskFilled,
    reportText,
    reportProblem,
    setupOutput,
  };
}

function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

function sanitize(text: string): string {
  return text.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 40);
}

/**
 * Run one trial of `request.source` and say how it went. Saves the trial's
 * report through `deps.saveReport` when given. Throws only for
 * infrastructure failures and aborts (the container is removed either way).
 */
export async function runTrial(
  deps: TrialDeps,
  request: TrialRequest,
): Promise<TrialResult> {
  const { config } = request;
  const got = await runWrapped(
    deps,
    request,
    config.runCommand,
    `t${request.trial}`,
    true,
  );
  const { run, log } = got;
  const stdout = decoder.decode(run.stdout);
  const stderr = decoder.decode(run.stderr);
  const timedOut = got.backstop || run.timedOut ||
    (log.timeout && log.wall === null);
  const exitCode = timedOut ? null : run.exitCode;

  let metric: OutcomeInput["metric"];
  const source = config.reportSource;
  if (source === "wall") {
    metric = log.wall === null
      ? {
        ok: false,
        message:
          "the run command's wall time was not recorded (the trial's control log is missing or was altered)",
      }
      : extractMetric("", {
        metricName: config.metricName,
        metricPattern: config.metricPattern,
        source: "wall",
        wallSeconds: log.wall.seconds,
      });
  } else if (source === "stdout" || source === "stderr") {
    const truncated = source === "stdout"
      ? run.stdoutTruncated
      : run.stderrTruncated;
    // The metric is the LAST match: in a report cut off at the cap the last
    // lines are unknown, and a command that floods forged lines past the cap
    // would push the real one out. So a cut-off report yields no metric.
    metric = truncated
      ? {
        ok: false,
        message: `${source} passed ${
          OUTPUT_CAP_BYTES / 1024 / 1024
        } MiB and was cut off there, so its last lines are unknown and no metric is taken from it; print less, or write the metric to a file (--report-source PATH)`,
      }
      : extractMetric(source === "stdout" ? stdout : stderr, {
        metricName: config.metricName,
        metricPattern: config.metricPattern,
        source: "text",
      });
  } else if (got.reportText === null) {
    metric = { ok: false, message: got.reportProblem ?? "no report" };
  } else if (got.reportProblem !== null) {
    // Only a cut-off report has a problem and a text: see above.
    metric = {
      ok: false,
      message:
        `${got.reportProblem}, so its last lines are unknown and no metric is taken from it`,
    };
  } else {
    metric = extractMetric(got.reportText, {
      metricName: config.metricName,
      metricPattern: config.metricPattern,
      source: "text",
    });
  }

  const metricDecided = got.diskFilled
    ? {
      outcome: "crashed" as const,
      score: null,
      unit: null,
      rule: null,
      detail: DISK_FILLED_DETAIL,
    }
    : decideOutcome({
      timedOut,
      oomKilled: run.oomKilled,
      setupStatus: log.setupStatus,
      exitCode,
      timeoutSeconds: config.trialTimeoutSeconds,
      metric,
      ...(request.expectedUnit === undefined
        ? {}
        : { expectedUnit: request.expectedUnit }),
    });
  // --guard: the guards' values from the same report (trial_guards.ts).
  const decided = withGuards(metricDecided, {
    config,
    texts: guardTexts(source, {
      stdout,
      stderr,
      stdoutTruncated: run.stdoutTruncated,
      stderrTruncated: run.stderrTruncated,
      reportText: got.reportProblem === null ? got.reportText : null,
    }),
    ...(request.expectedGuardUnits === undefined
      ? {}
      : { expectedUnits: request.expectedGuardUnits }),
  });
  const result: TrialResult = {
    ...decided,
    exitCode,
    wallSeconds: log.wall?.seconds ?? null,
    stdout,
    stderr,
    stdoutTruncated: run.stdoutTruncated,
    stderrTruncated: run.stderrTruncated,
    timedOut,
    oomKilled: run.oomKilled,
    reportText: got.reportText,
    containerId: run.containerId,
  };
  if (deps.saveReport !== undefined) {
    await deps.saveReport(
      request.iter,
      request.trial,
      formatTrialReport(result, {
        runId: request.runId,
        iter: request.iter,
        trial: request.trial,
        side: request.side,
        reportSource: source,
        clock: log.wall?.clock ?? null,
        setupOutput: got.setupOutput,
      }),
    );
  }
  return result;
}

/**
 * Run `--check-command` once on the tree, in its own fresh container with
 * the trial's mounts, after the setup command, bounded by
 * `--trial-timeout-seconds` when set. Passed means exit status 0.
 */
export async function runCheck(
  deps: TrialDeps,
  request: Omit<TrialRequest, "trial" | "side" | "expectedUnit">,
): Promise<CheckResult> {
  const command = request.config.checkCommand;
  if (command === null) {
    return {
      passed: true,
      exitCode: null,
      timedOut: false,
      outputTail: "",
      detail: "no --check-command configured",
    };
  }
  const got = await runWrapped(
    deps,
    { ...request, trial: 0, side: "candidate" },
    command,
    "check",
    false,
  );
  const { run, log } = got;
  const timedOut = got.backstop || run.timedOut ||
    (log.timeout && log.wall === null);
  const exitCode = timedOut ? null : run.exitCode;
  const tail = outputTail(
    decoder.decode(run.stdout),
    decoder.decode(run.stderr),
  );
  const passed = !got.diskFilled && !timedOut && !run.oomKilled &&
    log.setupStatus === null && exitCode === 0;
  const detail = passed
    ? "check passed"
    : got.diskFilled
    ? DISK_FILLED_DETAIL
    : timedOut
    ? `the check command did not finish within --trial-timeout-seconds ${request.config.trialTimeoutSeconds}`
    : run.oomKilled
    ? "the check command was killed for exceeding the memory limit"
    : log.setupStatus !== null
    ? `the setup command exited with status ${log.setupStatus} before the check`
    : `the check command exited with status ${exitCode ?? "—"}`;
  return { passed, exitCode, timedOut, outputTail: tail, detail };
}
