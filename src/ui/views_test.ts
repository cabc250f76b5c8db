import assert from "node:assert/strict";
import { renderLog } from "./log_view.ts";
import { incumbentLine, markKind, renderChart } from "./chart.ts";
import { esc, renderReport } from "./report_html.ts";
import { renderStatus } from "./status_view.ts";
import { sampleRecords, sampleRun } from "../../tests/_fakes/records.ts";
import { summarizeRecords } from "../status.ts";

Deno.test("markKind() sorts records into kept, reverted, crashed and rejected", () => {
  assert.deepEqual(sampleRecords().map(markKind), [
    "kept",
    "kept",
    "reverted",
    "crashed",
    "rejected",
    "reverted",
    "kept",
  ]);
});

Deno.test("incumbentLine() follows the last kept average", () => {
  const line = incumbentLine(sampleRecords());
  assert.equal(line[0], 10);
  assert.equal(line[2], 12);
  assert.equal(line[6], 14.033333333333333);
});

Deno.test("renderLog() prints one row per record and the chart with its legend", () => {
  const text = renderLog(sampleRecords(), { color: false, width: 120 });
  const lines = text.split("\n");
  assert.match(lines[0]!, /^iter\s+decision\s+score/);
  for (let i = 0; i <= 6; i++) {
    assert.ok(lines.some((l) => new RegExp(`^${i}\\s`).test(l)), `row ${i}`);
  }
  assert.match(text, /improved\s+12 \[/);
  assert.match(
    text,
    /● kept {2}· reverted {2}x crashed {2}! rejected {2}─ incumbent/,
  );
});

Deno.test("renderChart() compresses long runs into the width", () => {
  const many = Array.from({ length: 300 }, (_, i) => ({
    ...sampleRecords()[2]!,
    iter: i,
    avg: i,
  }));
  const text = renderChart(many, { width: 80, height: 8, color: false });
  for (const line of text.split("\n")) assert.ok(line.length <= 90, line);
});

Deno.test("renderReport() has one mark and one row per record and escapes model text", () => {
  const records = sampleRecords();
  const html = renderReport({
    run: sampleRun(),
    records,
    diffs: new Map([[1, "+<b>x</b>"], [6, "+y"]]),
    environment: { ratchet: "0.1.0" },
    generatedAt: "now",
  });
  assert.equal(
    (html.match(/<circle class="mark /g) ?? []).length,
    records.length,
  );
  assert.equal((html.match(/<tr data-iter=/g) ?? []).length, records.length);
  assert.equal((html.match(/class="mark kept"/g) ?? []).length, 3);
  assert.equal((html.match(/class="mark crashed"/g) ?? []).length, 1);
  assert.ok(!html.includes("<script>alert(1)</script>"));
  assert.ok(html.includes(esc("<script>alert(1)</script>")));
  assert.ok(html.includes("+&lt;b&gt;x&lt;/b&gt;"));
  assert.ok(!/(src|href)="https?:/.test(html), "no network resources");
});

Deno.test("renderStatus() shows the gain and how to take a finished run", () => {
  const records = sampleRecords();
  const text = renderStatus({
    schema_version: 1,
    run_id: "r",
    state: "finished",
    pid: null,
    branch: "ratchet/r",
    worktree: "/w",
    iter: 6,
    phase: "finished",
    ...summarizeRecords(records, 0.95),
    stop_reason: "iterations",
  }, { color: false });
  assert.match(text, /kept\s+2 change\(s\)/);
  assert.match(text, /\+40\.3% vs baseline/);
  assert.match(text, /ratchet apply/);
});
