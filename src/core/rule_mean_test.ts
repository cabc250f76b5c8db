import assert from "node:assert/strict";
import { decideMean } from "./rule_mean.ts";
import { near } from "../../tests/_helpers/core_stats.ts";

Deno.test("decideMean() keeps only a gain larger than minImprovement", () => {
  const base = { incumbentMean: 10, direction: "max" as const };
  const up = decideMean({ ...base, candidate: [11, 12], minImprovement: 1 });
  assert.equal(up.decision, "improved");
  assert.equal(up.reason, null);
  near(up.effect!, 0.15, 1e-12);
  assert.equal(up.p_value, null);
  assert.equal(up.rule, "mean");
  // Exactly the margin is not more than it.
  const edge = decideMean({
    ...base,
    candidate: [10.5, 11.5],
    minImprovement: 1,
  });
  assert.equal(edge.decision, "no_change");
  assert.equal(edge.reason, "within_noise");
  const same = decideMean({ ...base, candidate: [10], minImprovement: 0 });
  assert.equal(same.decision, "no_change");
  const down = decideMean({ ...base, candidate: [9.9], minImprovement: 0 });
  assert.equal(down.decision, "regressed");
});

Deno.test("decideMean() reads the direction for min metrics", () => {
  const base = {
    incumbentMean: 10,
    direction: "min" as const,
    minImprovement: 0.5,
  };
  assert.equal(
    decideMean({ ...base, candidate: [9, 9.2] }).decision,
    "improved",
  );
  assert.equal(decideMean({ ...base, candidate: [9.6] }).decision, "no_change");
  assert.equal(
    decideMean({ ...base, candidate: [10.1] }).decision,
    "regressed",
  );
  near(decideMean({ ...base, candidate: [9] }).effect!, -0.1, 1e-12);
});

Deno.test("decideMean() calls any failed trial a crash", () => {
  const base = {
    incumbentMean: 10,
    direction: "max" as const,
    minImprovement: 0,
  };
  for (const candidate of [[12, null], [null], [null, null, null]]) {
    const v = decideMean({ ...base, candidate });
    assert.equal(v.decision, "crashed");
    assert.equal(v.reason, "crashed_trials");
    assert.equal(v.effect, null);
  }
  assert.throws(() => decideMean({ ...base, candidate: [] }), RangeError);
});

Deno.test("decideMean() has no relative effect when the incumbent averaged 0", () => {
  const v = decideMean({
    candidate: [1],
    incumbentMean: 0,
    direction: "max",
    minImprovement: 0,
  });
  assert.equal(v.decision, "improved");
  assert.equal(v.effect, null);
});
