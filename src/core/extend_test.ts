import assert from "node:assert/strict";
import { type Decision, type IterationRecord, makeRecord } from "./state.ts";
import { type ExtendSettings, planExtension } from "./extend.ts";

function rec(
  iter: number,
  decision: Decision,
  scores: number[] = [],
): IterationRecord {
  return makeRecord({
    run_id: "r",
    iter,
    decision,
    timestamp: "2025-01-01T00:00:00.000Z",
    sha: decision === "baseline" || decision === "improved" ? `s${iter}` : null,
    trial_scores: scores,
  });
}

const SETTINGS: ExtendSettings = {
  iterations: 10,
  threshold: null,
  direction: "max",
  patience: 2,
  maxConsecutiveCrashes: 2,
  maxCostUsd: 10,
};

const RECORDS = [
  rec(0, "baseline", [10]),
  rec(1, "improved", [20]),
  rec(2, "crashed"),
  rec(3, "crashed"),
];

Deno.test("planExtension() goes on from the last record: patience and crash counts start after it", () => {
  const plan = planExtension({
    records: RECORDS,
    settings: SETTINGS,
    given: new Set(["iterations"]),
    spentUsd: 1,
  });
  assert.deepEqual(plan, { ok: true, since: 3, threshold: null, notes: [] });
});

Deno.test("planExtension() drops a reached threshold, and refuses one asked for again", () => {
  const settings = { ...SETTINGS, threshold: 15 };
  const plan = planExtension({
    records: RECORDS,
    settings,
    given: new Set(["iterations"]),
    spentUsd: 0,
  });
  assert.ok(plan.ok);
  assert.equal(plan.threshold, null);
  assert.match(plan.notes[0]!, /threshold 15 was reached/);
  const again = planExtension({
    records: RECORDS,
    settings,
    given: new Set(["threshold"]),
    spentUsd: 0,
  });
  assert.ok(!again.ok);
  assert.equal(again.flag, "--threshold");
  const higher = planExtension({
    records: RECORDS,
    settings: { ...SETTINGS, threshold: 25 },
    given: new Set(["threshold"]),
    spentUsd: 0,
  });
  assert.deepEqual(higher, { ok: true, since: 3, threshold: 25, notes: [] });
});

Deno.test("planExtension() names the flag when the iteration cap or the cost cap leaves no room", () => {
  const cases: [Partial<ExtendSettings>, number, string, RegExp][] = [
    [{ iterations: 3 }, 0, "--iterations", /with N above 3/],
    [{ maxCostUsd: 5 }, 5.5, "--max-cost-usd", /--max-cost-usd 11/],
  ];
  for (const [change, spent, flag, hint] of cases) {
    const plan = planExtension({
      records: RECORDS,
      settings: { ...SETTINGS, ...change },
      given: new Set(),
      spentUsd: spent,
    });
    assert.ok(!plan.ok, flag);
    assert.equal(plan.flag, flag);
    assert.match(plan.hint, hint);
  }
  // No cap (0) never stops an extension.
  assert.ok(
    planExtension({
      records: RECORDS,
      settings: { ...SETTINGS, maxCostUsd: 0 },
      given: new Set(),
      spentUsd: 99,
    }).ok,
  );
});
