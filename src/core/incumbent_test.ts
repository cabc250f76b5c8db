import assert from "node:assert/strict";
import { incumbentOf } from "./incumbent.ts";
import { type Decision, type IterationRecord, makeRecord } from "./state.ts";
import { meanCi } from "./stats.ts";

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

Deno.test("incumbentOf() is the baseline with its own scores at first", () => {
  const inc = incumbentOf([BASELINE])!;
  assert.equal(inc.iter, 0);
  assert.equal(inc.sha, "sha0");
  assert.equal(inc.mean, 11);
  assert.deepEqual(inc.ci, meanCi([10, 11, 12, 10, 12], 0.95));
  assert.equal(incumbentOf([]), null);
});

Deno.test("incumbentOf() takes the latest re-measurement, not the winning average", () => {
  const kept = rec(1, "improved", {
    trial_scores: [14, 15, 16],
    baseline_scores: [10, 11, 12],
  });
  // Just kept: its own trials are all there is.
  assert.equal(incumbentOf([BASELINE, kept])!.mean, 15);
  assert.equal(incumbentOf([BASELINE, kept])!.iter, 1);
  const later = [
    rec(2, "no_change", { trial_scores: [13, 13], baseline_scores: [13, 14] }),
    rec(3, "regressed", {
      trial_scores: [9, 9],
      baseline_scores: [12, 13, 14],
    }),
    // A crash that ran one incumbent trial is not a comparison.
    rec(4, "crashed", { trial_scores: [null], baseline_scores: [20] }),
    rec(5, "rejected"),
  ];
  const inc = incumbentOf([BASELINE, kept, ...later])!;
  assert.equal(inc.iter, 1);
  assert.equal(inc.sha, "sha1");
  assert.equal(inc.mean, 13);
  assert.deepEqual(inc.scores, [12, 13, 14]);
  assert.deepEqual(inc.ci, meanCi([12, 13, 14], 0.95));
});

Deno.test("incumbentOf() under mean uses the kept trials, skipping failed ones", () => {
  const kept = rec(1, "improved", { trial_scores: [14, null, 16] });
  const after = rec(2, "no_change", { trial_scores: [15] });
  const inc = incumbentOf([BASELINE, kept, after], { confidence: 0.9 })!;
  assert.equal(inc.mean, 15);
  assert.deepEqual(inc.ci, meanCi([14, 16], 0.9));
});
