/** A small run's records covering every mark kind, for view tests. */
import { type IterationRecord, makeRecord } from "../../src/core/state.ts";
import type { RunFile } from "../../src/infra/store.ts";

export const RUN_ID = "20260101-120000-abcd";

/** Baseline, improved, regressed, crashed, rejected, no_change, improved. */
export function sampleRecords(): IterationRecord[] {
  const t = "2026-01-01T12:00:00.000Z";
  const base = { run_id: RUN_ID, timestamp: t };
  return [
    makeRecord({
      ...base,
      iter: 0,
      decision: "baseline",
      trial_scores: [10, 10.2, 9.8, 10.1, 9.9],
      sha: "a".repeat(40),
    }),
    makeRecord({
      ...base,
      iter: 1,
      decision: "improved",
      hypothesis: "cache the parse <script>alert(1)</script>",
      description: "memoize parse()",
      trial_scores: [12, 12.1, 11.9],
      baseline_scores: [10, 10.1, 9.9],
      p_value: 0.001,
      effect: 0.2,
      ci: [0.15, 0.25],
      sha: "b".repeat(40),
      cost_usd: 0.12,
      tokens: { input: 1000, output: 200, cache_write: 500, cache_read: 0 },
    }),
    makeRecord({
      ...base,
      iter: 2,
      decision: "regressed",
      hypothesis: "inline",
      trial_scores: [11, 11.1, 10.9],
      baseline_scores: [12, 12, 12.1],
      p_value: 0.001,
      effect: -0.08,
      cost_usd: 0.1,
    }),
    makeRecord({
      ...base,
      iter: 3,
      decision: "crashed",
      hypothesis: "rewrite",
      trial_scores: [null],
      trial_outcomes: ["crashed"],
      reason: "crashed_trials",
      cost_usd: 0.1,
    }),
    makeRecord({
      ...base,
      iter: 4,
      decision: "rejected",
      hypothesis: "edit tests",
      reason: "protected_path",
      detail: "tests/a.py is part of the evaluation harness",
      cost_usd: 0.05,
    }),
    makeRecord({
      ...base,
      iter: 5,
      decision: "no_change",
      reason: "no_submit",
      cost_usd: 0.02,
    }),
    makeRecord({
      ...base,
      iter: 6,
      decision: "improved",
      hypothesis: "vectorize",
      description: "use numpy",
      trial_scores: [14, 14.2, 13.9],
      baseline_scores: [12, 12.1, 11.9],
      p_value: 0.002,
      effect: 0.16,
      ci: [0.1, 0.2],
      sha: "c".repeat(40),
      cost_usd: 0.2,
    }),
  ];
}

/** A RunFile for the sample records. */
export function sampleRun(overrides: Partial<RunFile> = {}): RunFile {
  return {
    schema_version: 1,
    run_id: RUN_ID,
    created_at: "2026-01-01T12:00:00.000Z",
    repo_root: "/repo",
    start_sha: "a".repeat(40),
    branch: `ratchet/${RUN_ID}`,
    config: { "metric-name": "score", direction: "max", confidence: 0.95 },
    deterministic: false,
    trial_image: "busybox:latest",
    unit: null,
    state: "finished",
    stop_reason: "iterations",
    finished_at: "2026-01-01T13:00:00.000Z",
    ...overrides,
  };
}
