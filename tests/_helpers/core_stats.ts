/**
 * What the unit tests of src/core's decision rules and statistics share. It
 * lives here, not beside them: src/core stays pure (tools/lint_plugin.ts), and
 * only its *_test.ts files may use node:assert.
 */
import assert from "node:assert/strict";
import type { StatParams, StatStep } from "../../src/core/rule_stat.ts";

/** Assert `actual` lies within `tol` of `expected`. */
export function near(
  actual: number,
  expected: number,
  tol: number,
  what = "",
): void {
  assert.ok(
    Math.abs(actual - expected) <= tol,
    `${what} expected ${expected} ± ${tol}, got ${actual}`,
  );
}

/** stepStat's parameters the rule tests start from (and vary). */
export const STAT_PARAMS: StatParams = {
  startPerSide: 3,
  maxPerSide: 10,
  direction: "max",
  confidence: 0.95,
  minEffect: 0,
  minImprovement: 0,
  deterministic: false,
};

/** `step`, asserted to be a decision. */
export function done(step: StatStep): Extract<StatStep, { kind: "done" }> {
  assert.equal(step.kind, "done", `expected done, got ${JSON.stringify(step)}`);
  return step as Extract<StatStep, { kind: "done" }>;
}
