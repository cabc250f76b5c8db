/**
 * A small seeded pseudo-random generator for simulations (the decision bench
 * and the statistical tests of the decision rules). Seeded so a simulated
 * number can be written into a README and checked by a test: the same seed
 * always gives the same stream, on every platform.
 */

/** A seeded stream of random numbers. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Standard normal N(0, 1). */
  normal(): number;
  /** Integer uniform in [0, n). */
  int(n: number): number;
}

/**
 * mulberry32 (Tommy Ettinger's 32-bit generator): one 32-bit state word,
 * passes gjrand/PractRand well beyond the few million draws a bench makes,
 * and is exactly reproducible with 32-bit integer arithmetic in JavaScript.
 * Normals come from the Box–Muller transform; the second value of each pair
 * is kept for the next call so no draw is wasted.
 */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  let spare: number | null = null;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    normal(): number {
      if (spare !== null) {
        const z = spare;
        spare = null;
        return z;
      }
      // 1 - u lies in (0, 1], so the logarithm is finite.
      const u = 1 - next();
      const v = next();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
    int(n: number): number {
      return Math.floor(next() * n);
    },
  };
}
