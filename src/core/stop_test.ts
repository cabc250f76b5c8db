import assert from "node:assert/strict";
import { type Decision, type IterationRecord, makeRecord } from "./state.ts";
import { type StopParams, stopReason } from "./stop.ts";

function rec(
  iter: number,
  decision: Decision,
  fields: Partial<IterationRecord> = {},
): IterationRecord {
  return makeRecord({
    run_id: "r",
    iter,
    decision,
    timestamp: "2025-01-01T00:00:00.000Z",
    sha: decision === "baseline" || decision === "improved"
      ? `sha${iter}`
      : null,
    ...fields,
  });
}

const BASELINE = rec(0, "baseline", { trial_scores: [10, 11, 12, 10, 12] });

const PARAMS: StopParams = {
  iterations: 20,
  threshold: null,
  direction: "max",
  patience: 0,
  maxConsecutiveCrashes: 3,
};
const FREE = { costUsd: 0, maxCostUsd: 10 };

Deno.test("stopReason() stops at the iteration cap", () => {
  const records = [BASELINE];
  for (let i = 1; i <= 3; i++) records.push(rec(i, "no_change"));
  assert.equal(stopReason(records, { ...PARAMS, iterations: 4 }, FREE), null);
  assert.equal(
    stopReason(records, { ...PARAMS, iterations: 3 }, FREE),
    "iterations",
  );
  assert.equal(stopReason([], PARAMS, FREE), null);
});

Deno.test("stopReason() checks the threshold on the incumbent's mean, from iteration 0", () => {
  assert.equal(
    stopReason([BASELINE], { ...PARAMS, threshold: 11 }, FREE),
    "threshold",
  );
  assert.equal(
    stopReason([BASELINE], { ...PARAMS, threshold: 11.5 }, FREE),
    null,
  );
  // min metrics: at or below.
  const min = { ...PARAMS, direction: "min" as const };
  assert.equal(
    stopReason([BASELINE], { ...min, threshold: 11 }, FREE),
    "threshold",
  );
  assert.equal(stopReason([BASELINE], { ...min, threshold: 10.9 }, FREE), null);
  // A lucky keep at 15 reaches 14, but its re-measurement (13) does not.
  const kept = rec(1, "improved", { trial_scores: [14, 15, 16] });
  const params = { ...PARAMS, threshold: 14 };
  assert.equal(stopReason([BASELINE, kept], params, FREE), "threshold");
  const remeasured = rec(2, "no_change", { baseline_scores: [13, 13, 13] });
  assert.equal(stopReason([BASELINE, kept, remeasured], params, FREE), null);
});

Deno.test("stopReason() counts patience over iterations that are not improved", () => {
  const p = { ...PARAMS, patience: 2 };
  const noImprove = [BASELINE, rec(1, "no_change"), rec(2, "crashed")];
  assert.equal(stopReason(noImprove, p, FREE), "patience");
  // The baseline is not a proposal: one proposal is not two.
  assert.equal(stopReason([BASELINE, rec(1, "regressed")], p, FREE), null);
  const recent = [...noImprove, rec(3, "improved"), rec(4, "inconclusive")];
  assert.equal(stopReason(recent, p, FREE), null);
  assert.equal(stopReason(noImprove, { ...p, patience: 0 }, FREE), null);
});

Deno.test("stopReason() stops after N consecutive crashes only", () => {
  const crashes = [BASELINE, rec(1, "crashed"), rec(2, "crashed")];
  assert.equal(stopReason(crashes, PARAMS, FREE), null);
  assert.equal(
    stopReason([...crashes, rec(3, "crashed")], PARAMS, FREE),
    "crashes",
  );
  const broken = [
    BASELINE,
    rec(1, "crashed"),
    rec(2, "no_change"),
    rec(3, "crashed"),
    rec(4, "crashed"),
  ];
  assert.equal(stopReason(broken, PARAMS, FREE), null);
});

Deno.test("stopReason() stops when the spend reaches the cap, unless uncapped", () => {
  assert.equal(
    stopReason([BASELINE], PARAMS, { costUsd: 10, maxCostUsd: 10 }),
    "cost",
  );
  assert.equal(
    stopReason([BASELINE], PARAMS, { costUsd: 9.99, maxCostUsd: 10 }),
    null,
  );
  assert.equal(
    stopReason([BASELINE], PARAMS, { costUsd: 99, maxCostUsd: 0 }),
    null,
  );
});

Deno.test("stopReason() reports the threshold first when several conditions hold", () => {
  const records = [
    BASELINE,
    rec(1, "crashed"),
    rec(2, "crashed"),
    rec(3, "crashed"),
  ];
  const all = { ...PARAMS, iterations: 3, threshold: 10, patience: 1 };
  const spent = { costUsd: 20, maxCostUsd: 10 };
  assert.equal(stopReason(records, all, spent), "threshold");
  assert.equal(
    stopReason(records, { ...all, threshold: null }, spent),
    "crashes",
  );
  assert.equal(
    stopReason(
      records,
      { ...all, threshold: null, maxConsecutiveCrashes: 9 },
      spent,
    ),
    "patience",
  );
  assert.equal(
    stopReason(records, {
      ...all,
      threshold: null,
      maxConsecutiveCrashes: 9,
      patience: 0,
    }, spent),
    "cost",
  );
});

Deno.test("stopReason() counts patience and crashes only after `since` (an extended run)", () => {
  const records = [
    BASELINE,
    rec(1, "crashed"),
    rec(2, "no_change"),
    rec(3, "crashed"),
  ];
  const params = { ...PARAMS, patience: 2, maxConsecutiveCrashes: 1 };
  assert.equal(stopReason(records, params, FREE), "crashes");
  assert.equal(stopReason(records, { ...params, since: 3 }, FREE), null);
  assert.equal(
    stopReason(
      records,
      { ...params, maxConsecutiveCrashes: 3, since: 1 },
      FREE,
    ),
    "patience",
  );
  assert.equal(
    stopReason(
      records,
      { ...params, maxConsecutiveCrashes: 3, since: 2 },
      FREE,
    ),
    null,
  );
});
