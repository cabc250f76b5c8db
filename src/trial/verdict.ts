/**
 * What a wrapped container's end means: a trial's result (the metric judged
 * by `core/trial_outcome.ts`, then the `--guard` values) and the
 * `--check-command` verdict. Pure.
 */
import type { Config } from "../config/config.ts";
import { judgeTrial } from "../core/trial_outcome.ts";
import { outputTail, type TrialResult } from "../core/trial_report.ts";
import type { Wrapped } from "./control_files.ts";
import { DISK_FILLED_DETAIL } from "./disk_watch.ts";
import { guardTexts, withGuards } from "./guards.ts";

/** The `--check-command` verdict. */
export interface CheckResult {
  passed: boolean;
  exitCode: number | null;
  timedOut: boolean;
  /** Last lines of stdout and stderr, for the record and the model. */
  outputTail: string;
  detail: string;
}

/** The trial's result from what its container left. */
export function trialResultOf(
  config: Pick<
    Config,
    | "reportSource"
    | "metricName"
    | "metricPattern"
    | "trialTimeoutSeconds"
    | "guard"
  >,
  expected: {
    /** The baseline's unit: a different unit is no_metric. Undefined: not checked. */
    expectedUnit?: string | null;
    /** The baseline's guard units (`--guard`); undefined: not checked. */
    expectedGuardUnits?: Record<string, string | null>;
  },
  got: Wrapped,
): TrialResult {
  const { run } = got;
  const stdout = new TextDecoder().decode(run.stdout);
  const stderr = new TextDecoder().decode(run.stderr);
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
      ...(expected.expectedUnit === undefined
        ? {}
        : { expectedUnit: expected.expectedUnit }),
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
    ...(expected.expectedGuardUnits === undefined
      ? {}
      : { expectedUnits: expected.expectedGuardUnits }),
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
  return result;
}

/** The `--check-command` verdict from what its container left. */
export function checkResultOf(
  config: Pick<Config, "trialTimeoutSeconds">,
  got: Wrapped,
): CheckResult {
  const { run, log } = got;
  const timedOut = got.killed === "backstop" || run.timedOut ||
    (log.timeout && log.wall === null);
  const exitCode = timedOut ? null : run.exitCode;
  const tail = outputTail(
    new TextDecoder().decode(run.stdout),
    new TextDecoder().decode(run.stderr),
  );
  const passed = got.killed === null && !timedOut && !run.oomKilled &&
    log.setupStatus === null && exitCode === 0;
  const detail = passed
    ? "check passed"
    : got.killed === "disk"
    ? DISK_FILLED_DETAIL
    : timedOut
    ? `the check command did not finish within --trial-timeout-seconds ${config.trialTimeoutSeconds}`
    : run.oomKilled
    ? "the check command was killed for exceeding the memory limit"
    : log.setupStatus !== null
    ? `the setup command exited with status ${log.setupStatus} before the check`
    : `the check command exited with status ${exitCode ?? "—"}`;
  return { passed, exitCode, timedOut, outputTail: tail, detail };
}
