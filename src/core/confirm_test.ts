import assert from "node:assert/strict";
import {
  claimOf,
  type Confirmation,
  confirmationPerSide,
  type ConfirmTrial,
  nextTrial,
  summarizeConfirmation,
} from "./confirm.ts";
import { effectInterval, welch } from "./stats.ts";

const STAT = { decision: "stat" as const, trials: 1, maxTrials: 10, guard: [] };

Deno.test("confirmationPerSide() uses as many trials as a decision may", () => {
  assert.equal(confirmationPerSide(STAT, false), 10);
  assert.equal(
    confirmationPerSide({ ...STAT, trials: 12, maxTrials: 10 }, false),
    12,
  );
  assert.equal(confirmationPerSide(STAT, true), 1);
  assert.equal(
    confirmationPerSide({ ...STAT, decision: "mean", trials: 4 }, false),
    4,
  );
  // A deterministic metric with a noisy guard needs the guard's trials.
  const guarded = {
    ...STAT,
    guard: [{ name: "acc", direction: "max" as const, tolerance: 0.02 }],
  };
  assert.equal(confirmationPerSide(guarded, true, { acc: false }), 10);
  assert.equal(confirmationPerSide(guarded, true, { acc: true }), 1);
});

Deno.test("nextTrial() alternates baseline and incumbent, pair by pair", () => {
  const c = { per_side: 2, trials: [] as ConfirmTrial[] };
  const order: string[] = [];
  for (let n = nextTrial(c); n !== null; n = nextTrial(c)) {
    order.push(`${n.side}${n.k}`);
    c.trials.push({
      side: n.side,
      k: n.k,
      score: 1,
      outcome: "ok",
      guards: {},
    });
  }
  assert.deepEqual(order, [
    "baseline1",
    "incumbent1",
    "baseline2",
    "incumbent2",
  ]);
});

const trial = (
  side: ConfirmTrial["side"],
  k: number,
  score: number | null,
  guards: Record<string, number | null> = {},
): ConfirmTrial => ({
  side,
  k,
  score,
  outcome: score === null ? "crashed" : "ok",
  guards,
});

Deno.test("summarizeConfirmation() is the interleaved comparison of the two commits", () => {
  const b = [10, 10.2, 9.8, 10.1];
  const f = [8, 8.1, 7.9, 8.05];
  const trials = b.flatMap((v, i) => [
    trial("baseline", i + 1, v, { acc: 0.9 }),
    trial("incumbent", i + 1, f[i]!, { acc: 0.9 - 0.001 * i }),
  ]);
  const r = summarizeConfirmation(trials, {
    direction: "min",
    confidence: 0.95,
    guards: [{ name: "acc", direction: "max", tolerance: 0.02 }],
  });
  assert.equal(r.baseline.n, 4);
  assert.equal(r.final.n, 4);
  assert.ok(Math.abs(r.gain! - (8.0125 / 10.025 - 1)) < 1e-12);
  assert.deepEqual(r.ci, effectInterval(f, b, 0.975));
  assert.equal(r.p_value, welch(f, b)!.pLess);
  assert.ok(r.guards.acc!.effect! < 0 && r.guards.acc!.effect! > -0.01);
  assert.match(r.detail, /^4 vs 4 ok trials, interleaved; 95% interval$/);
});

Deno.test("summarizeConfirmation() counts failed trials, and a deterministic pair is exact", () => {
  const r = summarizeConfirmation(
    [
      trial("baseline", 1, 10),
      trial("incumbent", 1, null),
      trial("baseline", 2, 10),
      trial("incumbent", 2, 5),
    ],
    { direction: "max", confidence: 0.95, guards: [] },
  );
  assert.equal(r.final.n, 1);
  assert.equal(r.ci, null);
  assert.match(r.detail, /1 trial\(s\) did not end ok/);
  const exact = summarizeConfirmation(
    [trial("baseline", 1, 10), trial("incumbent", 1, 5)],
    { direction: "min", confidence: 0.95, guards: [], deterministic: true },
  );
  assert.deepEqual(exact.ci, [-0.5, -0.5]);
});

Deno.test("claimOf() holds only a finished confirmation of this run's final incumbent", () => {
  const c: Confirmation = {
    schema_version: 1,
    run_id: "r",
    baseline_sha: "a",
    incumbent_sha: "b",
    incumbent_iter: 3,
    through_iter: 5,
    per_side: 1,
    trials: [],
    result: summarizeConfirmation([], {
      direction: "max",
      confidence: 0.95,
      guards: [],
    }),
    started_at: "t",
    finished_at: "t",
  };
  assert.equal(claimOf(c, "r", "b"), c);
  assert.equal(claimOf(c, "r", "c"), null);
  assert.equal(claimOf(c, "other", "b"), null);
  assert.equal(claimOf({ ...c, result: null }, "r", "b"), null);
  assert.equal(claimOf(null, "r", "b"), null);
});
