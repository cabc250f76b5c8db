/**
 * When a run stops (spec section 7's stop reasons that depend on the
 * records), and what the incumbent's value is. Pure: the run loop asks after
 * every record; `status` and `report` use {@linkcode incumbentOf} for the
 * "best" they show.
 */
import type { IterationRecord, StopReason } from "./state.ts";
import { mean, meanCi } from "./stats.ts";

/** The commit every later candidate is compared with, and its value. */
export interface Incumbent {
  iter: number;
  sha: string | null;
  /** Its latest measured mean (see {@linkcode incumbentOf}). */
  mean: number;
  /** Two-sided interval of that mean at the run's confidence; null for one value. */
  ci: [number, number] | null;
  /** The scores `mean` was computed from. */
  scores: number[];
}

/** Decisions whose record carries a real comparison with the incumbent. */
const COMPARED = new Set(["regressed", "no_change", "inconclusive"]);

/**
 * The incumbent (the latest kept record: the baseline or the last
 * `improved`) and its value.
 *
 * Its mean is its LATEST measurement, not the average that got it kept:
 * under `stat` every later iteration re-measures the incumbent beside the
 * candidate (`baseline_scores`), so the mean is that of the newest
 * `baseline_scores` recorded by an iteration that compared against it (a
 * `regressed`, `no_change` or `inconclusive` record). Until such a record
 * exists (and always under `mean`, which never re-measures) it is the mean
 * of the incumbent's own trial scores. The average that won the keep is the
 * luckiest draw of a selected candidate and is biased upward by that
 * selection; a re-measurement is not.
 *
 * Returns null when there are no kept records.
 */
export function incumbentOf(
  records: readonly IterationRecord[],
  options: { confidence?: number } = {},
): Incumbent | null {
  const confidence = options.confidence ?? 0.95;
  let kept: IterationRecord | null = null;
  for (const r of records) if (r.kept) kept = r;
  if (kept === null) return null;
  let scores = kept.trial_scores.filter((s): s is number => s !== null);
  for (const r of records) {
    if (
      r.iter > kept.iter && COMPARED.has(r.decision) &&
      r.baseline_scores.length > 0
    ) {
      scores = [...r.baseline_scores];
    }
  }
  if (scores.length === 0) {
    // A kept record without scores has only its average to offer.
    if (kept.avg === null) return null;
    return { iter: kept.iter, sha: kept.sha, mean: kept.avg, ci: null, scores };
  }
  return {
    iter: kept.iter,
    sha: kept.sha,
    mean: mean(scores),
    ci: meanCi(scores, confidence),
    scores,
  };
}

/** The configuration the stop conditions read. */
export interface StopParams {
  /** `--iterations`: the last record's iter at which the run ends. */
  iterations: number;
  threshold: number | null;
  direction: "max" | "min";
  /** 0 = off. */
  patience: number;
  maxConsecutiveCrashes: number;
  /** For the incumbent's interval; defaults to 0.95. */
  confidence?: number;
  /**
   * The last iteration recorded when a finished run was extended (`resume`
   * with new limits): patience and consecutive crashes count only the
   * iterations after it, so the condition that ended the run does not end
   * the extension at once. 0 (the default) counts every proposal.
   */
  since?: number;
}

/** Money spent so far and the cap (0 = no cap). */
export interface Spend {
  costUsd: number;
  maxCostUsd: number;
}

/**
 * Why the run should stop after these records, or null to go on.
 *
 * - `threshold`: the incumbent's mean ({@linkcode incumbentOf}) reached the
 *   threshold (≥ for max, ≤ for min); checked after iteration 0 too;
 * - `crashes`: the last `maxConsecutiveCrashes` iterations all `crashed`;
 * - `patience`: the last `patience` iterations after the baseline were all
 *   not `improved`;
 * - `cost`: the spend reached `maxCostUsd` (the agent also stops before a
 *   call that would exceed it);
 * - `iterations`: the last record is iteration `iterations`.
 *
 * When several hold, the first in that order is reported: reaching the goal
 * says the most, then what went wrong, then the plain cap.
 */
export function stopReason(
  records: readonly IterationRecord[],
  params: StopParams,
  spend: Spend,
): StopReason | null {
  if (records.length === 0) return null;
  if (params.threshold !== null) {
    const inc = incumbentOf(
      records,
      params.confidence === undefined ? {} : { confidence: params.confidence },
    );
    if (inc !== null) {
      const reached = params.direction === "max"
        ? inc.mean >= params.threshold
        : inc.mean <= params.threshold;
      if (reached) return "threshold";
    }
  }
  const since = params.since ?? 0;
  const proposals = records.filter((r) => r.iter >= 1 && r.iter > since);
  const lastN = (n: number) =>
    n > 0 && proposals.length >= n ? proposals.slice(-n) : null;
  const crashed = lastN(params.maxConsecutiveCrashes);
  if (crashed !== null && crashed.every((r) => r.decision === "crashed")) {
    return "crashes";
  }
  const waited = lastN(params.patience);
  if (waited !== null && waited.every((r) => r.decision !== "improved")) {
    return "patience";
  }
  if (spend.maxCostUsd > 0 && spend.costUsd >= spend.maxCostUsd) return "cost";
  const last = records[records.length - 1]!;
  if (last.iter >= params.iterations) return "iterations";
  return null;
}
