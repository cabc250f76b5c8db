import assert from "node:assert/strict";
import { EXACT_MAX_N, mannWhitney, subsetSumCounts } from "./mann_whitney.ts";
import { mulberry32 } from "./rng.ts";
import { near } from "../../tests/_helpers/core_stats.ts";

/**
 * The permutation p-values by brute force: enumerate every way of choosing
 * which pooled values are the candidate's and compare U (pairs where the
 * candidate is larger, ties counting one half). Independent of the rank-sum
 * dynamic program under test.
 */
function bruteForce(c: number[], i: number[]): { ge: number; le: number } {
  const pooled = [...c, ...i];
  const m = c.length;
  const uOf = (xs: number[], ys: number[]) => {
    let u = 0;
    for (const x of xs) for (const y of ys) u += x > y ? 1 : x === y ? 0.5 : 0;
    return u;
  };
  const observed = uOf(c, i);
  let ge = 0;
  let le = 0;
  let total = 0;
  const n = pooled.length;
  for (let mask = 0; mask < 1 << n; mask++) {
    let bits = 0;
    for (let k = 0; k < n; k++) if (mask & (1 << k)) bits++;
    if (bits !== m) continue;
    const xs = pooled.filter((_, k) => (mask & (1 << k)) !== 0);
    const ys = pooled.filter((_, k) => (mask & (1 << k)) === 0);
    const u = uOf(xs, ys);
    total++;
    if (u >= observed - 1e-9) ge++;
    if (u <= observed + 1e-9) le++;
  }
  return { ge: ge / total, le: le / total };
}

Deno.test("mannWhitney() matches scipy's documented exact example", () => {
  // scipy.stats.mannwhitneyu docs: males vs females, method="exact" →
  // statistic 17.0, two-sided p 0.1111111 (= 2 · 7/126).
  const r = mannWhitney([19, 22, 16, 29, 24], [20, 11, 17, 12]);
  assert.equal(r.u, 17);
  assert.equal(r.exact, true);
  near(r.pGreater, 7 / 126, 1e-15);
  near(2 * r.pGreater, 0.1111111111111111, 1e-15);
});

Deno.test("mannWhitney() matches the Mann–Whitney (1947) table without ties", () => {
  // P(U ≤ u) for equal sizes n: counts of arrangements / C(2n, n).
  const sep = (n: number, overlap: number) => {
    // Candidate below incumbent except `overlap` inversions, U = overlap.
    const c = Array.from({ length: n }, (_, k) => k + 1);
    const i = Array.from({ length: n }, (_, k) => n + k + 1);
    // Swapping the top candidate value with the lowest incumbent adds U = 1
    // per step of shifting the largest candidate up through the incumbents.
    c[n - 1] = n + overlap + 0.5;
    return { c, i };
  };
  const table: [number, number, number][] = [
    // n, U, P(U ≤ u)
    [3, 0, 1 / 20], // 0.050
    [4, 0, 1 / 70], // 0.014
    [4, 1, 2 / 70], // 0.029
    [4, 2, 4 / 70], // 0.057
    [5, 2, 4 / 252], // 0.016
    [5, 4, 12 / 252], // 0.048
  ];
  for (const [n, u, p] of table) {
    const { c, i } = sep(n, u);
    const r = mannWhitney(c, i);
    assert.equal(r.u, u, `n=${n}`);
    near(r.pLess, p, 1e-15, `n=${n} U=${u}`);
  }
  // n = 5, U = 5 → 19/252 = 0.075 (table), reached by a different shape.
  near(
    mannWhitney([1, 2, 3, 4.5, 7.5], [4, 5, 6, 7, 9]).pLess,
    19 / 252,
    1e-15,
  );
});

Deno.test("mannWhitney() equals brute-force enumeration, with and without ties", () => {
  const cases: [number[], number[]][] = [
    [[1, 1, 2], [2, 3, 3]],
    [[5, 5, 5, 6], [5, 6, 6, 7]],
    [[1.2, 3.4, 2.2, 0.5, 9], [3.3, 3.4, 4.1, 2.2]],
    [[7, 7, 7], [7, 7, 8, 9]],
    [[10, 12, 11, 13, 10, 9], [14, 10, 15, 16, 13, 11]],
  ];
  const rng = mulberry32(7);
  for (let k = 0; k < 20; k++) {
    // Integer data from a small range makes many ties.
    const m = 2 + rng.int(5);
    const n = 2 + rng.int(5);
    cases.push([
      Array.from({ length: m }, () => rng.int(5)),
      Array.from({ length: n }, () => rng.int(5)),
    ]);
  }
  for (const [c, i] of cases) {
    const r = mannWhitney(c, i);
    const b = bruteForce(c, i);
    near(r.pGreater, b.ge, 1e-12, `greater ${c} | ${i}`);
    near(r.pLess, b.le, 1e-12, `less ${c} | ${i}`);
  }
});

Deno.test("mannWhitney() reports the smallest reachable p-value", () => {
  // 3 vs 3: 1/20 = 0.05, so no look below 0.05 can ever be significant.
  assert.equal(mannWhitney([1, 2, 3], [4, 5, 6]).minP, 0.05);
  near(mannWhitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]).minP, 1 / 252, 1e-15);
  // Paired ties: the lowest five mid-ranks 1.5 1.5 3.5 3.5 5.5 can be taken
  // two ways (either 5), so the extreme is twice as likely.
  near(mannWhitney([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]).minP, 2 / 252, 1e-15);
  // All values tied: nothing can be significant.
  const tied = mannWhitney([5, 5, 5], [5, 5, 5]);
  assert.deepEqual([tied.pGreater, tied.pLess, tied.minP], [1, 1, 1]);
});

Deno.test("mannWhitney() switches to the normal approximation above the exact limit", () => {
  const rng = mulberry32(11);
  const draw = (shift: number, n: number) =>
    Array.from({ length: n }, () => rng.normal() + shift);
  const exactSide = mannWhitney(draw(0.4, 25), draw(0, 25));
  assert.equal(exactSide.exact, true);
  const big = mannWhitney(draw(0.4, 26), draw(0, 25));
  assert.equal(big.exact, false);
  assert.equal(EXACT_MAX_N, 50);
  // The approximation against the exact count of the same 51 values.
  const c = draw(0.5, 26);
  const i = draw(0, 25);
  const approx = mannWhitney(c, i);
  const pooled = [...c, ...i].map((v, k) => [v, k] as const).sort((a, b) =>
    a[0] - b[0]
  );
  const doubled = new Array<number>(pooled.length);
  pooled.forEach(([, k], r) => doubled[k] = 2 * (r + 1));
  const w = doubled.slice(0, 26).reduce((a, b) => a + b, 0);
  const { counts, total } = subsetSumCounts(doubled, 26);
  let ge = 0;
  for (let s = w; s < counts.length; s++) ge += counts[s]!;
  near(approx.pGreater, ge / total, 2e-3);
});

Deno.test("mannWhitney() rejects an empty side", () => {
  assert.throws(() => mannWhitney([], [1, 2]), RangeError);
});
