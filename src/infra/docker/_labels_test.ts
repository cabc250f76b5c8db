import assert from "node:assert/strict";
import { hasLabels, labelFilters } from "./_labels.ts";

Deno.test("labelFilters() sends the engine the first label only", () => {
  assert.equal(labelFilters({}), "{}");
  assert.deepEqual(
    JSON.parse(labelFilters({ "ratchet.run": "r1", "ratchet.iter": "3" })),
    { label: ["ratchet.run=r1"] },
  );
});

Deno.test("hasLabels() wants every label with its value", () => {
  const want = { "ratchet.run": "r1", "ratchet.iter": "3" };
  assert.equal(hasLabels({ ...want, other: "x" }, want), true);
  assert.equal(hasLabels({ "ratchet.run": "r1" }, want), false);
  assert.equal(
    hasLabels({ "ratchet.run": "r1", "ratchet.iter": "4" }, want),
    false,
  );
  assert.equal(hasLabels(null, want), false);
  assert.equal(hasLabels(undefined, {}), true);
});
