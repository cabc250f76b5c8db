import assert from "node:assert/strict";
import { BASE, simulateStat } from "../../bench/_decision_sim.ts";
import { analyzeNoise, detectableEffect, guardNoise } from "./noise.ts";
import { mulberry32 } from "./rng.ts";
import { mean, stdev } from "./stats.ts";
import { stepStatGuarded } from "./guard_decide.ts";
import { near } from "../../tests/_helpers/core_stats.ts";

Deno.test("analyzeNoise() grades identical scores deterministic", () => {
  const r = analyzeNoise([5, 5, 5, 5, 5], { trialSeconds: 3 });
  assert.equal(r.grade, "deterministic");
  assert.equal(r.cv, 0);
  assert.deepEqual(r.recommend, { trials: 1, maxTrials: 1, minEffect: 0 });
  assert.deepEqual(r.drift, {
    slope_per_trial: 0,
    relative_per_trial: 0,
    p_value: 1,
    significant: false,
  });
  assert.equal(r.estimated_trial_seconds_per_iteration, 6);
});

Deno.test("analyzeNoise() recommends from the test's own power formula", () => {
  // Alternating 99.5/100.5: mean 100, sd √(2.5/9), CV 0.527%, no trend.
  const values = Array.from({ length: 10 }, (_, i) => i % 2 ? 100.5 : 99.5);
  const r = analyzeNoise(values);
  assert.equal(r.grade, "low_noise");
  assert.equal(r.drift.significant, false);
  const cv = Math.sqrt(2.5 / 9) / 100;
  near(r.cv, cv, 1e-15);
  // 3 a side is one look at the full 5%: keep when t ≥ t_{0.95,4} =
  // 2.131847 (t table). With the t statistic's spread near that bound,
  // s = √(1 + 2.131847²/8) = 1.252314, 80% power needs a mean of
  // 2.131847 + z_{0.80}·s = 2.131847 + 0.841621·1.252314 standard errors:
  // δ = 3.185795·CV·√(2/3) = 1.37%, already under the 2% target.
  const s = Math.sqrt(1 + 2.131847 ** 2 / 8);
  const delta = (2.131847 + 0.841621 * s) * cv * Math.sqrt(2 / 3);
  near(detectableEffect(cv, 3), delta, 1e-6);
  assert.deepEqual(r.recommend, { trials: 3, maxTrials: 3, minEffect: 0.014 });
  assert.equal(r.mean, 100);
  assert.equal(r.median, 100);
  assert.equal(r.mad, 0.5);
  assert.deepEqual(r.outliers, []);
});

Deno.test("analyzeNoise() picks the fewest trials that reach the target effect", () => {
  const rng = mulberry32(3);
  const values = Array.from(
    { length: 20 },
    () => 100 * (1 + 0.05 * rng.normal()),
  );
  const cv = stdev(values) / mean(values);
  const r = analyzeNoise(values, { targetEffect: 0.1 });
  assert.equal(r.grade, "noisy");
  const n = r.recommend.maxTrials;
  assert.ok(detectableEffect(cv, n) <= 0.1);
  assert.ok(detectableEffect(cv, n - 1) > 0.1, `n=${n}`);
  assert.ok(r.recommend.minEffect >= detectableEffect(cv, n));
  // The default 2% target is out of reach at 5% CV: capped at 30 a side.
  assert.equal(analyzeNoise(values).recommend.maxTrials, 30);
});

Deno.test("detectableEffect() matches the simulated power of the sequential rule", () => {
  // CV 5%, 10 trials a side: the effect the power model says is kept 80%
  // of the time, simulated through the real rule. 2000 comparisons: the
  // standard error is 0.9 points; allow 4 points for the model's
  // approximations (t as a shifted normal).
  const effect = detectableEffect(0.05, 10);
  assert.ok(effect > 0.05 && effect < 0.08, `effect ${effect}`);
  const model = {
    name: "normal 5%",
    draw: (rng: ReturnType<typeof mulberry32>, v: number) =>
      v * (1 + 0.05 * rng.normal()),
  };
  const rng = mulberry32(17);
  let kept = 0;
  const n = 2000;
  for (let k = 0; k < n; k++) {
    const out = simulateStat(rng, model, BASE, BASE * (1 + effect), {
      index: 0,
    });
    if (out.verdict.decision === "improved") kept++;
  }
  near(kept / n, 0.8, 0.04, "power");
});

Deno.test("analyzeNoise() detects a drift and grades it unstable", () => {
  const rng = mulberry32(9);
  const values = Array.from(
    { length: 12 },
    (_, i) => 100 + 0.5 * i + 0.3 * rng.normal(),
  );
  const r = analyzeNoise(values);
  assert.equal(r.drift.significant, true);
  near(r.drift.slope_per_trial, 0.5, 0.1);
  near(r.drift.relative_per_trial!, 0.5 / r.mean, 0.001);
  assert.ok(r.drift.p_value < 1e-6);
  assert.equal(r.grade, "unstable");
});

Deno.test("analyzeNoise() grades a CV of 10% or more unstable and lists outliers", () => {
  const wide = analyzeNoise([80, 120, 90, 110, 100, 85, 115, 100]);
  assert.ok(wide.cv >= 0.1);
  assert.equal(wide.grade, "unstable");
  const spiky = analyzeNoise([10, 10.1, 9.9, 10, 10.2, 9.8, 10, 15]);
  assert.deepEqual(spiky.outliers, [7]);
});

Deno.test("analyzeNoise() needs two scores", () => {
  assert.throws(() => analyzeNoise([1]), RangeError);
});

Deno.test("guardNoise() recommends 0 for a deterministic guard and none around a mean of 0", () => {
  assert.equal(guardNoise([0.91, 0.91, 0.91], { maxTrials: 10 }).tolerance, 0);
  assert.equal(guardNoise([-1, 1, -1, 1], { maxTrials: 10 }).tolerance, null);
  assert.equal(guardNoise([1, 30, 2, 50, 1], { maxTrials: 3 }).tolerance, 1);
});

Deno.test("guardNoise() recommends a tolerance an unchanged guard passes about 80% of the time (simulation)", () => {
  const rng = mulberry32(91);
  const cv = 0.02;
  const values = Array.from(
    { length: 40 },
    () => 0.9 * (1 + cv * rng.normal()),
  );
  const { noise, tolerance } = guardNoise(values, { maxTrials: 10 });
  assert.ok(Math.abs(noise.cv - cv) < 0.006, `cv ${noise.cv}`);
  assert.equal(tolerance, roundUp(detectableEffect(noise.cv, 10)));
  // Through the real rule: a clear gain on the metric, the guard unchanged
  // with the recommended tolerance, kept most of the time.
  const guard = {
    name: "acc",
    direction: "max" as const,
    tolerance: tolerance!,
  };
  const params = {
    startPerSide: 3,
    maxPerSide: 10,
    direction: "max" as const,
    confidence: 0.95,
    minEffect: 0,
    minImprovement: 0,
    deterministic: false,
  };
  let kept = 0;
  const n = 1000;
  for (let k = 0; k < n; k++) {
    const inc: number[] = [];
    const cand: number[] = [];
    const gi: number[] = [];
    const gc: number[] = [];
    for (;;) {
      inc.push(100 * (1 + 0.01 * rng.normal()));
      cand.push(110 * (1 + 0.01 * rng.normal()));
      gi.push(0.9 * (1 + noise.cv * rng.normal()));
      gc.push(0.9 * (1 + noise.cv * rng.normal()));
      if (inc.length < 3) continue;
      const { step } = stepStatGuarded(
        { incumbent: inc, candidate: cand },
        params,
        {
          specs: [guard],
          incumbent: { acc: gi },
          candidate: { acc: gc },
          deterministic: {},
        },
      );
      if (step.kind === "done") {
        if (step.decision === "improved") kept++;
        break;
      }
    }
  }
  assert.ok(kept / n > 0.72 && kept / n < 0.95, `kept ${kept / n}`);
});

function roundUp(x: number): number {
  const scale = 10 ** (Math.floor(Math.log10(x)) - 1);
  return Math.ceil(x / scale - 1e-9) * scale;
}
