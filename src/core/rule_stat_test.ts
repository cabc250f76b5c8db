import assert from "node:assert/strict";
import {
  BASE,
  MODELS,
  simulateCell,
  simulateStat,
} from "../../bench/_decision_sim.ts";
import { chooseTest, stepStat } from "./rule_stat.ts";
import { mulberry32 } from "./rng.ts";
import { planBoundary } from "./sequential.ts";
import { tQuantile, welch } from "./stats.ts";
import { done, near, STAT_PARAMS } from "../../tests/_helpers/core_stats.ts";

const rep = (v: number, n: number) => new Array<number>(n).fill(v);

// --- stepStat ---------------------------------------------------------------

const INC5 = [100, 101, 99, 100.5, 99.5];
const UP10 = INC5.map((v) => v + 10);

Deno.test("stepStat() keeps a clear gain with Welch's test and records it", () => {
  const s = done(stepStat({ incumbent: INC5, candidate: UP10 }, STAT_PARAMS));
  assert.equal(s.decision, "improved");
  assert.equal(s.reason, null);
  assert.equal(s.rule, "welch-t");
  assert.equal(s.n_incumbent, 5);
  assert.equal(s.n_candidate, 5);
  // The recorded p is the one-sided Welch p in the metric's direction.
  const w = welch(UP10, INC5)!;
  assert.equal(s.p_value, w.pGreater);
  near(s.effect!, 0.1, 1e-12);
  // The interval is at this look's nominal level (look 3 of 8), on the
  // ratio scale: log(110/100) ± t·√(s²/(n·110²) + s²/(n·100²)).
  const alpha = planBoundary(0.95, 3, 10).nominal[2]!;
  const v = 0.625 / 5; // variance(INC5) / 5, the same for UP10
  const a = v / 110 ** 2;
  const b = v / 100 ** 2;
  const df = (a + b) ** 2 / (a * a / 4 + b * b / 4);
  const q = tQuantile(1 - alpha, df) * Math.sqrt(a + b);
  near(s.ci![0], Math.exp(Math.log(1.1) - q) - 1, 1e-12);
  near(s.ci![1], Math.exp(Math.log(1.1) + q) - 1, 1e-12);
  // Asymmetric around the effect, as a ratio is.
  assert.ok(s.ci![1] - 0.1 > 0.1 - s.ci![0]);
});

Deno.test("stepStat() never reports an interval below −100% for a positive metric", () => {
  // A time metric cut to about 4% of the incumbent, whose own trials are
  // noisy: the difference interval divided by the mean went to −129%.
  const inc = [0.5, 1.4, 0.9, 1.6, 0.6];
  const cand = [0.037, 0.039, 0.038, 0.04, 0.036];
  for (const direction of ["min", "max"] as const) {
    const s = done(stepStat({ incumbent: inc, candidate: cand }, {
      ...STAT_PARAMS,
      direction,
      maxPerSide: 5,
    }));
    assert.ok(s.ci !== null);
    assert.ok(s.ci[0] > -1, `${direction}: ${s.ci}`);
    assert.ok(s.ci[0] <= s.effect! && s.effect! <= s.ci[1]);
    // The old interval on the difference would have gone below −100%.
    const w = welch(cand, inc)!;
    const alpha = planBoundary(0.95, 3, 5).nominal[2]!;
    const old = (w.diff - tQuantile(1 - alpha, w.df) * w.se) / 1;
    assert.ok(old < -1, `old lower bound ${old}`);
  }
});

Deno.test("stepStat() mirrors for min metrics and calls the reverse a regression", () => {
  const lower = INC5.map((v) => v - 10);
  const min = done(stepStat({ incumbent: INC5, candidate: lower }, {
    ...STAT_PARAMS,
    direction: "min",
  }));
  assert.equal(min.decision, "improved");
  near(min.effect!, -0.1, 1e-12);
  const worse = done(
    stepStat({ incumbent: INC5, candidate: lower }, STAT_PARAMS),
  );
  assert.equal(worse.decision, "regressed");
  assert.equal(worse.reason, null);
  const worseMin = done(stepStat({ incumbent: INC5, candidate: UP10 }, {
    ...STAT_PARAMS,
    direction: "min",
  }));
  assert.equal(worseMin.decision, "regressed");
});

Deno.test("stepStat() decides the same for a metric and its negation with min", () => {
  const rng = mulberry32(5);
  for (let k = 0; k < 200; k++) {
    const n = 3 + rng.int(8);
    const shift = (rng.next() - 0.5) * 6;
    const inc = Array.from({ length: n }, () => 50 + 2 * rng.normal());
    const cand = Array.from({ length: n }, () => 50 + shift + 2 * rng.normal());
    const a = stepStat({ incumbent: inc, candidate: cand }, STAT_PARAMS);
    const b = stepStat(
      { incumbent: inc.map((v) => -v), candidate: cand.map((v) => -v) },
      { ...STAT_PARAMS, direction: "min" },
    );
    assert.equal(a.kind, b.kind);
    if (a.kind === "done" && b.kind === "done") {
      assert.equal(a.decision, b.decision);
      assert.equal(a.reason, b.reason);
      near(a.p_value!, b.p_value!, 1e-12);
    }
  }
});

Deno.test("stepStat() calls identical constant sides no change", () => {
  const s = done(
    stepStat({ incumbent: rep(5, 3), candidate: rep(5, 3) }, STAT_PARAMS),
  );
  assert.deepEqual([s.decision, s.reason], ["no_change", "within_noise"]);
  assert.equal(s.rule, "mann-whitney-exact");
  assert.equal(s.p_value, 1);
  assert.deepEqual(s.ci, [0, 0]);
});

Deno.test("stepStat() never claims significance 3 vs 3 cannot reach", () => {
  // Constant sides that differ: the exact rank test's best p at 3 vs 3 is
  // 0.05, above every look's corrected level, so it must measure on.
  const at = (n: number) =>
    stepStat({ incumbent: rep(5, n), candidate: rep(6, n) }, STAT_PARAMS);
  const three = at(3);
  assert.equal(three.kind, "continue");
  assert.match(three.kind === "continue" ? three.detail : "", /cannot reach/);
  assert.equal(at(4).kind, "continue"); // 1/70 = 0.014 > level 0.0018
  const five = done(at(5)); // 1/252 = 0.0040 ≤ level 0.0050
  assert.equal(five.decision, "improved");
  assert.equal(five.rule, "mann-whitney-exact");
  near(five.p_value!, 1 / 252, 1e-15);
  near(five.effect!, 0.2, 1e-12);
  // With a single planned look (3 a side) the full 5% level applies and
  // 0.05 is reachable.
  const single = done(stepStat({ incumbent: rep(5, 3), candidate: rep(6, 3) }, {
    ...STAT_PARAMS,
    maxPerSide: 3,
  }));
  assert.equal(single.decision, "improved");
});

Deno.test("stepStat() uses the rank test when a trial is an outlier", () => {
  const inc = [100, 100.2, 99.8, 100.1, 99.9];
  const cand = [101, 101.2, 100.8, 101.1, 130];
  assert.equal(chooseTest(cand, inc), "mann-whitney");
  assert.equal(chooseTest(UP10, INC5), "welch-t");
  const s = done(stepStat({ incumbent: inc, candidate: cand }, STAT_PARAMS));
  assert.equal(s.rule, "mann-whitney-exact");
  assert.equal(s.decision, "improved");
  near(s.p_value!, 1 / 252, 1e-15);
});

const INC_TIGHT = [100, 100.5, 99.5, 100.2, 99.8];
const UP1 = INC_TIGHT.map((v) => v + 1);

Deno.test("stepStat() applies minEffect: significant but too small is no change", () => {
  assert.equal(
    done(stepStat({ incumbent: INC_TIGHT, candidate: UP1 }, STAT_PARAMS))
      .decision,
    "improved",
  );
  const s = done(stepStat({ incumbent: INC_TIGHT, candidate: UP1 }, {
    ...STAT_PARAMS,
    minEffect: 0.05,
  }));
  assert.deepEqual([s.decision, s.reason], ["no_change", "below_min_effect"]);
});

Deno.test("stepStat() applies minImprovement in the metric's units", () => {
  const state = { incumbent: INC_TIGHT, candidate: UP1 };
  // A margin of 1.5 is inside the interval: measure on; at the last look
  // the estimate (1.0) is below it.
  assert.equal(
    stepStat(state, { ...STAT_PARAMS, minImprovement: 1.5 }).kind,
    "continue",
  );
  const last = done(
    stepStat(state, { ...STAT_PARAMS, minImprovement: 1.5, maxPerSide: 5 }),
  );
  assert.deepEqual([last.decision, last.reason], [
    "no_change",
    "below_min_effect",
  ]);
  assert.equal(
    done(stepStat(state, { ...STAT_PARAMS, minImprovement: 0.5 })).decision,
    "improved",
  );
});

Deno.test("stepStat() is inconclusive only when the trials run out on a promising estimate", () => {
  const inc = [100, 104, 96, 102, 98];
  const promising = inc.map((v) => v + 2);
  const final = { ...STAT_PARAMS, maxPerSide: 5 };
  const s = done(stepStat({ incumbent: inc, candidate: promising }, final));
  assert.deepEqual([s.decision, s.reason], [
    "inconclusive",
    "trials_exhausted",
  ]);
  const flat = done(
    stepStat({ incumbent: inc, candidate: inc.map((v) => v - 0.5) }, final),
  );
  assert.deepEqual([flat.decision, flat.reason], ["no_change", "within_noise"]);
  // Before the last look the same promising data asks for more trials.
  assert.equal(
    stepStat({ incumbent: inc, candidate: promising }, STAT_PARAMS).kind,
    "continue",
  );
});

Deno.test("stepStat() stops early for futility when a gain is out of reach", () => {
  const s = done(
    stepStat(
      { incumbent: [100, 104, 96], candidate: [99, 103, 95] },
      STAT_PARAMS,
    ),
  );
  assert.deepEqual([s.decision, s.reason], ["no_change", "within_noise"]);
  assert.match(s.detail, /futility/);
});

Deno.test("stepStat() waits for a second ok incumbent trial", () => {
  const state = { incumbent: [100], candidate: [101, 102, 103] };
  assert.equal(stepStat(state, STAT_PARAMS).kind, "continue");
  const s = done(stepStat(state, { ...STAT_PARAMS, maxPerSide: 3 }));
  assert.deepEqual([s.decision, s.reason], [
    "inconclusive",
    "trials_exhausted",
  ]);
});

Deno.test("stepStat() reports no relative effect around an incumbent mean of 0", () => {
  const s = done(stepStat({
    incumbent: [-1, 1, 0, 0.5, -0.5],
    candidate: [9, 11, 10, 10.5, 9.5],
  }, STAT_PARAMS));
  assert.equal(s.decision, "improved");
  assert.equal(s.effect, null);
  assert.equal(s.ci, null);
});

// --- by simulation ------------------------------------------------------------

Deno.test("stepStat() keeps no more than 1 − confidence of null candidates (simulation)", () => {
  // 4000 comparisons of two identical commits per model; the standard error
  // of a 5% rate is 0.34 points, so 3 of them (1.0 point) is the tolerance.
  // Testing every look at 5% instead would keep about 12%.
  const n = 4000;
  const tolerance = 3 * Math.sqrt(0.05 * 0.95 / n);
  for (const [k, model] of [MODELS[1]!, MODELS[3]!, MODELS[4]!].entries()) {
    const cell = simulateCell(mulberry32(900 + k), model, "stat", 0, n);
    assert.ok(
      cell.keepRate <= 0.05 + tolerance,
      `${model.name}: kept ${cell.keepRate}`,
    );
  }
});

Deno.test("stepStat() finds a 10% gain at CV 5% within 10 trials a side (simulation)", () => {
  const model = MODELS[1]!; // normal, CV 5%
  const rng = mulberry32(31);
  const n = 1000;
  let kept = 0;
  let perSide = 0;
  for (let k = 0; k < n; k++) {
    const out = simulateStat(rng, model, BASE, BASE * 1.1, { index: 0 });
    if (out.verdict.decision === "improved") kept++;
    perSide += out.incumbent.length;
    assert.ok(out.incumbent.length <= 10);
  }
  // Power goal 80%; the standard error at ~97% is 0.5 points.
  assert.ok(kept / n >= 0.8, `power ${kept / n}`);
  // Clear cases stop well before the maximum of 10.
  assert.ok(perSide / n < 7.5, `mean trials a side ${perSide / n}`);
});
