/**
 * The incumbent: the commit every later candidate is compared with, and
 * its value; and the baseline's. Pure: the loop's state, the stop
 * conditions, `status`, `log`, `apply` and the report read them.
 */
import { meanInterval } from "./judge.ts";
import type { IterationRecord } from "./state.ts";
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

/** The baseline's scores, mean and interval. */
export function baselineSummary(
  scores: readonly number[],
  config: { confidence: number },
): { mean: number; ci: [number, number] | null; scores: number[] } {
  return {
    mean: mean(scores),
    ci: meanInterval(scores, config.confidence),
    scores: [...scores],
  };
}

/** The incumbent (latest kept record) with its latest measured mean. */
export function incumbentSummary(
  records: readonly IterationRecord[],
  config: { confidence: number },
): {
  iter: number;
  sha: string;
  mean: number;
  ci: [number, number] | null;
  scores: number[];
} {
  const inc = incumbentOf(records, { confidence: config.confidence });
  if (inc === null || inc.sha === null) {
    throw new Error("no kept record with a commit: the baseline is missing");
  }
  return {
    iter: inc.iter,
    sha: inc.sha,
    mean: inc.mean,
    ci: inc.ci,
    scores: inc.scores,
  };
}
