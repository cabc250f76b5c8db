import assert from "node:assert/strict";
import { decideCrashed, improvementMargin } from "./verdict.ts";

Deno.test("decideCrashed() counts the failed and the ok trials", () => {
  const v = decideCrashed({ candidate: [1, null, 2], incumbent: [1, 2] });
  assert.equal(v.decision, "crashed");
  assert.equal(v.n_candidate, 2);
  assert.equal(v.n_incumbent, 2);
  assert.match(v.detail, /1 of 3/);
});

Deno.test("improvementMargin() is the larger of the relative and the absolute gate", () => {
  assert.equal(improvementMargin(100, 0.02, 0), 2);
  assert.equal(improvementMargin(-100, 0.02, 0), 2);
  assert.equal(improvementMargin(100, 0.02, 5), 5);
  assert.equal(improvementMargin(0, 0.5, 0), 0);
});
