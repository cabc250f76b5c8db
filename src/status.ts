/**
 * What `ratchet status` reports (spec section 8 `status --json`), read from
 * `.ratchet/` without touching the run: safe while a run is going.
 */
import type { Store } from "./infra/store.ts";
import { readLock } from "./infra/lock.ts";
import { meanCi } from "./core/stats.ts";
import { incumbentOf } from "./core/stop.ts";
import type { IterationRecord, Phase, StopReason } from "./core/state.ts";
import { SCHEMA_VERSION } from "./core/state.ts";
import { EnvironmentError } from "./errors.ts";

/** `status --json`. */
export interface StatusJson {
  schema_version: number;
  run_id: string;
  state: "running" | "interrupted" | "finished";
  pid: number | null;
  branch: string;
  worktree: string;
  iter: number | null;
  phase: Phase | null;
  baseline: { mean: number | null; ci: [number, number] | null };
  best: {
    iter: number;
    sha: string | null;
    mean: number;
    ci: [number, number] | null;
  } | null;
  kept: number;
  cost_usd: number;
  stop_reason: StopReason | null;
}

/** The confidence the run uses, from its file-form config. */
export function confidenceOf(config: Record<string, unknown>): number {
  const c = config["confidence"];
  return typeof c === "number" && c > 0 && c < 1 ? c : 0.95;
}

/** Summarize records into the status fields that depend on them. */
export function summarizeRecords(
  records: readonly IterationRecord[],
  confidence: number,
): Pick<StatusJson, "baseline" | "best" | "kept" | "cost_usd"> {
  const base = records[0];
  const baseScores = base
    ? base.trial_scores.filter((s): s is number => s !== null)
    : [];
  const inc = incumbentOf(records, { confidence });
  return {
    baseline: {
      mean: base?.avg ?? null,
      ci: baseScores.length >= 2 ? meanCi(baseScores, confidence) : null,
    },
    best: inc === null
      ? null
      : { iter: inc.iter, sha: inc.sha, mean: inc.mean, ci: inc.ci },
    kept: records.filter((r) => r.iter > 0 && r.kept).length,
    cost_usd: records.reduce((a, r) => a + r.cost_usd, 0),
  };
}

/** Read the status of the run in `store`; EnvironmentError when there is none. */
export async function readStatus(
  store: Store,
  options: { isAlive?: (pid: number) => boolean } = {},
): Promise<StatusJson> {
  const run = await store.readRun();
  if (run === null) {
    throw new EnvironmentError("There is no run in this repository", {
      hint: "Start one with `ratchet run`.",
    });
  }
  const [records, current, lock] = await Promise.all([
    store.readRecords(),
    store.readCurrent(),
    readLock(
      store.paths.lock,
      options.isAlive ? { isAlive: options.isAlive } : {},
    ),
  ]);
  const live = lock !== null && lock.alive;
  const state = run.state === "finished"
    ? "finished"
    : live
    ? "running"
    : "interrupted";
  const last = records.at(-1);
  return {
    schema_version: SCHEMA_VERSION,
    run_id: run.run_id,
    state,
    pid: live ? lock.pid : null,
    branch: run.branch,
    worktree: store.paths.worktree,
    iter: current?.iter ?? last?.iter ?? null,
    phase: current?.phase ?? (state === "finished" ? "finished" : null),
    ...summarizeRecords(records, confidenceOf(run.config)),
    stop_reason: run.stop_reason,
  };
}
