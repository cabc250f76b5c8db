import { interruptedSpend } from "./run_state.ts";
import type { CurrentIteration } from "../core/state.ts";
import assert from "node:assert/strict";

function current(overrides: Partial<CurrentIteration> = {}): CurrentIteration {
  return {
    schema_version: 1,
    run_id: "r",
    iter: 3,
    phase: "proposing",
    incumbent_sha: "sha",
    candidate_tree: null,
    hypothesis: "",
    description: "",
    started_at: "t",
    tokens: { input: 100, output: 10, cache_write: 0, cache_read: 0 },
    cost_usd: 0.5,
    ...overrides,
  };
}

Deno.test("interruptedSpend() carries only the spend of the run's next, unrecorded iteration", () => {
  assert.deepEqual(interruptedSpend(current(), "r", 3), {
    tokens: { input: 100, output: 10, cache_write: 0, cache_read: 0 },
    costUsd: 0.5,
  });
  assert.equal(interruptedSpend(null, "r", 3), null);
  // Another run's leftover, or an iteration whose record already counts it.
  assert.equal(interruptedSpend(current(), "other", 3), null);
  assert.equal(interruptedSpend(current(), "r", 4), null);
  // Nothing spent yet: nothing to carry.
  assert.equal(
    interruptedSpend(
      current({
        cost_usd: 0,
        tokens: { input: 0, output: 0, cache_write: 0, cache_read: 0 },
      }),
      "r",
      3,
    ),
    null,
  );
  // Tokens without a price (an unknown model's zero price) still count.
  assert.notEqual(interruptedSpend(current({ cost_usd: 0 }), "r", 3), null);
});
