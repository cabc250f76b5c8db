import assert from "node:assert/strict";
import { mulberry32 } from "./rng.ts";
import {
  groupSequentialBoundary,
  hwangShihDeCaniSpending,
  obrienFlemingSpending,
  planBoundary,
  plannedLookTimes,
  pocockSpending,
  predictivePower,
} from "./sequential.ts";
import { normalQuantile } from "./stats.ts";
import { near } from "../../tests/_helpers/core_stats.ts";

const FIVE = [0.2, 0.4, 0.6, 0.8, 1];

Deno.test("groupSequentialBoundary() reproduces published Lan–DeMets bounds", () => {
  // Five equally spaced looks, one-sided α = 0.025 (gsDesign sfLDOF and
  // sfLDPocock; Jennison & Turnbull, Group Sequential Methods, ch. 7).
  const obf = groupSequentialBoundary(FIVE, obrienFlemingSpending(0.025));
  [4.877, 3.357, 2.680, 2.290, 2.031].forEach((z, k) =>
    near(obf.z[k]!, z, 1.5e-3, `OBF look ${k + 1}`)
  );
  const pocock = groupSequentialBoundary(FIVE, pocockSpending(0.025));
  [2.438, 2.427, 2.410, 2.397, 2.386].forEach((z, k) =>
    near(pocock.z[k]!, z, 1.5e-3, `Pocock look ${k + 1}`)
  );
  near(obf.spent[4]!, 0.025, 1e-12);
});

Deno.test("groupSequentialBoundary() with one look is the fixed-sample test", () => {
  const b = groupSequentialBoundary([1], obrienFlemingSpending(0.05));
  near(b.z[0]!, normalQuantile(0.95), 1e-6);
  near(b.nominal[0]!, 0.05, 1e-9);
});

Deno.test("groupSequentialBoundary() holds the error rate by simulation", () => {
  // Brownian motion under H0 observed at the planned looks of 3..10 pairs:
  // the chance of crossing any boundary is α, not the ~2.5α that testing
  // every look at α would give.
  const b = planBoundary(0.95, 3, 10);
  const rng = mulberry32(2024);
  const runs = 40000;
  let crossed = 0;
  let naive = 0;
  for (let r = 0; r < runs; r++) {
    let s = 0;
    let prev = 0;
    let hit = false;
    let hitNaive = false;
    b.times.forEach((t, k) => {
      s += Math.sqrt(t - prev) * rng.normal();
      prev = t;
      const z = s / Math.sqrt(t);
      if (z >= b.z[k]!) hit = true;
      if (z >= normalQuantile(0.95)) hitNaive = true;
    });
    if (hit) crossed++;
    if (hitNaive) naive++;
  }
  // Standard error of a 5% rate over 40 000 runs: 0.0011; allow 3 of them.
  near(crossed / runs, 0.05, 0.0033);
  assert.ok(naive / runs > 0.1, `naive looks: ${naive / runs}`);
});

Deno.test("groupSequentialBoundary() stays accurate for many closely spaced looks", () => {
  // 998 looks (--max-trials 1000): the cell-averaged kernel keeps the
  // spent error exact and the last bound just under the fixed-sample one.
  const b = planBoundary(0.95, 3, 1000);
  assert.equal(b.times.length, 998);
  near(b.spent[b.spent.length - 1]!, 0.05, 1e-9);
  const last = b.z[b.z.length - 1]!;
  assert.ok(last > normalQuantile(0.95) && last < 2.0, `last ${last}`);
});

Deno.test("groupSequentialBoundary() rejects looks out of order", () => {
  assert.throws(
    () => groupSequentialBoundary([0.5, 0.5], pocockSpending(0.05)),
    RangeError,
  );
  assert.throws(() => groupSequentialBoundary([], pocockSpending(0.05)));
});

Deno.test("spending functions start at 0 and end at α", () => {
  for (
    const f of [
      obrienFlemingSpending(0.05),
      pocockSpending(0.05),
      hwangShihDeCaniSpending(0.05, -2),
      hwangShihDeCaniSpending(0.05, 0),
    ]
  ) {
    assert.equal(f(0), 0);
    near(f(1), 0.05, 1e-15);
    assert.ok(f(0.3) < f(0.6) && f(0.6) < f(1));
  }
  // O'Brien–Fleming-type spends almost nothing early.
  assert.ok(obrienFlemingSpending(0.05)(0.3) < 0.001);
});

Deno.test("plannedLookTimes() is one look per pair from start to max", () => {
  assert.deepEqual(plannedLookTimes(3, 5), [0.6, 0.8, 1]);
});

Deno.test("predictivePower() is high when on track and low when hopeless", () => {
  // Halfway, z exactly on the final bound's trend: PP = Φ(z(1−√t)/√(1−t)).
  const zF = 1.8;
  near(predictivePower(zF * Math.sqrt(0.5), 0.5, zF), 0.5, 1e-12);
  assert.ok(predictivePower(3, 0.5, zF) > 0.9);
  assert.ok(predictivePower(-0.5, 0.5, zF) < 0.01);
  assert.equal(predictivePower(-Infinity, 0.3, zF), 0);
  assert.equal(predictivePower(2, 1, zF), 1);
  assert.equal(predictivePower(1, 1, zF), 0);
});

Deno.test("planBoundary() offers the comparison's look methods: Bonferroni α/K, none α, Pocock", () => {
  const bonf = planBoundary(0.95, 3, 10, "bonferroni");
  assert.equal(bonf.nominal.length, 8);
  for (const level of bonf.nominal) {
    assert.ok(Math.abs(level - 0.05 / 8) < 1e-15);
  }
  const none = planBoundary(0.95, 3, 10, "none");
  for (const level of none.nominal) assert.ok(Math.abs(level - 0.05) < 1e-15);
  // Pocock-type spends more early than O'Brien–Fleming, less at the end.
  const pocock = planBoundary(0.95, 3, 10, "pocock");
  const obf = planBoundary(0.95, 3, 10);
  assert.ok(pocock.nominal[0]! > obf.nominal[0]!);
  assert.ok(pocock.nominal[7]! < obf.nominal[7]!);
  // The default is O'Brien–Fleming.
  assert.deepEqual(planBoundary(0.95, 3, 10, "obrien-fleming"), obf);
});
