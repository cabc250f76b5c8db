/**
 * What `ratchet status` reports (spec section 8 `status --json`), read from
 * `.ratchet/` without touching the run: safe while a run is going.
 */
import type { RunFile, Store } from "../infra/store/store.ts";
import { readLock } from "../infra/lock.ts";
import { mean, meanCi } from "../core/stats.ts";
import { incumbentOf } from "../core/incumbent.ts";
import type { IterationRecord, Phase, StopReason } from "../core/state.ts";
import { SCHEMA_VERSION } from "../core/state.ts";
import type { Confirmation, ConfirmResult } from "../core/confirm.ts";
import { EnvironmentError } from "../errors.ts";

/** `status --json` (spec section 8): every key always present. */
export interface StatusJson {
  schema_version: number;
  run_id: string;
  state: "running" | "interrupted" | "finished";
  /** The live run's PID; null unless `running`. */
  pid: number | null;
  /** The run's branch, `ratchet/<run_id>`. */
  branch: string;
  worktree: string;
  /** The iteration in progress, else the last recorded; null before any. */
  iter: number | null;
  phase: Phase | null;
  /**
   * In the `baseline` phase: the trial running (1-based) and how many there
   * are (from current.json); null otherwise.
   */
  trial: number | null;
  of: number | null;
  /** Iteration 0's mean and interval; nulls until it is recorded. */
  baseline: { mean: number | null; ci: [number, number] | null };
  /** The incumbent (see `incumbentOf`); null until a record is kept. */
  best: {
    iter: number;
    sha: string | null;
    mean: number;
    ci: [number, number] | null;
  } | null;
  kept: number;
  /** The records' cost plus what the iteration in progress (or cut short) has spent. */
  cost_usd: number;
  stop_reason: StopReason | null;
  /**
   * The engine the run's trials use and whether it shares this machine's
   * files; null for a run from before it was recorded.
   */
  engine: { endpoint: string; shares_filesystem: boolean } | null;
  /**
   * The end-of-run confirmation of the current incumbent (the run's claimed
   * gain): `measuring` with the trials so far, or `done` with the result;
   * null when none was started for it (or nothing was kept).
   */
  confirmation: StatusConfirmation | null;
  /**
   * `--guard`: each guard's baseline mean and the incumbent's (its latest
   * measurement, as for the metric); null without guards.
   */
  guards:
    | Record<string, { baseline: number | null; best: number | null }>
    | null;
}

/** The confirmation in `status --json`. */
export interface StatusConfirmation {
  state: "measuring" | "done";
  incumbent_iter: number;
  per_side: number;
  /** Trials measured so far, both sides. */
  trials: number;
  result: ConfirmResult | null;
}

/**
 * The run in `store`, or EnvironmentError (exit 3) saying there is none and
 * how to start one: what `status`, `log` and `report` need first.
 */
export async function requireRun(store: Store): Promise<RunFile> {
  const run = await store.readRun();
  if (run === null) {
    throw new EnvironmentError(
      `There is no ratchet run here: ${store.paths.config} does not exist`,
      { hint: "Start one with `ratchet run` (see `ratchet run --help`)." },
    );
  }
  return run;
}

/** The confidence the run uses, from its file-form config. */
export function confidenceOf(config: Record<string, unknown>): number {
  const c = config["confidence"];
  return typeof c === "number" && c > 0 && c < 1 ? c : 0.95;
}

/** The metric's direction from the run's file-form config, when it says. */
export function directionOf(
  config: Record<string, unknown>,
): "max" | "min" | undefined {
  const d = config["direction"];
  return d === "max" || d === "min" ? d : undefined;
}

/**
 * Money as recorded, without the binary noise a long sum picks up
 * (0.1 + 0.2 → 0.30000000000000004): a micro-dollar is far below any price.
 */
function roundUsd(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/**
 * The status fields that depend only on the records: the baseline (mean of
 * iteration 0's trial scores and its interval at `confidence`), the best
 * (the incumbent as {@linkcode incumbentOf} reports it), the count of kept
 * changes after the baseline, and the total cost. One pass over the records.
 */
export function summarizeRecords(
  records: readonly IterationRecord[],
  confidence: number,
): Pick<StatusJson, "baseline" | "best" | "kept" | "cost_usd"> {
  const base = records[0];
  const baseScores = base
    ? base.trial_scores.filter((s): s is number => s !== null)
    : [];
  const inc = incumbentOf(records, { confidence });
  let kept = 0;
  let cost = 0;
  for (const r of records) {
    if (r.iter > 0 && r.kept) kept++;
    cost += r.cost_usd;
  }
  return {
    baseline: {
      mean: baseScores.length > 0 ? mean(baseScores) : base?.avg ?? null,
      ci: meanCi(baseScores, confidence),
    },
    best: inc === null
      ? null
      : { iter: inc.iter, sha: inc.sha, mean: inc.mean, ci: inc.ci },
    kept,
    cost_usd: roundUsd(cost),
  };
}

/**
 * Each guard's baseline mean and the incumbent's latest measured mean: the
 * guard values of the same trials {@linkcode incumbentOf} takes the
 * metric's from (the newest re-measurement, else the kept record's own).
 */
export function guardSummary(
  records: readonly IterationRecord[],
): StatusJson["guards"] {
  const base = records[0]?.guards ?? null;
  if (base === null) return null;
  let kept: IterationRecord | null = null;
  for (const r of records) if (r.kept) kept = r;
  // The record whose baseline_scores are the incumbent's latest measurement,
  // by incumbentOf's rule: the newest later comparison that re-measured it.
  let source: IterationRecord | null = null;
  for (const r of records) {
    if (
      kept !== null && r.iter > kept.iter &&
      ["regressed", "no_change", "inconclusive"].includes(r.decision) &&
      r.baseline_scores.length > 0
    ) source = r;
  }
  const avg = (v: readonly (number | null)[]) => {
    const ok = v.filter((x): x is number => x !== null);
    return ok.length > 0 ? mean(ok) : null;
  };
  const out: NonNullable<StatusJson["guards"]> = {};
  for (const [name, g] of Object.entries(base)) {
    const best = source !== null
      ? avg(source.guards?.[name]?.baseline_scores ?? [])
      : kept?.guards?.[name]?.avg ?? null;
    out[name] = { baseline: avg(g.scores), best };
  }
  return out;
}

/**
 * Read the status of the run in `store` (spec section 8 `status --json`),
 * read-only and safe while the run writes. `state` is `finished` when
 * config.json says so, `running` when the lock names a live process, else
 * `interrupted`. `iter` and `phase` come from current.json while an
 * iteration is in progress, else from the last record (phase null, or
 * `finished`). Throws EnvironmentError (exit 3) when there is no run.
 */
export async function readStatus(
  store: Store,
  options: { isAlive?: (pid: number) => boolean } = {},
): Promise<StatusJson> {
  const run = await requireRun(store);
  const [records, current, lock, confirmation] = await Promise.all([
    store.readRecords(),
    store.readCurrent(),
    readLock(
      store.paths.lock,
      options.isAlive ? { isAlive: options.isAlive } : {},
    ),
    store.readConfirmation().catch(() => null),
  ]);
  const live = lock !== null && lock.alive;
  const state = run.state === "finished"
    ? "finished"
    : live
    ? "running"
    : "interrupted";
  const last = records.at(-1);
  // A current.json of another run (left by a crash before archiving), or of
  // an iteration already recorded, says nothing about this one; a finished
  // run has no iteration in progress.
  const inProgress = state !== "finished" && current?.run_id === run.run_id &&
      current.iter >= records.length
    ? current
    : null;
  const summary = summarizeRecords(records, confidenceOf(run.config));
  return {
    schema_version: SCHEMA_VERSION,
    run_id: run.run_id,
    state,
    pid: live ? lock.pid : null,
    branch: run.branch,
    worktree: store.paths.worktree,
    iter: inProgress?.iter ?? last?.iter ?? null,
    phase: inProgress?.phase ?? (state === "finished" ? "finished" : null),
    trial: countOf(inProgress?.trial),
    of: countOf(inProgress?.of),
    ...summary,
    // What the iteration in progress has spent is spent (it counts toward
    // the budget, and a resume carries it into that iteration's record).
    cost_usd: roundUsd(summary.cost_usd + spentOf(inProgress)),
    stop_reason: run.stop_reason,
    engine: run.engine ?? null,
    confirmation: statusConfirmation(
      confirmation,
      run.run_id,
      incumbentOf(records)?.sha ?? null,
    ),
    guards: guardSummary(records),
  };
}

/** The confirmation of this run's current incumbent, for `status`. */
function statusConfirmation(
  c: Confirmation | null,
  runId: string,
  incumbentSha: string | null,
): StatusConfirmation | null {
  if (c === null || c.run_id !== runId || c.incumbent_sha !== incumbentSha) {
    return null;
  }
  return {
    state: c.result === null ? "measuring" : "done",
    incumbent_iter: c.incumbent_iter,
    per_side: c.per_side,
    trials: c.trials.length,
    result: c.result,
  };
}

/** A trial count from current.json, or null when absent or not a count. */
function countOf(value: unknown): number | null {
  return typeof value === "number" && Number.isInteger(value) && value > 0
    ? value
    : null;
}

/** Dollars spent so far by an in-progress iteration (0 when unknown). */
function spentOf(current: { cost_usd?: unknown } | null): number {
  const cost = current?.cost_usd;
  return typeof cost === "number" && Number.isFinite(cost) && cost > 0
    ? cost
    : 0;
}
