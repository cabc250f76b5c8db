import assert from "node:assert/strict";
import { judge, type JudgeConfig, meanInterval } from "./judge.ts";
import { meanCi } from "./stats.ts";

const CONFIG: JudgeConfig = {
  direction: "max",
  confidence: 0.95,
  minEffect: 0,
  minImprovement: 0,
  trials: 3,
  maxTrials: 10,
  guard: [],
};

const INC = [100, 101, 99, 100.5, 99.5];

Deno.test("judge() calls a failed candidate trial crashed under every rule", () => {
  for (const rule of ["mean", "stat", "exact"] as const) {
    const j = judge(rule, {
      candidate: [101, null],
      incumbent: [100, 100],
      incumbentRecordedMean: 100,
      config: CONFIG,
    })!;
    assert.equal(j.decision, "crashed");
    assert.equal(j.reason, "crashed_trials");
    assert.equal(j.guards, null);
  }
});

Deno.test("judge() under mean compares with the recorded average and labels the rule", () => {
  const j = judge("mean", {
    candidate: [102, 104],
    incumbent: [],
    incumbentRecordedMean: 100,
    config: CONFIG,
  })!;
  assert.equal(j.decision, "improved");
  assert.equal(j.rule, "mean");
  assert.match(j.detail, /^rule=mean; /);
  assert.equal(j.incumbentMean, null);
  assert.deepEqual(j.candidateCi, meanCi([102, 104], 0.95));
});

Deno.test("judge() under mean turns a gain with a worse guard into guard_regressed", () => {
  const config = {
    ...CONFIG,
    guard: [{ name: "acc", direction: "max" as const, tolerance: 0.02 }],
  };
  const j = judge("mean", {
    candidate: [110],
    incumbent: [],
    incumbentRecordedMean: 100,
    config,
    guards: {
      incumbent: {},
      candidate: { acc: [0.5] },
      incumbentRecorded: { acc: 0.9 },
      deterministic: {},
    },
  })!;
  assert.equal(j.decision, "regressed");
  assert.equal(j.reason, "guard_regressed");
  assert.ok(j.guards?.acc);
});

Deno.test("judge() under stat waits (null) while the test cannot tell, and decides a clear gain", () => {
  const open = judge("stat", {
    candidate: [100.2, 99.9, 100.4],
    incumbent: [100, 101, 99],
    incumbentRecordedMean: 100,
    config: CONFIG,
  });
  assert.equal(open, null);
  const j = judge("stat", {
    candidate: INC.map((v) => v + 10),
    incumbent: INC,
    incumbentRecordedMean: 100,
    config: CONFIG,
  })!;
  assert.equal(j.decision, "improved");
  assert.equal(j.rule, "welch-t");
  assert.equal(j.incumbentMean, 100);
  assert.deepEqual(j.incumbentCi, meanCi(INC, 0.95));
});

Deno.test("judge() under exact decides one pair at once", () => {
  const j = judge("exact", {
    candidate: [103],
    incumbent: [100],
    incumbentRecordedMean: 100,
    config: CONFIG,
  })!;
  assert.equal(j.decision, "improved");
  assert.equal(j.rule, "exact");
  assert.equal(j.incumbentCi, null);
});

Deno.test("meanInterval() needs two values", () => {
  assert.equal(meanInterval([1], 0.95), null);
  assert.deepEqual(meanInterval([1, 2, 3], 0.9), meanCi([1, 2, 3], 0.9));
});
