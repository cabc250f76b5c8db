/**
 * The persisted shapes of spec section 8. Pure types and constructors: the
 * store reads and writes them, the loop fills them, reports render them.
 */

/** Version written into every JSON file and record. */
export const SCHEMA_VERSION = 1;

/** Decision strings of spec section 7. */
export const DECISIONS = [
  "baseline",
  "improved",
  "regressed",
  "no_change",
  "inconclusive",
  "crashed",
  "rejected",
] as const;
export type Decision = typeof DECISIONS[number];

/** Trial outcomes of spec section 5. */
export const TRIAL_OUTCOMES = [
  "ok",
  "crashed",
  "timeout",
  "oom",
  "no_metric",
] as const;
export type TrialOutcome = typeof TRIAL_OUTCOMES[number];

/** `reason` values of spec section 8. */
export const REASONS = [
  "no_submit",
  "empty_diff",
  "tool_cap",
  "protected_path",
  "symlink_outside",
  "harness_added",
  "check_failed",
  "crashed_trials",
  "within_noise",
  "below_min_effect",
  "trials_exhausted",
  "guard_regressed",
  "file_too_large",
] as const;
export type Reason = typeof REASONS[number];

/** Stop reasons of spec section 7. */
export const STOP_REASONS = [
  "iterations",
  "threshold",
  "patience",
  "crashes",
  "cost",
  "interrupted",
  "upstream",
] as const;
export type StopReason = typeof STOP_REASONS[number];

/** Token counts of one model call or one iteration. */
export interface Tokens {
  input: number;
  output: number;
  cache_write: number;
  cache_read: number;
}

/** Lines changed by a candidate. */
export interface DiffStat {
  files: number;
  insertions: number;
  deletions: number;
}

/** One proposal in critic mode. */
export interface Proposal {
  title: string;
  hypothesis: string;
  plan: string;
}

/** What critic mode records for an iteration. */
export interface CriticRecord {
  proposals: Proposal[];
  choice: "A" | "B";
  rationale: string;
}

/**
 * One guard in a record (spec section 8's `guards`): its values in the
 * candidate's trials (null for a trial that did not end ok) and in the
 * incumbent's re-measured trials, the candidate's average, and the
 * comparison (effect and its interval as for the metric; `p_value` is the
 * one-sided non-inferiority p-value, null where no test ran).
 */
export interface GuardRecord {
  scores: (number | null)[];
  baseline_scores: number[];
  avg: number | null;
  effect: number | null;
  ci: [number, number] | null;
  p_value: number | null;
}

/** One line of `results.jsonl`: every key always present (spec section 8). */
export interface IterationRecord {
  schema_version: number;
  run_id: string;
  iter: number;
  decision: Decision;
  kept: boolean;
  hypothesis: string;
  description: string;
  trial_scores: (number | null)[];
  trial_outcomes: TrialOutcome[];
  baseline_scores: number[];
  avg: number | null;
  p_value: number | null;
  effect: number | null;
  ci: [number, number] | null;
  sha: string | null;
  reason: Reason | null;
  detail: string;
  /** `null` without `--guard`, else one entry per guard. */
  guards: Record<string, GuardRecord> | null;
  tokens: Tokens;
  cost_usd: number;
  duration_s: number;
  diff_stat: DiffStat;
  critic: CriticRecord | null;
  timestamp: string;
}

/** Zero tokens. */
export function emptyTokens(): Tokens {
  return { input: 0, output: 0, cache_write: 0, cache_read: 0 };
}

/** Sum of two token counts. */
export function addTokens(a: Tokens, b: Tokens): Tokens {
  return {
    input: a.input + b.input,
    output: a.output + b.output,
    cache_write: a.cache_write + b.cache_write,
    cache_read: a.cache_read + b.cache_read,
  };
}

/** Mean of the non-null values, or null when there are none. */
export function meanOfScores(
  scores: readonly (number | null)[],
): number | null {
  const ok = scores.filter((s): s is number => s !== null);
  return ok.length === 0 ? null : ok.reduce((a, b) => a + b, 0) / ok.length;
}

/**
 * Build a complete record from the fields that vary, filling the rest with
 * their neutral values so every record has every key.
 */
export function makeRecord(
  fields:
    & Pick<IterationRecord, "run_id" | "iter" | "decision" | "timestamp">
    & Partial<IterationRecord>,
): IterationRecord {
  const trial_scores = fields.trial_scores ?? [];
  return {
    schema_version: SCHEMA_VERSION,
    run_id: fields.run_id,
    iter: fields.iter,
    decision: fields.decision,
    kept: fields.kept ?? (fields.decision === "baseline" ||
      fields.decision === "improved"),
    hypothesis: fields.hypothesis ?? "",
    description: fields.description ?? "",
    trial_scores,
    trial_outcomes: fields.trial_outcomes ?? [],
    baseline_scores: fields.baseline_scores ?? [],
    avg: fields.avg !== undefined ? fields.avg : meanOfScores(trial_scores),
    p_value: fields.p_value ?? null,
    effect: fields.effect ?? null,
    ci: fields.ci ?? null,
    sha: fields.sha ?? null,
    reason: fields.reason ?? null,
    detail: fields.detail ?? "",
    guards: fields.guards ?? null,
    tokens: fields.tokens ?? emptyTokens(),
    cost_usd: fields.cost_usd ?? 0,
    duration_s: fields.duration_s ?? 0,
    diff_stat: fields.diff_stat ?? { files: 0, insertions: 0, deletions: 0 },
    critic: fields.critic ?? null,
    timestamp: fields.timestamp,
  };
}

/** A guard record with nothing measured (a candidate that was not measured). */
export function emptyGuardRecord(): GuardRecord {
  return {
    scores: [],
    baseline_scores: [],
    avg: null,
    effect: null,
    ci: null,
    p_value: null,
  };
}

/** `guards` of a record of a run with these guard names: null without any. */
export function emptyGuards(
  names: readonly string[],
): Record<string, GuardRecord> | null {
  return names.length === 0
    ? null
    : Object.fromEntries(names.map((n) => [n, emptyGuardRecord()]));
}

/** Phases of an iteration, for `current.json`, `status` and the live view. */
export type Phase =
  | "preparing"
  | "baseline"
  | "proposing"
  | "checking"
  | "measuring"
  | "deciding"
  | "recording"
  | "confirming"
  | "finished";

/**
 * `current.json`: the in-progress iteration. Written before each phase so a
 * resumed run knows what it was doing when it stopped.
 */
export interface CurrentIteration {
  schema_version: number;
  run_id: string;
  iter: number;
  phase: Phase;
  /** Commit of the incumbent the candidate is compared against. */
  incumbent_sha: string;
  /** Tree of the candidate, once written. */
  candidate_tree: string | null;
  hypothesis: string;
  description: string;
  started_at: string;
  /** Tokens and cost already spent on this iteration. */
  tokens: Tokens;
  cost_usd: number;
  /**
   * During the baseline: the trial running (1-based) and how many there
   * are; absent or null in other phases.
   */
  trial?: number | null;
  of?: number | null;
}
