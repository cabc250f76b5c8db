/**
 * The Mann–Whitney U (Wilcoxon rank-sum) test with exact p-values.
 *
 * The exact null distribution is the permutation distribution of the
 * candidate's rank sum: every way of choosing which `m` of the `N` pooled
 * trials belong to the candidate is equally likely when the two commits do
 * not differ. It is counted by dynamic programming over the pooled ranks.
 * Ties get mid-ranks and the distribution is counted with those mid-ranks
 * (the exact conditional test given the tie pattern), so ties need no
 * correction formula: with no ties the counts are the classical ones
 * tabulated by Mann and Whitney (1947), and scipy's
 * `mannwhitneyu(method="exact")` gives the same numbers.
 *
 * Above {@linkcode EXACT_MAX_N} pooled trials (beyond what `--max-trials`
 * ordinarily reaches) the normal approximation with the tie-corrected
 * variance and a continuity correction is used instead; `exact` says which.
 */
import { normalCdf } from "./stats.ts";

/**
 * Largest pooled sample counted exactly. C(50, 25) ≈ 1.3e14 is below 2^53,
 * so every count in the table is an exact integer in a double.
 */
export const EXACT_MAX_N = 50;

/** Result of {@linkcode mannWhitney}. */
export interface MannWhitneyResult {
  /** U of the candidate: pairs where it is larger, plus half the ties. */
  u: number;
  /** One-sided p-value for H1: the candidate tends to be larger. */
  pGreater: number;
  /** One-sided p-value for H1: the candidate tends to be smaller. */
  pLess: number;
  /**
   * Smallest one-sided p-value these sample sizes and this tie pattern can
   * produce (1 / C(N, m) without ties). When it exceeds the level a look
   * tests at, no data of this size can be significant.
   */
  minP: number;
  /** True when the p-values were counted exactly. */
  exact: boolean;
}

/** Doubled mid-ranks (1-based) of `values`, so ties stay integers. */
function doubledMidRanks(values: readonly number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) =>
    a[0] - b[0]
  );
  const ranks = new Array<number>(values.length).fill(0);
  let i = 0;
  while (i < order.length) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    // Positions i..j (0-based) share the mid-rank ((i+1)+(j+1))/2.
    for (let k = i; k <= j; k++) ranks[order[k]![1]] = i + j + 2;
    i = j + 1;
  }
  return ranks;
}

/**
 * Number of ways to choose `m` of the given scores for each possible sum:
 * `counts[s]` = #{subsets of size m with score sum s}.
 */
export function subsetSumCounts(scores: readonly number[], m: number): {
  counts: Float64Array;
  total: number;
} {
  const maxSum = [...scores].sort((a, b) => b - a).slice(0, m).reduce(
    (a, b) => a + b,
    0,
  );
  // table[j][s]: subsets of size j among the items seen so far with sum s.
  const table: Float64Array[] = [];
  for (let j = 0; j <= m; j++) table.push(new Float64Array(maxSum + 1));
  table[0]![0] = 1;
  let reach = 0;
  scores.forEach((score, k) => {
    reach += score;
    const top = Math.min(reach, maxSum);
    for (let j = Math.min(k + 1, m); j >= 1; j--) {
      const from = table[j - 1]!;
      const to = table[j]!;
      for (let s = top; s >= score; s--) {
        const c = from[s - score]!;
        if (c !== 0) to[s] = to[s]! + c;
      }
    }
  });
  const counts = table[m]!;
  let total = 0;
  for (const c of counts) total += c;
  return { counts, total };
}

/**
 * Mann–Whitney test of `candidate` against `incumbent` (at least one value
 * each). Exact when the pooled size is at most {@linkcode EXACT_MAX_N}.
 */
export function mannWhitney(
  candidate: readonly number[],
  incumbent: readonly number[],
): MannWhitneyResult {
  const m = candidate.length;
  const n = incumbent.length;
  if (m === 0 || n === 0) {
    throw new RangeError(
      `mannWhitney needs values on both sides, got ${m} and ${n}`,
    );
  }
  const big = m + n;
  const ranks2 = doubledMidRanks([...candidate, ...incumbent]);
  let w2 = 0;
  for (let i = 0; i < m; i++) w2 += ranks2[i]!;
  const u = w2 / 2 - (m * (m + 1)) / 2;

  if (big <= EXACT_MAX_N) {
    const { counts, total } = subsetSumCounts(ranks2, m);
    let le = 0;
    let ge = 0;
    for (let s = 0; s < counts.length; s++) {
      const c = counts[s]!;
      if (c === 0) continue;
      if (s <= w2) le += c;
      if (s >= w2) ge += c;
    }
    let lo = -1;
    let hi = -1;
    for (let s = 0; s < counts.length; s++) {
      if (counts[s]! !== 0) {
        if (lo < 0) lo = s;
        hi = s;
      }
    }
    const minP = Math.min(counts[lo]!, counts[hi]!) / total;
    return { u, pGreater: ge / total, pLess: le / total, minP, exact: true };
  }

  // Normal approximation: E[U] = mn/2, Var[U] = mn/12 · (N+1 − Σ(t³−t)/(N(N−1))).
  const groups = new Map<number, number>();
  for (const r of ranks2) groups.set(r, (groups.get(r) ?? 0) + 1);
  let tieSum = 0;
  for (const t of groups.values()) tieSum += t * t * t - t;
  const varU = (m * n / 12) * (big + 1 - tieSum / (big * (big - 1)));
  const mu = m * n / 2;
  if (varU <= 0) return { u, pGreater: 1, pLess: 1, minP: 1, exact: false };
  const sd = Math.sqrt(varU);
  const zGreater = (u - mu - 0.5) / sd;
  const zLess = (u - mu + 0.5) / sd;
  return {
    u,
    pGreater: normalCdf(-zGreater),
    pLess: normalCdf(zLess),
    minP: normalCdf(-(m * n - mu - 0.5) / sd),
    exact: false,
  };
}
