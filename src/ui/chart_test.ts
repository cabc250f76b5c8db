import assert from "node:assert/strict";
import {
  decimalsFor,
  incumbentSeries,
  markKind,
  renderChart,
} from "./chart.ts";
import { incumbentOf } from "../core/incumbent.ts";
import { makeRecord } from "../core/state.ts";
import { buildFixture } from "../../tests/fixtures/records/generate.ts";

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/** The plot rows and the axis row of a rendered chart (no header, labels or legend). */
function plotLines(text: string): string[] {
  const lines = text.split("\n");
  const axis = lines.findIndex((l) => l.includes("└"));
  return lines.slice(0, axis + 1).filter((l) => /[│┤└]/.test(l));
}

function count(lines: string[], glyph: string): number {
  return lines.reduce(
    (n, l) => n + (l.split(/[│┤└]/)[1] ?? "").split(glyph).length - 1,
    0,
  );
}

Deno.test("markKind() sorts records into kept, reverted, crashed and rejected", () => {
  const { records } = buildFixture("mixed");
  assert.deepEqual(records.map(markKind), [
    "kept",
    "kept",
    "reverted",
    "crashed",
    "rejected",
    "reverted",
    "reverted",
    "reverted",
    "kept",
    "reverted",
    "crashed",
    "rejected",
    "kept",
    "reverted",
  ]);
});

Deno.test("incumbentSeries() equals incumbentOf() on every prefix of the records", () => {
  for (const name of ["mixed", "long"] as const) {
    const { records } = buildFixture(name);
    const series = incumbentSeries(records, { confidence: 0.9 });
    assert.equal(series.length, records.length);
    records.forEach((_, i) => {
      assert.deepEqual(
        series[i],
        incumbentOf(records.slice(0, i + 1), { confidence: 0.9 }),
        `${name} after record ${i}`,
      );
    });
  }
});

Deno.test("incumbentSeries() follows a re-measurement back to the kept scores", () => {
  // The re-measure at iter 2 equals the incumbent's own trials while the one
  // at iter 1 does not: the value must come back, not stick at iter 1's.
  const base = { run_id: "r", timestamp: "t" };
  const records = [
    makeRecord({
      ...base,
      iter: 0,
      decision: "baseline",
      trial_scores: [5, 6],
    }),
    makeRecord({
      ...base,
      iter: 1,
      decision: "no_change",
      trial_scores: [5, 5],
      baseline_scores: [7, 8],
    }),
    makeRecord({
      ...base,
      iter: 2,
      decision: "regressed",
      trial_scores: [4, 4],
      baseline_scores: [5, 6],
    }),
    makeRecord({
      ...base,
      iter: 3,
      decision: "crashed",
      trial_scores: [null],
      baseline_scores: [9, 9],
    }),
  ];
  const series = incumbentSeries(records);
  assert.deepEqual(series.map((v) => v?.mean), [5.5, 7.5, 5.5, 5.5]);
  records.forEach((_, i) =>
    assert.deepEqual(series[i], incumbentOf(records.slice(0, i + 1)))
  );
});

Deno.test("renderChart() draws every iteration's mark, the unscored ones on the axis", () => {
  const { records } = buildFixture("mixed");
  const text = renderChart(records, { width: 120, height: 12, color: false });
  const plot = plotLines(text);
  const axis = plot.at(-1)!;
  assert.equal(count(plot, "●"), 4, text);
  assert.equal(count(plot, "x"), 2, text);
  assert.equal(count(plot, "!"), 2, text);
  assert.equal(count(plot, "·"), 6, text);
  // Iterations 3 (all trials timed out), 4 and 11 (rejected) and 5
  // (no_submit) have no score.
  assert.equal(count([axis], "x"), 1);
  assert.equal(count([axis], "!"), 2);
  assert.equal(count([axis], "·"), 1);
  assert.match(
    text,
    /● kept {2}· reverted {2}x crashed {2}! rejected {2}─ incumbent/,
  );
  assert.doesNotMatch(text, ANSI);
});

Deno.test("renderChart() labels rows with their own values and the direction", () => {
  const { records } = buildFixture("mixed");
  const text = renderChart(records, {
    width: 100,
    height: 10,
    color: false,
    direction: "min",
  });
  assert.match(text.split("\n")[0]!, /lower is better/);
  const labels = plotLines(text).map((l) => l.split(/[│┤└]/)[0]!.trim())
    .filter((l) => l !== "").map(Number);
  // The highest score is the baseline's 12.424, the lowest the last kept
  // change's 8.8267; the middle label is the value of its own row.
  assert.deepEqual(labels, [12.42, 10.83, 8.83]);
  // The best kept change sits on the bottom row.
  const bottom = plotLines(text).at(-2)!;
  assert.match(bottom, /^ 8\.83 ┤.*●/);
});

Deno.test("renderChart() compresses a run longer than the width", () => {
  const { records } = buildFixture("long");
  for (const width of [40, 80, 132]) {
    const text = renderChart(records, { width, height: 10, color: false });
    for (const line of text.split("\n")) {
      assert.ok(Array.from(line).length <= width, `${width}: ${line}`);
    }
    const plot = plotLines(text);
    assert.ok(count(plot, "●") >= 5, text);
    assert.ok(count([plot.at(-1)!], "x") >= 1, "crashes on the axis");
    assert.match(text, /\n\s+0\s+iteration\s+149\n/);
  }
});

Deno.test("renderChart() colours only when asked", () => {
  const { records } = buildFixture("mixed");
  const coloured = renderChart(records, { width: 90, height: 8, color: true });
  assert.ok(coloured.includes("\x1b[32m●\x1b[39m"));
  assert.equal(
    coloured.replace(ANSI, ""),
    renderChart(records, { width: 90, height: 8, color: false }),
  );
});

Deno.test("renderChart() handles a lone baseline and runs without scores", () => {
  const base = { run_id: "r", timestamp: "t" };
  const lone = renderChart(
    [makeRecord({ ...base, iter: 0, decision: "baseline", trial_scores: [3] })],
    { width: 60, height: 6, color: false },
  );
  assert.equal(count(plotLines(lone), "●"), 1);
  assert.equal(
    renderChart(
      [makeRecord({ ...base, iter: 0, decision: "crashed" })],
      { width: 60, height: 6, color: false },
    ),
    "(no scores yet)",
  );
  assert.equal(renderChart([], { width: 60, height: 6, color: false }), "");
});

Deno.test("decimalsFor() keeps two significant digits of the spread", () => {
  assert.equal(decimalsFor(0.079), 3);
  assert.equal(decimalsFor(0.18), 2);
  assert.equal(decimalsFor(1.8), 1);
  assert.equal(decimalsFor(250), 0);
  assert.equal(decimalsFor(0), null);
  assert.equal(decimalsFor(NaN), null);
});
