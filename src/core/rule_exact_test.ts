import assert from "node:assert/strict";
import { decideExact } from "./rule_exact.ts";
import { stepStat } from "./rule_stat.ts";
import type { Direction } from "./verdict.ts";
import { done, near, STAT_PARAMS } from "../../tests/_helpers/core_stats.ts";

Deno.test("decideExact() compares single trials against both gates", () => {
  const p: { direction: Direction; minEffect: number; minImprovement: number } =
    {
      direction: "max",
      minEffect: 0.02,
      minImprovement: 0,
    };
  const at = (c: number, extra: Partial<typeof p> = {}) =>
    decideExact({ incumbent: [100], candidate: [c] }, { ...p, ...extra });
  const up = at(103);
  assert.equal(up.decision, "improved");
  assert.equal(up.rule, "exact");
  assert.equal(up.p_value, null);
  near(up.effect!, 0.03, 1e-12);
  assert.deepEqual(up.ci, [up.effect, up.effect]);
  assert.deepEqual([at(101).decision, at(101).reason], [
    "no_change",
    "below_min_effect",
  ]);
  assert.deepEqual([at(102).decision, at(102).reason], [
    "no_change",
    "below_min_effect",
  ]);
  assert.deepEqual([at(100).decision, at(100).reason], [
    "no_change",
    "within_noise",
  ]);
  assert.equal(at(99.9).decision, "regressed");
  // minImprovement is absolute: 3 is not more than 5.
  assert.equal(at(103, { minImprovement: 5 }).decision, "no_change");
  // min metrics: lower is better.
  assert.equal(at(97, { direction: "min" }).decision, "improved");
  assert.equal(at(103, { direction: "min" }).decision, "regressed");
  // Through stepStat, the deterministic flag takes this path.
  const s = done(stepStat({ incumbent: [100], candidate: [103] }, {
    ...STAT_PARAMS,
    ...p,
    startPerSide: 1,
    maxPerSide: 1,
    deterministic: true,
  }));
  assert.equal(s.decision, "improved");
  assert.equal(s.rule, "exact");
});

Deno.test("decideExact() handles an incumbent of 0 and a missing side", () => {
  const p = { direction: "max" as const, minEffect: 0.5, minImprovement: 0 };
  const zero = decideExact({ incumbent: [0], candidate: [1] }, p);
  assert.equal(zero.decision, "improved");
  assert.equal(zero.effect, null);
  assert.equal(zero.ci, null);
  const none = decideExact({ incumbent: [], candidate: [1] }, p);
  assert.deepEqual([none.decision, none.reason], [
    "inconclusive",
    "trials_exhausted",
  ]);
});
