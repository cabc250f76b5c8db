import { driveLoop, measureBaseline } from "./loop.ts";
import { stateFromRecords } from "./run_state.ts";
import { BaselineError } from "../errors.ts";
import { makeRecord } from "../core/state.ts";
import { testConfig } from "../../tests/_helpers/config.ts";
import { fakeLoop } from "../../tests/_fakes/loop_ports.ts";
import assert from "node:assert/strict";

Deno.test("driveLoop() records a carried spend that exhausted the budget before stopping for cost", async () => {
  const config = testConfig({ maxCostUsd: 1, direction: "max" });
  const baseline = makeRecord({
    run_id: "r",
    iter: 0,
    decision: "baseline",
    trial_scores: [10, 10, 10, 10, 10],
    sha: "sha-0",
    timestamp: "t",
  });
  const state = stateFromRecords({
    configPath: "ratchet.jsonc",
    runId: "r",
    config,
    deterministic: true,
    unit: null,
    records: [baseline],
    incumbentTree: "tree-0",
    carried: {
      tokens: { input: 1000, output: 100, cache_write: 0, cache_read: 0 },
      costUsd: 1.5,
    },
  });
  const f = fakeLoop({
    // The budget is gone: the retry's proposal stops before any call.
    proposals: [{
      summary: {
        kind: "cost_cap",
        costUsd: 0,
        tokens: { input: 0, output: 0, cache_write: 0, cache_read: 0 },
      },
    }],
    trial: () => 10,
  });
  const end = await driveLoop(f.ports, state);
  assert.equal(end.reason, "cost");
  assert.equal(f.records.length, 1);
  assert.equal(f.records[0]!.iter, 1);
  assert.equal(f.records[0]!.cost_usd, 1.5);
  assert.equal(f.records[0]!.tokens.input, 1000);
  assert.equal(f.proposals[0]!.spentUsd, 1.5);
});

Deno.test("driveLoop() stops for cost at once when nothing is carried", async () => {
  const config = testConfig({ maxCostUsd: 1 });
  const baseline = makeRecord({
    run_id: "r",
    iter: 0,
    decision: "baseline",
    trial_scores: [10],
    sha: "sha-0",
    timestamp: "t",
    cost_usd: 0,
  });
  const spent = makeRecord({
    run_id: "r",
    iter: 1,
    decision: "no_change",
    trial_scores: [10],
    sha: null,
    timestamp: "t",
    cost_usd: 1.2,
  });
  const f = fakeLoop({ proposals: [], trial: () => 10 });
  const end = await driveLoop(
    f.ports,
    stateFromRecords({
      configPath: "ratchet.jsonc",
      runId: "r",
      config,
      deterministic: true,
      unit: null,
      records: [baseline, spent],
      incumbentTree: "tree-0",
    }),
  );
  assert.equal(end.reason, "cost");
  assert.equal(f.proposals.length, 0);
});

Deno.test("measureBaseline() records each guard's baseline values and units", async () => {
  const config = testConfig({
    direction: "max",
    guard: [{ name: "accuracy", direction: "max", tolerance: 0.02 }],
  });
  let k = 0;
  const f = fakeLoop({
    proposals: [],
    trial: () => ({ score: 10 + (k++ % 2), guards: { accuracy: 0.9 } }),
  });
  const b = await measureBaseline(
    {
      trials: f.ports.trials,
      events: () => {},
      signal: new AbortController().signal,
      now: () => new Date(0),
    },
    { runId: "r", config, tree: "t", sha: "s" },
  );
  assert.deepEqual(b.record.guards, {
    accuracy: {
      scores: [0.9, 0.9, 0.9, 0.9, 0.9],
      baseline_scores: [],
      avg: 0.9,
      effect: null,
      ci: null,
      p_value: null,
    },
  });
  assert.deepEqual(b.guardUnits, { accuracy: null });
  // The loop's state: the guard's baseline was constant, so it is exact.
  const state = stateFromRecords({
    runId: "r",
    config,
    configPath: "ratchet.jsonc",
    deterministic: false,
    unit: null,
    guardUnits: b.guardUnits,
    records: [b.record],
    incumbentTree: "t",
  });
  assert.deepEqual(state.guards, {
    units: { accuracy: null },
    deterministic: { accuracy: true },
    incumbentMeans: { accuracy: 0.9 },
  });
});

Deno.test("measureBaseline() stops with exit 5 naming a guard the report lacks", async () => {
  const config = testConfig({
    direction: "max",
    guard: [{ name: "accuracy", direction: "max", tolerance: 0.02 }],
  });
  const trials = {
    trial: () =>
      Promise.resolve({
        outcome: "no_metric" as const,
        score: null,
        unit: null,
        wallSeconds: 0.1,
        detail:
          'guard "accuracy": metric "accuracy" not found in the report; tried: a JSON document …',
        outputTail: "",
        guards: { accuracy: null },
        guardUnits: { accuracy: null },
      }),
    check: () => Promise.resolve(null),
    retain: () => Promise.reject(new Error("the baseline retains no trees")),
  };
  await assert.rejects(
    measureBaseline(
      {
        trials,
        events: () => {},
        signal: new AbortController().signal,
        now: () => new Date(0),
      },
      { runId: "r", config, tree: "t", sha: "s" },
    ),
    (e: unknown) => {
      assert.ok(e instanceof BaselineError);
      assert.equal(e.exitCode, 5);
      assert.match(
        e.message,
        /trial 1 of 5 ended no_metric: guard "accuracy": metric "accuracy" not found in the report; tried:/,
      );
      return true;
    },
  );
});
