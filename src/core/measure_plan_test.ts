import assert from "node:assert/strict";
import {
  afterLook,
  afterTrial,
  baselineTrials,
  deterministicUnder,
  isDeterministic,
  MAX_INCUMBENT_FAILURES,
  type MeasureRule,
  measureRule,
  nextMeasureAction,
  type PerSide,
  perSide,
  planStat,
  type Schedule,
  startSchedule,
  STAT_MIN_BASELINE_TRIALS,
  STAT_MIN_PER_SIDE,
  statPlanOf,
  statStartPerSide,
  trialsBeforeFirstLook,
} from "./measure_plan.ts";

// --- the numbers -------------------------------------------------------------

Deno.test("the plan's floors: 3 trials a side and 5 baseline trials under stat, 3 incumbent failures", () => {
  assert.equal(STAT_MIN_PER_SIDE, 3);
  assert.equal(STAT_MIN_BASELINE_TRIALS, 5);
  assert.equal(MAX_INCUMBENT_FAILURES, 3);
  assert.equal(statStartPerSide(1), 3);
  assert.equal(statStartPerSide(3), 3);
  assert.equal(statStartPerSide(7), 7);
});

Deno.test("planStat() starts at max(trials, 3) and never ends below the start", () => {
  assert.deepEqual(planStat({ trials: 1, maxTrials: 10 }), {
    startPerSide: 3,
    maxPerSide: 10,
  });
  assert.deepEqual(planStat({ trials: 6, maxTrials: 4 }), {
    startPerSide: 6,
    maxPerSide: 6,
  });
  assert.deepEqual(planStat({ trials: 1, maxTrials: 10 }, true), {
    startPerSide: 1,
    maxPerSide: 1,
  });
  assert.equal(baselineTrials({ decision: "stat", trials: 1 }), 5);
  assert.equal(baselineTrials({ decision: "stat", trials: 8 }), 8);
});

Deno.test("isDeterministic() needs every baseline value identical", () => {
  assert.equal(isDeterministic([3, 3, 3, 3, 3]), true);
  assert.equal(isDeterministic([3, 3, 3, 3, 3.0000001]), false);
  assert.equal(isDeterministic([3]), false);
});

Deno.test("baselineTrials() is --trials under mean, whatever the floor", () => {
  assert.equal(baselineTrials({ decision: "mean", trials: 1 }), 1);
  assert.equal(baselineTrials({ decision: "mean", trials: 4 }), 4);
  assert.equal(baselineTrials({ decision: "stat", trials: 5 }), 5);
});

Deno.test("deterministicUnder() holds only under stat", () => {
  assert.equal(deterministicUnder("stat", [2, 2, 2, 2, 2]), true);
  assert.equal(deterministicUnder("mean", [2, 2, 2, 2, 2]), false);
  assert.equal(deterministicUnder("stat", [2, 2, 2, 2, 3]), false);
  assert.equal(deterministicUnder("stat", [2]), false);
});

// --- which rule, how many trials a side --------------------------------------

Deno.test("measureRule(): mean when asked, else exact for a deterministic metric, else stat", () => {
  assert.equal(measureRule("mean", false), "mean");
  assert.equal(measureRule("mean", true), "mean");
  assert.equal(measureRule("stat", true), "exact");
  assert.equal(measureRule("stat", false), "stat");
});

Deno.test("perSide(): --trials under mean, the sequential plan under stat", () => {
  const c = { trials: 4, maxTrials: 10, guard: [] };
  assert.deepEqual(perSide("mean", c), { start: 4, max: 4 });
  assert.deepEqual(perSide("stat", c), { start: 4, max: 10 });
  assert.deepEqual(perSide("stat", { ...c, trials: 1 }), { start: 3, max: 10 });
  assert.deepEqual(perSide("stat", { ...c, trials: 6, maxTrials: 4 }), {
    start: 6,
    max: 6,
  });
  assert.deepEqual(perSide("exact", c), { start: 1, max: 1 });
});

Deno.test("perSide(): a noisy or unknown guard gives a deterministic metric the sequential plan", () => {
  const c = { trials: 1, maxTrials: 8, guard: [{ name: "mem" }] };
  assert.deepEqual(perSide("exact", c, { mem: true }), { start: 1, max: 1 });
  assert.deepEqual(perSide("exact", c, { mem: false }), { start: 3, max: 8 });
  assert.deepEqual(perSide("exact", c, {}), { start: 3, max: 8 });
  assert.deepEqual(perSide("exact", c), { start: 3, max: 8 });
  // A deterministic guard does not make a noisy metric exact.
  assert.deepEqual(perSide("stat", c, { mem: true }), { start: 3, max: 8 });
  assert.deepEqual(statPlanOf("exact", c, { mem: false }), {
    startPerSide: 3,
    maxPerSide: 8,
  });
  assert.deepEqual(statPlanOf("exact", c, { mem: true }), {
    startPerSide: 1,
    maxPerSide: 1,
  });
});

Deno.test("trialsBeforeFirstLook(): the candidate's alone under mean, both sides' otherwise", () => {
  assert.equal(trialsBeforeFirstLook("mean", { start: 4, max: 4 }), 4);
  assert.equal(trialsBeforeFirstLook("stat", { start: 3, max: 10 }), 6);
  assert.equal(trialsBeforeFirstLook("exact", { start: 1, max: 1 }), 2);
});

// --- the A/B schedule --------------------------------------------------------

/**
 * Drive the stepper to its end: `ok(side, k)` says how a trial ended and
 * `decides(look)` what the rule answered at its look-th look (1-based).
 * Returns the actions as `I2/3` (incumbent trial 2 of 3), `C2/3`, `look`,
 * `done`.
 */
function trace(
  rule: MeasureRule,
  plan: PerSide,
  ok: (side: "I" | "C", k: number) => boolean = () => true,
  decides: (look: number) => boolean = () => true,
): string {
  let s: Schedule = startSchedule(rule, plan);
  const out: string[] = [];
  let looks = 0;
  for (let step = 0; step < 100; step++) {
    const a = nextMeasureAction(s);
    if (a.kind === "done") {
      out.push("done");
      return out.join(" ");
    }
    if (a.kind === "look") {
      out.push("look");
      s = afterLook(s, decides(++looks));
      continue;
    }
    const side = a.side === "incumbent" ? "I" : "C";
    out.push(`${side}${a.k}/${a.n}`);
    s = afterTrial(s, a, ok(side, a.k));
  }
  throw new Error(`no end: ${out.join(" ")}`);
}

Deno.test("schedule under mean: the candidate's trials, one look", () => {
  assert.equal(
    trace("mean", { start: 3, max: 3 }),
    "C1/3 C2/3 C3/3 look done",
  );
  // The first failed trial ends the measuring; the rule calls it crashed.
  assert.equal(
    trace("mean", { start: 3, max: 3 }, (_s, k) => k !== 2),
    "C1/3 C2/3 look done",
  );
  // Mean looks once, decided or not.
  assert.equal(
    trace("mean", { start: 2, max: 2 }, undefined, () => false),
    "C1/2 C2/2 look done",
  );
});

Deno.test("schedule under stat: A B pairs, a look once the start is in", () => {
  assert.equal(
    trace("stat", { start: 3, max: 5 }),
    "I1/3 C1/3 I2/3 C2/3 I3/3 C3/3 look done",
  );
});

Deno.test("schedule under stat: one pair more per undecided look, up to max", () => {
  assert.equal(
    trace("stat", { start: 3, max: 5 }, undefined, () => false),
    "I1/3 C1/3 I2/3 C2/3 I3/3 C3/3 look I4/4 C4/4 look I5/5 C5/5 look done",
  );
  assert.equal(
    trace("stat", { start: 3, max: 5 }, undefined, (look) => look === 2),
    "I1/3 C1/3 I2/3 C2/3 I3/3 C3/3 look I4/4 C4/4 look done",
  );
});

Deno.test("schedule: a failed candidate trial ends its pair with a look", () => {
  assert.equal(
    trace("stat", { start: 3, max: 5 }, (s, k) => !(s === "C" && k === 2)),
    "I1/3 C1/3 I2/3 C2/3 look done",
  );
  // Even when the rule does not decide, nothing more is measured.
  assert.equal(
    trace("stat", { start: 3, max: 5 }, (s) => s !== "C", () => false),
    "I1/3 C1/3 look done",
  );
  assert.equal(
    trace(
      "stat",
      { start: 3, max: 5 },
      (s, k) => !(s === "C" && k === 4),
      () => false,
    ),
    "I1/3 C1/3 I2/3 C2/3 I3/3 C3/3 look I4/4 C4/4 look done",
  );
});

Deno.test("schedule: three failed incumbent trials end the comparison undecided", () => {
  assert.equal(
    trace("stat", { start: 3, max: 10 }, (s) => s !== "I"),
    "I1/3 C1/3 I2/3 C2/3 I3/3 C3/3 done",
  );
  assert.equal(
    trace(
      "stat",
      { start: 3, max: 10 },
      (s, k) => !(s === "I" && k >= 3),
      () => false,
    ),
    "I1/3 C1/3 I2/3 C2/3 I3/3 C3/3 look I4/4 C4/4 look I5/5 C5/5 done",
  );
});

Deno.test("schedule under stat: no look before two ok incumbent values; pairs are added instead", () => {
  assert.equal(
    trace("stat", { start: 3, max: 5 }, (s, k) => !(s === "I" && k <= 2)),
    "I1/3 C1/3 I2/3 C2/3 I3/3 C3/3 I4/4 C4/4 look done",
  );
  // At max, with still too few, it ends without a look.
  assert.equal(
    trace("stat", { start: 3, max: 3 }, (s, k) => !(s === "I" && k <= 2)),
    "I1/3 C1/3 I2/3 C2/3 I3/3 C3/3 done",
  );
});

Deno.test("schedule under exact: one pair and a look, even when the incumbent failed", () => {
  assert.equal(trace("exact", { start: 1, max: 1 }), "I1/1 C1/1 look done");
  assert.equal(
    trace("exact", { start: 1, max: 1 }, (s) => s !== "I"),
    "I1/1 C1/1 look done",
  );
});

Deno.test("the schedule's steps do not change the state they are given", () => {
  const s = Object.freeze(startSchedule("stat", { start: 3, max: 5 }));
  const a = nextMeasureAction(s);
  assert.deepEqual(a, { kind: "trial", side: "incumbent", k: 1, n: 3 });
  const next = afterTrial(s, a as Extract<typeof a, { kind: "trial" }>, true);
  assert.equal(s.incumbentRun, 0);
  assert.equal(next.incumbentRun, 1);
  assert.equal(afterLook(next, true).decided, true);
  assert.equal(next.decided, false);
});
