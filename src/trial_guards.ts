/**
 * Guard metrics in a trial (`--guard`): the one step `runTrial` takes after
 * the metric's outcome is known. Kept apart from `trial.ts` so the trial
 * path can change without touching how guards are read.
 *
 * Guards come from the same report as the metric: the report file for a
 * path source, the stream for `stdout`/`stderr`, and for `wall` (which has
 * no report) stdout, then stderr. A trial that ended `ok` but lacks a
 * guard's value (or prints it in a unit other than the baseline's) ends
 * `no_metric`, its detail naming the guard and the rules tried. A trial
 * that did not end `ok` has no guard values.
 */
import type { Config } from "./config/config.ts";
import { extractGuards, noGuardValues } from "./core/guards.ts";
import type { TrialOutcome } from "./core/state.ts";

/** The texts a trial's guards are read from, in the order they are tried. */
export function guardTexts(
  reportSource: string,
  output: {
    stdout: string;
    stderr: string;
    stdoutTruncated: boolean;
    stderrTruncated: boolean;
    reportText: string | null;
  },
): string[] {
  // A stream cut off at the cap has unknown last lines: nothing is read
  // from it, as for the metric.
  const stdout = output.stdoutTruncated ? [] : [output.stdout];
  const stderr = output.stderrTruncated ? [] : [output.stderr];
  switch (reportSource) {
    case "wall":
      return [...stdout, ...stderr];
    case "stdout":
      return stdout;
    case "stderr":
      return stderr;
    default:
      return output.reportText === null ? [] : [output.reportText];
  }
}

/** What a trial's outcome fields look like before and after the guards. */
export interface DecidedTrial {
  outcome: TrialOutcome;
  score: number | null;
  unit: string | null;
  rule: string | null;
  detail: string;
}

/**
 * Add the guards to a decided trial: their values (all null unless the
 * trial is `ok`), their units, and `no_metric` when one is missing.
 */
export function withGuards<T extends DecidedTrial>(
  decided: T,
  input: {
    config: Pick<Config, "guard">;
    texts: readonly string[];
    /** The baseline's guard units; absent: not checked (the baseline itself). */
    expectedUnits?: Record<string, string | null>;
  },
): T & {
  guards: Record<string, number | null>;
  guardUnits: Record<string, string | null>;
} {
  const guards = input.config.guard;
  const none = {
    guards: noGuardValues(guards),
    guardUnits: Object.fromEntries(guards.map((g) => [g.name, null])),
  };
  if (guards.length === 0 || decided.outcome !== "ok") {
    return { ...decided, ...none };
  }
  const found = extractGuards(
    input.texts,
    guards,
    input.expectedUnits === undefined
      ? {}
      : { expectedUnits: input.expectedUnits },
  );
  if (found.missing !== null) {
    return {
      ...decided,
      ...none,
      outcome: "no_metric",
      score: null,
      detail:
        `${found.missing.message}; every guard must be in every trial's report`,
    };
  }
  return { ...decided, guards: found.values, guardUnits: found.units };
}
