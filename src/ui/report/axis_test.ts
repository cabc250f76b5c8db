import assert from "node:assert/strict";
import { isLogScale, logTicks, niceTicks } from "./axis.ts";

Deno.test("niceTicks() picks round steps covering the range", () => {
  assert.deepEqual(niceTicks(0, 10, 5), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(8.6, 12.7, 6), [9, 10, 11, 12]);
  assert.deepEqual(niceTicks(0.1, 0.35, 5), [0.1, 0.15, 0.2, 0.25, 0.3, 0.35]);
  assert.deepEqual(niceTicks(0, 149, 10), [0, 20, 40, 60, 80, 100, 120, 140]);
  assert.deepEqual(niceTicks(3, 3), [3]);
});

Deno.test("isLogScale() and logTicks(): a log axis past 10×, ticks at 1, 2, 5 per decade", () => {
  assert.equal(isLogScale(1, 10), false);
  assert.equal(isLogScale(0.9, 10), true);
  assert.equal(isLogScale(-1, 100), false);
  assert.deepEqual(logTicks(Math.log10(0.0008), Math.log10(0.09)), [
    0.001,
    0.002,
    0.005,
    0.01,
    0.02,
    0.05,
  ]);
});
