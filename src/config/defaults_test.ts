import assert from "node:assert/strict";
import { DEFAULTS } from "./defaults.ts";

Deno.test("DEFAULTS match spec section 3", () => {
  assert.equal(DEFAULTS.trials, 1);
  assert.equal(DEFAULTS.iterations, 20);
  assert.equal(DEFAULTS.threshold, null);
  assert.equal(DEFAULTS.patience, 0);
  assert.equal(DEFAULTS.minImprovement, 0);
  assert.equal(DEFAULTS.maxConsecutiveCrashes, 3);
  assert.equal(DEFAULTS.trialTimeoutSeconds, null);
  assert.equal(DEFAULTS.critic, false);
  assert.equal(DEFAULTS.instructions, "");
  assert.equal(DEFAULTS.decision, "stat");
  assert.equal(DEFAULTS.confidence, 0.95);
  assert.equal(DEFAULTS.minEffect, 0);
  assert.equal(DEFAULTS.maxTrials, 10);
  assert.equal(DEFAULTS.maxCostUsd, 10);
  assert.equal(DEFAULTS.maxToolCalls, 60);
  assert.equal(DEFAULTS.bashTimeoutSeconds, 120);
  assert.equal(DEFAULTS.cpus, 2);
  assert.equal(DEFAULTS.memory, 4 * 1024 ** 3);
  assert.equal(DEFAULTS.pidsLimit, 4096);
  assert.equal(DEFAULTS.shmSize, 1024 ** 3);
  assert.equal(DEFAULTS.network, "none");
});
