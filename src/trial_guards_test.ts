import assert from "node:assert/strict";
import { guardTexts, withGuards } from "./trial_guards.ts";
import type { GuardSpec } from "./core/guards.ts";

const out = (o: Partial<Parameters<typeof guardTexts>[1]> = {}) => ({
  stdout: "out",
  stderr: "err",
  stdoutTruncated: false,
  stderrTruncated: false,
  reportText: "file",
  ...o,
});

Deno.test("guardTexts() reads guards where the metric is read, stdout then stderr for wall", () => {
  assert.deepEqual(guardTexts("wall", out()), ["out", "err"]);
  assert.deepEqual(guardTexts("stdout", out()), ["out"]);
  assert.deepEqual(guardTexts("stderr", out()), ["err"]);
  assert.deepEqual(guardTexts("results/out.json", out()), ["file"]);
  assert.deepEqual(guardTexts("r.txt", out({ reportText: null })), []);
  // A stream cut off at the cap is not read.
  assert.deepEqual(guardTexts("wall", out({ stdoutTruncated: true })), ["err"]);
});

const ACC: GuardSpec = { name: "accuracy", direction: "max", tolerance: 0.02 };
const OK = {
  outcome: "ok" as const,
  score: 1.5,
  unit: null,
  rule: "line",
  detail: "",
};

Deno.test("withGuards() adds each guard's value to an ok trial", () => {
  const r = withGuards(OK, {
    config: { guard: [ACC] },
    texts: ["time: 1.5\naccuracy: 0.93\n"],
  });
  assert.equal(r.outcome, "ok");
  assert.equal(r.score, 1.5);
  assert.deepEqual(r.guards, { accuracy: 0.93 });
  assert.deepEqual(r.guardUnits, { accuracy: null });
  // Without guards: empty maps, nothing else changes.
  assert.deepEqual(withGuards(OK, { config: { guard: [] }, texts: [] }), {
    ...OK,
    guards: {},
    guardUnits: {},
  });
});

Deno.test("withGuards() ends a trial without a guard's value no_metric, naming the guard", () => {
  const r = withGuards(OK, {
    config: { guard: [ACC] },
    texts: ["time: 1.5\n"],
  });
  assert.equal(r.outcome, "no_metric");
  assert.equal(r.score, null);
  assert.deepEqual(r.guards, { accuracy: null });
  assert.match(r.detail, /^guard "accuracy": metric "accuracy" not found/);
  assert.match(r.detail, /every guard must be in every trial's report$/);
  const unit = withGuards(OK, {
    config: { guard: [ACC] },
    texts: ["accuracy: 93%"],
    expectedUnits: { accuracy: null },
  });
  assert.equal(unit.outcome, "no_metric");
  assert.match(unit.detail, /unit "%" differs from the baseline's \(none\)/);
});

Deno.test("withGuards() leaves a failed trial failed, with no guard values", () => {
  const crashed = { ...OK, outcome: "crashed" as const, score: null };
  const r = withGuards(crashed, {
    config: { guard: [ACC] },
    texts: ["accuracy: 0.9"],
  });
  assert.equal(r.outcome, "crashed");
  assert.deepEqual(r.guards, { accuracy: null });
});
