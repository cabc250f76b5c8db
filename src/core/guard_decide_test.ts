import assert from "node:assert/strict";
import { lookAt, type StatStep } from "./rule_stat.ts";
import {
  combineGuards,
  exactGuard,
  guardBoundFactor,
  type GuardLook,
  lookGuard,
} from "./guard_decide.ts";
import type { GuardSpec } from "./guards.ts";
import { mulberry32 } from "./rng.ts";
import { welch } from "./stats.ts";

const ACC: GuardSpec = { name: "accuracy", direction: "max", tolerance: 0.02 };
const MEM: GuardSpec = { name: "mem", direction: "min", tolerance: 0.05 };
const LEVEL = 0.05;

const jitter = (base: number, n: number, spread: number, seed: number) => {
  const rng = mulberry32(seed);
  return Array.from({ length: n }, () => base * (1 + spread * rng.normal()));
};

Deno.test("guardBoundFactor() is 1 ∓ TOL in the guard's worse direction", () => {
  assert.equal(guardBoundFactor(ACC, 0.9), 0.98);
  assert.equal(guardBoundFactor(MEM, 100), 1.05);
  // A negative max metric: the bound is further from zero.
  assert.equal(guardBoundFactor(ACC, -2), 1.02);
  assert.equal(guardBoundFactor(MEM, -2), 0.95);
});

Deno.test("lookGuard() calls an accuracy drop of 10% worse", () => {
  const inc = [0.90, 0.91, 0.90, 0.905, 0.9];
  const cand = inc.map((v) => v * 0.9);
  const l = lookGuard(ACC, { incumbent: inc, candidate: cand }, {
    level: LEVEL,
    deterministic: false,
  });
  assert.equal(l.state, "worse");
  assert.ok(Math.abs(l.effect! + 0.1) < 1e-12);
  assert.match(l.detail, /guard accuracy −10\.0% \(tolerance 2\.0%\): worse/);
  // p is the non-inferiority p: near 1 for a clear regression.
  assert.ok(l.p_value! > 0.99);
  assert.ok(l.ci![1] < -0.02, `${l.ci}`);
});

Deno.test("lookGuard() shows an unchanged quiet guard not worse, with Welch on the scaled incumbent", () => {
  const inc = jitter(100, 5, 0.002, 1);
  const cand = jitter(100, 5, 0.002, 2);
  const l = lookGuard(MEM, { incumbent: inc, candidate: cand }, {
    level: LEVEL,
    deterministic: false,
  });
  assert.equal(l.state, "not_worse");
  // The p-value is Welch's on candidate against 1.05 × incumbent.
  const w = welch(cand, inc.map((v) => 1.05 * v))!;
  assert.equal(l.p_value, w.pLess);
  assert.ok(l.p_value! < 1e-6);
});

Deno.test("lookGuard() leaves a noisy guard open until the trials can tell", () => {
  const inc = jitter(0.9, 3, 0.03, 3);
  const cand = jitter(0.9, 3, 0.03, 4);
  const l = lookGuard(ACC, { incumbent: inc, candidate: cand }, {
    level: 0.005,
    deterministic: false,
  });
  assert.equal(l.state, "open");
  assert.match(l.detail, /open, non-inferiority p=/);
  const few = lookGuard(ACC, { incumbent: [0.9], candidate: [0.9] }, {
    level: LEVEL,
    deterministic: false,
  });
  assert.equal(few.state, "open");
  const none = lookGuard(ACC, { incumbent: [], candidate: [0.9] }, {
    level: LEVEL,
    deterministic: false,
  });
  assert.equal(none.state, "open");
});

Deno.test("lookGuard() compares deterministic guards exactly, the bound included", () => {
  const at = (cand: number, g: GuardSpec = ACC) =>
    lookGuard(g, { incumbent: [100], candidate: [cand] }, {
      level: LEVEL,
      deterministic: true,
    });
  assert.equal(at(98).state, "not_worse"); // exactly 2% worse: allowed
  assert.equal(at(97.9).state, "worse");
  assert.equal(at(120).state, "not_worse");
  assert.deepEqual(at(90).ci, [-0.1, -0.1]);
  assert.equal(at(90).p_value, null);
  assert.equal(at(105, MEM).state, "not_worse");
  assert.equal(at(105.1, MEM).state, "worse");
  // Constant sides are exact even when not declared deterministic.
  const constant = lookGuard(ACC, {
    incumbent: [5, 5, 5],
    candidate: [4, 4, 4],
  }, {
    level: LEVEL,
    deterministic: false,
  });
  assert.equal(constant.state, "worse");
});

Deno.test("exactGuard() is the mean rule's comparison of averages", () => {
  assert.equal(exactGuard(ACC, 0.89, 0.9, "none").state, "not_worse");
  assert.equal(exactGuard(ACC, 0.87, 0.9, "none").state, "worse");
  assert.equal(exactGuard(ACC, 0.87, 0.9, "none").ci, null);
});

Deno.test("lookGuard() holds its error at the level when the guard is exactly at the bound (simulation)", () => {
  // A guard truly 2% worse (at the tolerance): shown "not worse" at most
  // ~5% of the time at level 0.05; SE at 4000 is 0.34 points.
  const rng = mulberry32(77);
  const n = 4000;
  let passed = 0;
  for (let k = 0; k < n; k++) {
    const inc = Array.from(
      { length: 5 },
      () => 100 * (1 + 0.01 * rng.normal()),
    );
    const cand = Array.from(
      { length: 5 },
      () => 98 * (1 + 0.01 * rng.normal()),
    );
    const l = lookGuard(ACC, { incumbent: inc, candidate: cand }, {
      level: LEVEL,
      deterministic: false,
    });
    if (l.state === "not_worse") passed++;
  }
  assert.ok(passed / n <= 0.05 + 3 * 0.0034, `passed ${passed / n}`);
  assert.ok(passed / n >= 0.05 - 3 * 0.0034, `passed ${passed / n}`);
});

const IMPROVED: StatStep = {
  kind: "done",
  decision: "improved",
  reason: null,
  detail: "welch-t, 5 vs 5 trials, look 3/8: significant",
  p_value: 0.001,
  effect: 0.5,
  ci: [0.4, 0.6],
  n_incumbent: 5,
  n_candidate: 5,
  rule: "welch-t",
};

const look = (state: GuardLook["state"], name = "accuracy"): GuardLook => ({
  name,
  tolerance: 0.02,
  state,
  effect: -0.01,
  ci: null,
  p_value: null,
  detail: `guard ${name}: ${state}`,
});

const at = (final: boolean) => ({
  position: {
    ...lookAt(final ? 10 : 5, {
      startPerSide: 3,
      maxPerSide: 10,
      confidence: 0.95,
    }),
  },
  nIncumbent: 5,
  nCandidate: 5,
});

Deno.test("combineGuards() keeps an improvement only when every guard is shown not worse", () => {
  const kept = combineGuards(IMPROVED, [
    look("not_worse"),
    look("not_worse", "mem"),
  ], at(false));
  assert.equal(kept.kind, "done");
  assert.equal(kept.kind === "done" && kept.decision, "improved");
  assert.match(kept.detail, /guard accuracy: not_worse; guard mem: not_worse/);
  // No guards: the step as it was.
  assert.equal(combineGuards(IMPROVED, [], at(true)), IMPROVED);
});

Deno.test("combineGuards() calls a worse guard regressed (guard_regressed), naming it", () => {
  const r = combineGuards(
    IMPROVED,
    [look("not_worse"), look("worse", "mem")],
    at(false),
  );
  assert.equal(r.kind, "done");
  if (r.kind !== "done") return;
  assert.deepEqual([r.decision, r.reason], ["regressed", "guard_regressed"]);
  assert.match(r.detail, /^guard mem: worse; metric: welch-t/);
  // The metric's numbers stay in the record.
  assert.deepEqual([r.p_value, r.effect, r.ci, r.rule], [
    0.001,
    0.5,
    [0.4, 0.6],
    "welch-t",
  ]);
  // Even while the metric is still open.
  const open: StatStep = {
    kind: "continue",
    look: 1,
    looks: 8,
    detail: "3 vs 3 trials",
    estimate: { p_value: 0.2, effect: 0.1, ci: [-0.2, 0.5], rule: "welch-t" },
  };
  const early = combineGuards(open, [look("worse")], at(false));
  assert.equal(early.kind === "done" && early.reason, "guard_regressed");
  assert.equal(early.kind === "done" && early.effect, 0.1);
});

Deno.test("combineGuards() adds pairs while a guard is open and is inconclusive when they run out", () => {
  const more = combineGuards(IMPROVED, [look("open")], at(false));
  assert.equal(more.kind, "continue");
  assert.match(more.detail, /guard accuracy: open/);
  const out = combineGuards(
    IMPROVED,
    [look("open"), look("not_worse", "mem")],
    at(true),
  );
  assert.equal(out.kind, "done");
  if (out.kind !== "done") return;
  assert.deepEqual([out.decision, out.reason], [
    "inconclusive",
    "trials_exhausted",
  ]);
  assert.match(out.detail, /guard accuracy: open when the trials ran out/);
});

Deno.test("combineGuards() leaves verdicts other than improved alone", () => {
  const noChange: StatStep = {
    ...IMPROVED,
    decision: "no_change",
    reason: "within_noise",
  };
  assert.equal(combineGuards(noChange, [look("worse")], at(false)), noChange);
  const cont: StatStep = { kind: "continue", look: 1, looks: 8, detail: "x" };
  assert.equal(combineGuards(cont, [look("open")], at(false)), cont);
});
