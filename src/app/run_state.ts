/**
 * The loop's state between iterations: what it is (RunState), how it is
 * rebuilt from the records on start and resume, where the spend of an
 * iteration cut short goes, when the loop stops, and how a stop is written.
 */
import type { Config } from "../config/config.ts";
import type { ProtectionPolicy } from "../core/protect.ts";
import type {
  CurrentIteration,
  IterationRecord,
  StopReason,
  Tokens,
} from "../core/state.ts";
import {
  InterruptedError,
  RatchetError,
  type StopSignal,
  stopSignalOf,
  UpstreamError,
} from "../errors.ts";
import { stopReason as computeStop } from "../core/stop.ts";
import { baselineSummary, incumbentSummary } from "../core/incumbent.ts";
import type { RunFile, Store } from "../infra/store/store.ts";
import { deterministicUnder } from "../core/measure_plan.ts";
import { reportFileOf } from "../core/report_source.ts";
import { outputTail, parseTrialReport } from "../core/trial_report.ts";

/** The signal that aborted `signal`. */
export function signalName(signal: AbortSignal): StopSignal {
  return stopSignalOf(signal);
}

/** What the loop knows about the run between iterations. */
export interface RunState {
  runId: string;
  config: Config;
  policy: ProtectionPolicy;
  /** Metric is deterministic: one trial per side, exact comparison. */
  deterministic: boolean;
  /** Unit of the baseline's scores (null for plain numbers and times). */
  unit: string | null;
  /**
   * `--guard`: each guard's baseline unit (trials must match it), whether
   * its baseline trials were all identical (compared exactly), and the
   * incumbent's recorded average (what `--decision mean` compares with).
   * Empty maps without guards.
   */
  guards?: {
    units: Record<string, string | null>;
    deterministic: Record<string, boolean>;
    incumbentMeans: Record<string, number | null>;
  };
  baseline: { mean: number; ci: [number, number] | null; scores: number[] };
  incumbent: {
    iter: number;
    sha: string;
    tree: string;
    /** The incumbent's latest measured mean and interval. */
    mean: number;
    ci: [number, number] | null;
    /** Its scores from the latest measurement (the recorded trials for `mean`). */
    scores: number[];
  };
  records: IterationRecord[];
  costUsd: number;
  /** Tail of the last crashed trial's output, for the next proposal. */
  crashTail: string | null;
  /** Last `ratchet instruct` note given to the proposal in flight; marked read once it is recorded. */
  notesThrough?: number | null;
  /**
   * What an interrupted attempt at the next iteration spent (from
   * current.json, already in `costUsd`): added to that iteration's record.
   */
  carried?: Spend | null;
  /**
   * The last iteration recorded when a finished run was extended: patience
   * and crash counts start after it (see `StopParams.since`).
   */
  since?: number;
}

/** Tokens and cost of model calls. */
export interface Spend {
  tokens: Tokens;
  costUsd: number;
}

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
