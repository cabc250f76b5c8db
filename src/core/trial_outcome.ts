/**
 * A trial's outcome (spec section 5, "Trial outcome") from what the container
 * left behind: the kills, the exit status, the control log and the report in
 * whichever source the run reads. Pure.
 */
import { extractMetric, type MetricResult } from "./metric.ts";
import type { TrialOutcome } from "./state.ts";
import type { ControlLog } from "./control_log.ts";
import { OUTPUT_CAP_BYTES } from "./trial_report.ts";

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

/** What a stopped trial container left behind, as the judgement needs it. */
export interface TrialFacts {
  reportSource: string;
  metricName: string;
  metricPattern: string | null;
  timeoutSeconds: number | null;
  /** The container's exit status (null when it had none). */
  exitCode: number | null;
  /** The engine or the host killed the container for its time. */
  killedForTime: boolean;
  oomKilled: boolean;
  log: ControlLog;
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  /** The report file, when `--report-source` names one. */
  report:
    | { ok: true; text: string; truncated: boolean }
    | { ok: false; message: string }
    | null;
  expectedUnit?: string | null;
}

/** A trial's outcome, score and what decided them. */
export interface TrialJudgement {
  outcome: TrialOutcome;
  score: number | null;
  unit: string | null;
  rule: string | null;
  detail: string;
  timedOut: boolean;
  /** The exit status ratchet records (null after a timeout). */
  exitCode: number | null;
}

/**
 * Judge a trial: the kills and exit status first, then the metric from the
 * report source (spec section 5). A report cut off at its cap yields no
 * metric: the metric is the LAST match, and a command that floods forged
 * lines past the cap would push the real one out.
 */
export function judgeTrial(facts: TrialFacts): TrialJudgement {
  const timedOut = facts.killedForTime ||
    (facts.log.timeout && facts.log.wall === null);
  const exitCode = timedOut ? null : facts.exitCode;
  const rules = {
    metricName: facts.metricName,
    metricPattern: facts.metricPattern,
  };
  let metric: OutcomeInput["metric"];
  const source = facts.reportSource;
  if (source === "wall") {
    metric = facts.log.wall === null
      ? {
        ok: false,
        message:
          "the run command's wall time was not recorded (the trial's control log is missing or was altered)",
      }
      : extractMetric("", {
        ...rules,
        source: "wall",
        wallSeconds: facts.log.wall.seconds,
      });
  } else if (source === "stdout" || source === "stderr") {
    const truncated = source === "stdout"
      ? facts.stdoutTruncated
      : facts.stderrTruncated;
    metric = truncated
      ? {
        ok: false,
        message: `${source} passed ${
          OUTPUT_CAP_BYTES / 1024 / 1024
        } MiB and was cut off there, so its last lines are unknown and no metric is taken from it; print less, or write the metric to a file (--report-source PATH)`,
      }
      : extractMetric(source === "stdout" ? facts.stdout : facts.stderr, {
        ...rules,
        source: "text",
      });
  } else if (facts.report === null || !facts.report.ok) {
    metric = {
      ok: false,
      message: facts.report?.ok === false ? facts.report.message : "no report",
    };
  } else if (facts.report.truncated) {
    metric = {
      ok: false,
      message: `the report file is larger than ${
        OUTPUT_CAP_BYTES / 1024 / 1024
      } MiB; only its start was read, so its last lines are unknown and no metric is taken from it`,
    };
  } else {
    metric = extractMetric(facts.report.text, { ...rules, source: "text" });
  }
  return {
    ...decideOutcome({
      timedOut,
      oomKilled: facts.oomKilled,
      setupStatus: facts.log.setupStatus,
      exitCode,
      timeoutSeconds: facts.timeoutSeconds,
      metric,
      ...(facts.expectedUnit === undefined
        ? {}
        : { expectedUnit: facts.expectedUnit }),
    }),
    timedOut,
    exitCode,
  };
}
