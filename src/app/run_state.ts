/**
 * A run from start to stop: preflight, the worktree, the baseline, the loop
 * of iterations, stop conditions, and leaving everything resumable when
 * interrupted or when Docker or the API fail. `resume` re-enters the same
 * loop after repairing what an interruption left behind.
 */
import type { Config } from "../config/config.ts";
import type { ProtectionPolicy } from "../core/protect.ts";
import {
  type CurrentIteration,
  emptyGuardRecord,
  type IterationRecord,
  makeRecord,
  meanOfScores,
  type StopReason,
} from "../core/state.ts";
import type { EventSink } from "../core/events.ts";
import { stopReason as computeStop } from "../core/stop.ts";
import { baselineSummary, incumbentSummary } from "../core/incumbent.ts";
import { runIteration, type RunState, signalName, type Spend } from "./loop.ts";
import type { LoopPorts, TrialPort, TrialSummary } from "./ports.ts";
import {
  BaselineError,
  InterruptedError,
  RatchetError,
  UpstreamError,
} from "../errors.ts";
import type { RunFile, Store } from "../infra/store/store.ts";
import { baselineTrials, deterministicUnder } from "../core/measure_plan.ts";
import { reportFileOf } from "../core/report_source.ts";
import { outputTail, parseTrialReport } from "../core/trial_report.ts";

/**
 * The policy of paths the model may not change, from the config and the
 * repository-relative path of the config file when it lies in the
 * repository (null when it lies outside).
 */
export function policyOf(
  config: Config,
  configPath: string | null,
): ProtectionPolicy {
  return {
    editable: config.editable,
    harness: config.harness,
    scratch: config.scratch,
    reportPath: reportFileOf(config.reportSource),
    configPath,
  };
}

/** Throw InterruptedError when the run's signal fired. */
export function throwIfInterrupted(signal: AbortSignal): void {
  if (signal.aborted) throw new InterruptedError(signalName(signal));
}

/**
 * Measure iteration 0: `baselineTrials` trials (core/measure_plan.ts)
 * of the start commit. Every trial must yield the metric, or the run stops
 * before any API call (exit 5).
 */
export async function measureBaseline(
  deps: {
    trials: TrialPort;
    events: EventSink;
    signal: AbortSignal;
    now: () => Date;
    /** Told before each trial starts (current.json's `baseline` phase). */
    onTrialStart?: (k: number, n: number) => Promise<void>;
  },
  input: { runId: string; config: Config; tree: string; sha: string },
): Promise<
  {
    record: IterationRecord;
    deterministic: boolean;
    unit: string | null;
    /** Each guard's unit (from the first trial; the others matched it). */
    guardUnits: Record<string, string | null>;
    secondsPerTrial: number;
  }
> {
  const { config } = input;
  const n = baselineTrials(config);
  const started = deps.now().getTime();
  const results: TrialSummary[] = [];
  let unit: string | null | undefined = undefined;
  let guardUnits: Record<string, string | null> | undefined = undefined;
  for (let k = 1; k <= n; k++) {
    throwIfInterrupted(deps.signal);
    await deps.onTrialStart?.(k, n);
    const t = await deps.trials.trial({
      iter: 0,
      trial: k,
      tree: input.tree,
      side: "incumbent",
      // The first trial sets the units the others must match.
      ...(unit === undefined ? {} : { expectedUnit: unit }),
      ...(guardUnits === undefined ? {} : { expectedGuardUnits: guardUnits }),
    });
    deps.events({
      event: "trial",
      iter: 0,
      side: "incumbent",
      k,
      n,
      outcome: t.outcome,
      score: t.score,
      wall_s: t.wallSeconds,
    });
    if (t.outcome !== "ok" || t.score === null) {
      throw new BaselineError(
        `The baseline could not be measured: trial ${k} of ${n} ended ${t.outcome}${
          t.detail ? `: ${t.detail}` : ""
        }`,
        {
          hint: `See .ratchet/reports/iter-0000-trial-${
            String(k).padStart(2, "0")
          }.txt; try the command with "ratchet measure" until it prints the metric.`,
        },
      );
    }
    if (unit === undefined) unit = t.unit;
    if (guardUnits === undefined) guardUnits = { ...t.guardUnits };
    results.push(t);
  }
  const scores = results.map((r) => r.score as number);
  const guards = config.guard.length === 0 ? null : Object.fromEntries(
    config.guard.map((g) => {
      const values = results.map((r) => r.guards[g.name] ?? null);
      return [g.name, {
        ...emptyGuardRecord(),
        scores: values,
        avg: meanOfScores(values),
      }];
    }),
  );
  const deterministic = deterministicUnder(config.decision, scores);
  const seconds = (deps.now().getTime() - started) / 1000;
  const summary = baselineSummary(scores, config);
  const record = makeRecord({
    run_id: input.runId,
    iter: 0,
    decision: "baseline",
    kept: true,
    trial_scores: scores,
    trial_outcomes: results.map((r) => r.outcome),
    baseline_scores: [],
    sha: input.sha,
    ci: null,
    detail: deterministic
      ? `deterministic metric: all ${n} baseline trials gave ${
        scores[0]
      }; one trial per side from now on`
      : `mean ${summary.mean} over ${n} trials`,
    guards,
    duration_s: seconds,
    timestamp: deps.now().toISOString(),
  });
  return {
    record,
    deterministic,
    unit: unit ?? null,
    guardUnits: guardUnits ?? {},
    secondsPerTrial: seconds / n,
  };
}

/**
 * The loop's guard state from the records: each guard's baseline unit
 * (`units`, from config.json), whether its baseline trials were all
 * identical (under `stat`), and the incumbent's recorded averages.
 */
export function guardStateOf(
  config: Config,
  records: readonly IterationRecord[],
  units: Record<string, string | null> | null | undefined,
): NonNullable<RunState["guards"]> {
  const baseline = records[0]?.guards ?? null;
  let kept: IterationRecord | undefined;
  for (const r of records) if (r.kept) kept = r;
  const deterministic: Record<string, boolean> = {};
  const incumbentMeans: Record<string, number | null> = {};
  for (const g of config.guard) {
    const scores = (baseline?.[g.name]?.scores ?? []).filter((
      v,
    ): v is number => v !== null);
    deterministic[g.name] = deterministicUnder(config.decision, scores);
    incumbentMeans[g.name] = kept?.guards?.[g.name]?.avg ?? null;
  }
  return {
    units: Object.fromEntries(
      config.guard.map((g) => [g.name, units?.[g.name] ?? null]),
    ),
    deterministic,
    incumbentMeans,
  };
}

/** Rebuild the loop's state from the records (start and resume share it). */
export function stateFromRecords(input: {
  runId: string;
  config: Config;
  /** The config file's repository-relative path (see policyOf). */
  configPath: string | null;
  deterministic: boolean;
  unit: string | null;
  /** Each guard's baseline unit (config.json's `guard_units`). */
  guardUnits?: Record<string, string | null> | null;
  records: IterationRecord[];
  incumbentTree: string;
  /** Spend of an interrupted attempt at the next iteration. */
  carried?: Spend | null;
  /** When the last record crashed: its trial's output tail, for the next proposal. */
  crashTail?: string | null;
  /** Where patience and crash counts start (see `StopParams.since`). */
  since?: number;
}): RunState {
  const baseline = input.records[0]!;
  const base = baselineSummary(
    baseline.trial_scores.filter((s): s is number => s !== null),
    input.config,
  );
  const inc = incumbentSummary(input.records, input.config);
  return {
    runId: input.runId,
    config: input.config,
    policy: policyOf(input.config, input.configPath),
    deterministic: input.deterministic,
    unit: input.unit,
    guards: guardStateOf(input.config, input.records, input.guardUnits),
    baseline: { mean: base.mean, ci: base.ci, scores: base.scores },
    incumbent: {
      iter: inc.iter,
      sha: inc.sha,
      tree: input.incumbentTree,
      mean: inc.mean,
      ci: inc.ci,
      scores: inc.scores,
    },
    records: input.records,
    costUsd: input.records.reduce((a, r) => a + r.cost_usd, 0) +
      (input.carried?.costUsd ?? 0),
    crashTail: input.crashTail ?? null,
    carried: input.carried ?? null,
    ...(input.since === undefined ? {} : { since: input.since }),
  };
}

/**
 * What an interrupted attempt at iteration `next` spent, from its
 * current.json: null when there is none, it belongs to another run or
 * iteration (one whose record was written already counts its own spend), or
 * it spent nothing.
 */
export function interruptedSpend(
  current: CurrentIteration | null,
  runId: string,
  next: number,
): Spend | null {
  if (current === null || current.run_id !== runId || current.iter !== next) {
    return null;
  }
  const t = current.tokens;
  const any = current.cost_usd > 0 ||
    t.input + t.output + t.cache_write + t.cache_read > 0;
  return any ? { tokens: t, costUsd: current.cost_usd } : null;
}

/**
 * On resume after a crashed iteration: the tail of its crashed candidate
 * trial, read back from the saved report, so the next proposal still sees why
 * it crashed (`debugging.md`). Null when `record` did not crash or no report
 * says why.
 */
export async function crashTailOf(
  store: Pick<Store, "readReports">,
  record: IterationRecord | undefined,
): Promise<string | null> {
  if (record?.decision !== "crashed") return null;
  for (const text of await store.readReports(record.iter)) {
    const report = parseTrialReport(text);
    if (report?.side === "candidate" && report.outcome !== "ok") {
      return outputTail(report.stdout, report.stderr);
    }
  }
  return null;
}

/** Why the loop should stop now, or null. */
export function stopNow(state: RunState): StopReason | null {
  return computeStop(state.records, {
    ...state.config,
    since: state.since ?? 0,
  }, {
    costUsd: state.costUsd,
    maxCostUsd: state.config.maxCostUsd,
  });
}

/** How a loop ended. */
export interface LoopEnd {
  reason: StopReason;
  error: RatchetError | null;
}

/**
 * Iterate until a stop condition. Signals and upstream failures end the loop
 * with the worktree reset to the incumbent and nothing half-recorded.
 */
export async function driveLoop(
  ports: LoopPorts,
  state: RunState,
): Promise<LoopEnd> {
  try {
    while (true) {
      const reason = stopNow(state);
      // Spend carried from an iteration cut short goes into a record even
      // when it exhausted the budget: the retry's proposal makes no call and
      // records it (then the run stops for cost).
      if (reason !== null && !(reason === "cost" && state.carried)) {
        return { reason, error: null };
      }
      throwIfInterrupted(ports.signal);
      const iter = state.records.length;
      const outcome = await runIteration(ports, state, iter);
      if (outcome.kind === "cost_cap") return { reason: "cost", error: null };
    }
  } catch (error) {
    await ports.git.reset(state.incumbent.sha).catch(() => {});
    // current.json stays: what the cut-short iteration spent is carried
    // into its retry by `resume` (see `interruptedSpend`).
    const end = loopEndOf(error, ports.signal);
    if (end !== null) return end;
    throw error;
  }
}

/**
 * How a failure ends the loop: a signal (or anything thrown while the signal
 * was aborting the run) is `interrupted`, an API or Docker outage is
 * `upstream`; both leave the run resumable. Null for anything else, which
 * the caller rethrows.
 */
export function loopEndOf(error: unknown, signal: AbortSignal): LoopEnd | null {
  if (
    error instanceof InterruptedError ||
    (signal.aborted && !(error instanceof UpstreamError))
  ) {
    return {
      reason: "interrupted",
      error: error instanceof InterruptedError
        ? error
        : new InterruptedError(signalName(signal), { cause: error }),
    };
  }
  if (error instanceof UpstreamError) return { reason: "upstream", error };
  return null;
}

/** Mark the run finished (or stopped resumably) in config.json. */
export async function recordStop(
  store: Store,
  run: RunFile,
  reason: StopReason,
  now: Date,
): Promise<RunFile> {
  const finished = reason !== "interrupted" && reason !== "upstream";
  const updated: RunFile = {
    ...run,
    state: finished ? "finished" : "running",
    stop_reason: reason,
    finished_at: finished ? now.toISOString() : null,
  };
  await store.writeRun(updated);
  return updated;
}
