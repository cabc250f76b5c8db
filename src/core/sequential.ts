/**
 * Group-sequential boundaries: how the error rate is held across the
 * repeated looks of `--decision stat`.
 *
 * The loop looks at the data after every added pair, from `startPerSide` to
 * `maxPerSide` pairs. Testing each look at the full level would let chance
 * cross the line at one look or another far more often than 1 − confidence.
 * Instead the one-sided error α = 1 − confidence is spent across the planned
 * looks with a Lan–DeMets alpha-spending function, and each look's critical
 * value is computed EXACTLY for the correlated sequence of test statistics
 * (the recursion of Armitage, McPherson and Rowe, 1969), so that
 * P(some look crosses | no true difference) = α, no more. Because the
 * correlation is used, this spends α far more efficiently than Bonferroni
 * (which would test every look at α/K).
 *
 * Information time: with n pairs of the planned maximum N, the statistic
 * carries the fraction t = n/N of the final information. Under H0 the
 * look statistics behave like Z_k = S(t_k)/√t_k for a standard Brownian
 * motion S, which is what the recursion integrates over.
 *
 * Futility stopping is non-binding: the boundaries are computed as if the
 * procedure never stopped for futility, so stopping early for futility can
 * only lower the error rate.
 */
import { normalCdf, normalQuantile } from "./stats.ts";

/** Cumulative one-sided error allowed to be spent by information time t. */
export type SpendingFunction = (t: number) => number;

/**
 * Lan–DeMets O'Brien–Fleming-type spending, one-sided version:
 * α(t) = 2 − 2Φ(z_{1−α/2}/√t). Spends almost nothing early and nearly all of
 * α at the end.
 */
export function obrienFlemingSpending(alpha: number): SpendingFunction {
  const z = normalQuantile(1 - alpha / 2);
  return (t) => t <= 0 ? 0 : t >= 1 ? alpha : 2 * normalCdf(-z / Math.sqrt(t));
}

/**
 * Lan–DeMets Pocock-type spending: α(t) = α·ln(1 + (e − 1)t). Spends evenly,
 * so clear cases can stop early, at the price of a stricter final look.
 */
export function pocockSpending(alpha: number): SpendingFunction {
  return (t) =>
    t <= 0 ? 0 : t >= 1 ? alpha : alpha * Math.log(1 + (Math.E - 1) * t);
}

/**
 * Hwang–Shih–DeCani spending: α(t) = α(1 − e^{−γt})/(1 − e^{−γ}).
 * γ = 1 is close to Pocock, γ = −4 close to O'Brien–Fleming; γ = 0 is the
 * linear α·t.
 */
export function hwangShihDeCaniSpending(
  alpha: number,
  gamma: number,
): SpendingFunction {
  if (gamma === 0) return (t) => alpha * Math.min(1, Math.max(0, t));
  const den = 1 - Math.exp(-gamma);
  return (t) =>
    t <= 0 ? 0 : t >= 1 ? alpha : alpha * (1 - Math.exp(-gamma * t)) / den;
}

/** Critical values of a one-sided group-sequential test. */
export interface Boundary {
  /** Information fraction of each look (increasing, last = 1). */
  times: number[];
  /** Critical value of the standardized statistic Z_k at each look. */
  z: number[];
  /**
   * Nominal one-sided level of each look: reject at look k when the look's
   * own p-value is ≤ nominal[k] (= 1 − Φ(z[k])).
   */
  nominal: number[];
  /** Cumulative error spent through each look. */
  spent: number[];
}

/** Largest critical value used: beyond it nothing is ever spent. */
const Z_CAP = 8.5;

/**
 * Exact one-sided group-sequential critical values for the looks at
 * information `times` (strictly increasing, in (0, 1]) spending `spend`.
 *
 * The sub-density of S(t_k) on the paths that have not yet crossed is
 * carried on a fine grid of cells; between looks it is convolved with the
 * N(0, Δt) increment, integrated exactly over each cell (so narrow kernels,
 * from many closely spaced looks, stay accurate); at each look the critical
 * value is placed where the mass above it equals that look's share of α,
 * and that mass is removed.
 */
export function groupSequentialBoundary(
  times: readonly number[],
  spend: SpendingFunction,
): Boundary {
  if (times.length === 0) throw new RangeError("at least one look needed");
  const minStep = times.reduce(
    (m, t, i) => Math.min(m, i === 0 ? t : t - times[i - 1]!),
    Infinity,
  );
  if (!(minStep > 0) || times[times.length - 1]! > 1 + 1e-12) {
    throw new RangeError(`look times must increase within (0, 1]: ${times}`);
  }
  // S(t) has standard deviation √t ≤ 1: ±9 holds all but ~1e-19 of it.
  const lo = -9;
  const hi = 9;
  const h = Math.min(0.02, Math.sqrt(minStep) / 4);
  const cells = Math.ceil((hi - lo) / h);
  // Mass of each cell of the first look: S(t_1) ~ N(0, t_1).
  let mass: Float64Array = new Float64Array(cells);
  const sd1 = Math.sqrt(times[0]!);
  for (let i = 0; i < cells; i++) {
    mass[i] = normalCdf((lo + (i + 1) * h) / sd1) -
      normalCdf((lo + i * h) / sd1);
  }
  const z: number[] = [];
  const nominal: number[] = [];
  const spentList: number[] = [];
  let spent = 0;
  let kernel: Float64Array | null = null;
  let kernelDelta = NaN;
  for (let k = 0; k < times.length; k++) {
    const t = times[k]!;
    if (k > 0) {
      const delta = t - times[k - 1]!;
      if (kernel === null || Math.abs(delta - kernelDelta) > 1e-12) {
        kernel = cellKernel(h, Math.sqrt(delta));
        kernelDelta = delta;
      }
      mass = convolve(mass, kernel);
    }
    const target = Math.max(0, spend(t) - spent);
    // Find the level b (on the S scale) with exactly `target` mass above it.
    let above = 0;
    let b = hi;
    if (k === 0 && target > 0) {
      // The first look is a plain normal tail: place it exactly and cut the
      // cell it falls in at the exact mass.
      b = -normalQuantile(target) * sd1;
      const cell = Math.floor((b - lo) / h);
      if (cell >= 0 && cell < cells) {
        mass[cell] = normalCdf(b / sd1) - normalCdf((lo + cell * h) / sd1);
        for (let j = cell + 1; j < cells; j++) mass[j] = 0;
      }
      above = target;
    } else {
      for (let i = cells - 1; i >= 0; i--) {
        const m = mass[i]!;
        if (above + m >= target) {
          // Mass is taken as uniform within the cell.
          const need = target - above;
          const frac = m > 0 ? need / m : 0;
          b = lo + (i + 1 - frac) * h;
          mass[i] = m - need;
          above = target;
          for (let j = i + 1; j < cells; j++) mass[j] = 0;
          break;
        }
        above += m;
      }
    }
    let zk = b / Math.sqrt(t);
    if (zk > Z_CAP || target === 0) zk = Z_CAP;
    spent += above;
    z.push(zk);
    nominal.push(normalCdf(-zk));
    spentList.push(spent);
  }
  return { times: [...times], z, nominal, spent: spentList };
}

/**
 * Probability of moving by j cells for a N(shift, sd²) step, cell-averaged.
 */
function cellKernel(h: number, sd: number, shift = 0): Float64Array {
  const half = Math.ceil((9 * sd + Math.abs(shift)) / h) + 1;
  const out = new Float64Array(2 * half + 1);
  for (let j = -half; j <= half; j++) {
    // A uniform position within the source cell moving to the target cell:
    // the exact average over the source cell uses the integrated normal CDF.
    out[j + half] = cellAverage(j * h - shift, h, sd);
  }
  return out;
}

/** Where a sequential test with drift ends. */
export interface Crossing {
  /** P(the statistic crosses an upper bound before any stop below). */
  upper: number;
  /** P(it falls below a lower bound first). */
  lower: number;
}

/**
 * Probabilities that Z_k = S(t_k)/√t_k, with S a Brownian motion of drift
 * `drift` (so Z at t = 1 has mean `drift`), first crosses `upper[k]` or
 * first falls below `lower[k]` at the looks `times` — the operating
 * characteristic of a sequential test with efficacy and futility bounds.
 * Same grid recursion as {@linkcode groupSequentialBoundary}.
 */
export function sequentialCrossing(
  times: readonly number[],
  upper: readonly number[],
  lower: readonly number[],
  drift: number,
  /** Grid cell width; coarser is faster, 0.04 is within 1e-3 of finer. */
  cell = 0.02,
): Crossing {
  const minStep = times.reduce(
    (m, t, i) => Math.min(m, i === 0 ? t : t - times[i - 1]!),
    Infinity,
  );
  const lo = -9 + Math.min(0, drift);
  const hi = 9 + Math.max(0, drift);
  const h = Math.min(cell, Math.sqrt(minStep) / 4);
  const cells = Math.ceil((hi - lo) / h);
  let mass: Float64Array = new Float64Array(cells);
  const t1 = times[0]!;
  const sd1 = Math.sqrt(t1);
  for (let i = 0; i < cells; i++) {
    mass[i] = normalCdf((lo + (i + 1) * h - drift * t1) / sd1) -
      normalCdf((lo + i * h - drift * t1) / sd1);
  }
  let up = 0;
  let down = 0;
  let kernel: Float64Array | null = null;
  let kernelDelta = NaN;
  for (let k = 0; k < times.length; k++) {
    const t = times[k]!;
    if (k > 0) {
      const delta = t - times[k - 1]!;
      if (kernel === null || Math.abs(delta - kernelDelta) > 1e-12) {
        kernel = cellKernel(h, Math.sqrt(delta), drift * delta);
        kernelDelta = delta;
      }
      mass = convolve(mass, kernel);
    }
    const bUp = upper[k]! * Math.sqrt(t);
    const bLow = lower[k]! * Math.sqrt(t);
    for (let i = 0; i < cells; i++) {
      const m = mass[i]!;
      if (m === 0) continue;
      const a = lo + i * h;
      // The share of the cell beyond each bound, mass uniform in the cell.
      const fracUp = Math.min(1, Math.max(0, (a + h - bUp) / h));
      const fracLow = Math.min(1 - fracUp, Math.max(0, (bLow - a) / h));
      up += m * fracUp;
      down += m * fracLow;
      mass[i] = m * (1 - fracUp - fracLow);
    }
  }
  return { upper: up, lower: down };
}

/**
 * P(a uniform point in a cell of width h, plus N(0, sd²), lands in the cell
 * whose centre is `offset` away) = (1/h)∫∫ … evaluated in closed form with
 * G(x) = x·Φ(x/sd) + sd·φ(x/sd), the antiderivative of Φ(x/sd).
 */
function cellAverage(offset: number, h: number, sd: number): number {
  const g = (x: number) =>
    x * normalCdf(x / sd) +
    sd * Math.exp(-0.5 * (x / sd) * (x / sd)) / Math.sqrt(2 * Math.PI);
  const p = (g(offset + h) - 2 * g(offset) + g(offset - h)) / h;
  return Math.max(0, p);
}

function convolve(mass: Float64Array, kernel: Float64Array): Float64Array {
  const n = mass.length;
  const half = (kernel.length - 1) / 2;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const m = mass[i]!;
    if (m === 0) continue;
    const from = Math.max(0, i - half);
    const to = Math.min(n - 1, i + half);
    for (let j = from; j <= to; j++) {
      out[j] = out[j]! + m * kernel[j - i + half]!;
    }
  }
  return out;
}

/** Information fractions of the planned looks at start…max pairs. */
export function plannedLookTimes(
  startPerSide: number,
  maxPerSide: number,
): number[] {
  const times: number[] = [];
  for (let n = startPerSide; n <= maxPerSide; n++) times.push(n / maxPerSide);
  return times;
}

/** The spending function ratchet uses (see docs/decisions.md). */
export function defaultSpending(alpha: number): SpendingFunction {
  return obrienFlemingSpending(alpha);
}

/**
 * How the error rate is held across the looks: ratchet's O'Brien–Fleming
 * spending, the Pocock-type spending, Bonferroni (α/K at every look, the
 * correlation of the looks ignored), or none (α at every look, which does
 * not hold it). The alternatives exist for the comparison in
 * docs/decisions.md.
 */
export type LookMethod = "obrien-fleming" | "pocock" | "bonferroni" | "none";

/** Flat boundaries (the same nominal level at every look). */
function flatBoundary(times: readonly number[], level: number): Boundary {
  const z = normalQuantile(1 - level);
  return {
    times: [...times],
    z: times.map(() => z),
    nominal: times.map(() => level),
    spent: times.map((_, i) => Math.min(1, level * (i + 1))),
  };
}

const cache = new Map<string, Boundary>();

/**
 * The boundary of the planned looks of one comparison, memoized: every
 * iteration of a run shares the same plan, and the bench asks thousands of
 * times.
 */
export function planBoundary(
  confidence: number,
  startPerSide: number,
  maxPerSide: number,
  method: LookMethod = "obrien-fleming",
): Boundary {
  const key = `${confidence}|${startPerSide}|${maxPerSide}|${method}`;
  let b = cache.get(key);
  if (b === undefined) {
    const times = plannedLookTimes(startPerSide, maxPerSide);
    const alpha = 1 - confidence;
    b = method === "bonferroni"
      ? flatBoundary(times, alpha / times.length)
      : method === "none"
      ? flatBoundary(times, alpha)
      : groupSequentialBoundary(
        times,
        method === "pocock" ? pocockSpending(alpha) : defaultSpending(alpha),
      );
    if (cache.size > 64) cache.clear();
    cache.set(key, b);
  }
  return b;
}

/**
 * Predictive power below which the sequential rule stops for futility: the
 * chance that the planned remaining trials end significant, averaged over
 * what the data so far say the effect could be, is under 10%. A common
 * threshold for stochastic curtailment; in the bench it halves the trials
 * spent on proposals that do nothing while costing a few points of power
 * on marginal gains (docs/decisions.md has the numbers).
 */
export const FUTILITY_PREDICTIVE_POWER = 0.1;

/**
 * The futility bound on Z at information `t`: predictive power is below
 * `gamma` exactly when Z < zFinal·√t + Φ⁻¹(gamma)·√(1 − t).
 */
export function futilityBound(
  t: number,
  zFinal: number,
  gamma: number,
): number {
  if (t >= 1) return -Infinity;
  return zFinal * Math.sqrt(t) + normalQuantile(gamma) * Math.sqrt(1 - t);
}

/**
 * Predictive probability (flat prior on the effect) that the final look
 * will be significant, given the current standardized statistic `z` at
 * information fraction `t` and the final critical value `zFinal`:
 * PP = Φ((z − zFinal·√t) / √(1 − t)). 1 or 0 at t ≥ 1.
 */
export function predictivePower(z: number, t: number, zFinal: number): number {
  if (t >= 1) return z >= zFinal ? 1 : 0;
  return normalCdf((z - zFinal * Math.sqrt(t)) / Math.sqrt(1 - t));
}
