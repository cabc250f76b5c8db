/**
 * A trial's result and the human-readable report saved for it
 * (`.ratchet/reports/iter-NNNN-trial-NN.txt`), written and read back. Pure.
 */
import { CLOCKS } from "./control_log.ts";
import type { TrialOutcome } from "./state.ts";

/** Cap per output stream (spec: 10 MiB, the cap recorded). */
export const OUTPUT_CAP_BYTES = 10 * 1024 * 1024;

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
  /** Each `--guard`'s value (null when the trial is not ok); see trial/guards.ts. */
  guards: Record<string, number | null>;
  /** Each guard's non-time unit (null for plain numbers and times). */
  guardUnits: Record<string, string | null>;
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
