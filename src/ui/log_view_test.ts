import assert from "node:assert/strict";
import {
  fmtEstimate,
  fmtP,
  oneLine,
  renderLog,
  scoreCell,
  truncate,
} from "./log_view.ts";
import { makeRecord } from "../core/state.ts";
import { claimOf } from "../core/confirm.ts";
import { buildFixture } from "../../tests/fixtures/records/generate.ts";

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/** The table's lines: header, one per record, up to the blank line. */
function tableLines(text: string): string[] {
  const lines = text.split("\n");
  return lines.slice(0, lines.indexOf(""));
}

Deno.test("renderLog() shows one row per record with decision, score, p, effect, cost and hypothesis", () => {
  const { records } = buildFixture("mixed");
  const text = renderLog(records, { color: false, width: 150 });
  const table = tableLines(text);
  assert.match(
    table[0]!,
    /^iter\s+decision\s+score\s+p\s+effect\s+cost\s+hypothesis$/,
  );
  assert.equal(table.length, records.length + 1);
  table.slice(1).forEach((line, i) =>
    assert.match(line, new RegExp(`^${i}\\s+. ${records[i]!.decision}\\s`))
  );
  // iter 1: mean of 10.91, 11.02, 10.88 with its 95% interval, p < 0.001.
  assert.match(
    table[2]!,
    /● improved\s+10\.94 ± 0\.18\s+<0\.001\s+-12\.1%\s+\$0\.083\s+Parsing dominates/,
  );
  assert.match(table[3]!, /· regressed\s+11\.62 ± 0\.20\s+0\.001\s+\+6\.0%/);
  assert.match(table[4]!, /x crashed\s+—\s+—\s+—\s+\$0\.111/);
  assert.match(table[5]!, /! rejected\s+—/);
  assert.match(table[6]!, /\(no_submit\)$/);
  // A crash with one good trial shows that trial's score, no interval.
  assert.match(table[11]!, /x crashed\s+9\.1\s+—/);
  assert.match(table[1]!, /\(baseline\)$/);
  assert.match(text, /iterations 0–13 · 3 change\(s\) kept · \$1\.14/);
  assert.match(text, /● kept {2}· reverted {2}x crashed {2}! rejected/);
});

Deno.test("renderLog() cuts the hypothesis to fit the width", () => {
  const { records } = buildFixture("mixed");
  for (const width of [80, 100, 150]) {
    const table = tableLines(renderLog(records, { color: false, width }));
    for (const line of table) {
      assert.ok(Array.from(line).length <= width, `${width}: ${line}`);
    }
    assert.ok(table.some((l) => l.endsWith("…")), `${width} cuts something`);
  }
  const wide = tableLines(renderLog(records, { color: false, width: 400 }));
  assert.ok(!wide.some((l) => l.endsWith("…")));
  assert.ok(wide.some((l) => l.includes('<script>alert("x")</script>')));
});

Deno.test("renderLog() keeps control characters in model text off the terminal", () => {
  const record = makeRecord({
    run_id: "r",
    iter: 0,
    decision: "baseline",
    timestamp: "t",
    hypothesis: "clear\x1b[2J the screen\nand\r\tmore\x9b31m",
    trial_scores: [1, 2],
  });
  const text = renderLog([record], { color: false, width: 120 });
  for (const c of ["\x1b", "\x9b", "\r", "\t"]) {
    assert.ok(!text.includes(c), JSON.stringify(c));
  }
  assert.match(text, /clear \[2J the screen and more 31m/);
});

Deno.test("renderLog() colours decisions only when asked", () => {
  const { records } = buildFixture("mixed");
  const plain = renderLog(records, { color: false, width: 120 });
  const coloured = renderLog(records, { color: true, width: 120 });
  assert.doesNotMatch(plain, ANSI);
  assert.ok(coloured.includes("\x1b[32m● improved"));
  assert.ok(coloured.includes("\x1b[35mx crashed"));
  assert.equal(coloured.replace(ANSI, ""), plain);
});

Deno.test("renderLog() says when nothing is recorded yet", () => {
  assert.match(
    renderLog([], { color: false, width: 80 }),
    /No iterations recorded yet/,
  );
});

Deno.test("scoreCell() rounds the mean to its interval's precision", () => {
  const r = (trial_scores: (number | null)[]) =>
    makeRecord({
      run_id: "r",
      iter: 1,
      decision: "no_change",
      timestamp: "t",
      trial_scores,
    });
  assert.equal(
    scoreCell(r([12.41, 12.38, 12.52, 12.45, 12.36]), 0.95),
    "12.424 ± 0.079",
  );
  assert.equal(scoreCell(r([4, 4, 4]), 0.95), "4 ± 0");
  assert.equal(scoreCell(r([7.25]), 0.95), "7.25");
  assert.equal(scoreCell(r([null, null]), 0.95), "—");
  // A wider confidence, a wider interval.
  assert.equal(scoreCell(r([10.91, 11.02, 10.88]), 0.99), "10.94 ± 0.42");
});

Deno.test("fmtEstimate(), fmtP(), truncate() and oneLine() format cells", () => {
  assert.equal(fmtEstimate(9.6333, [9.4815, 9.7851]), "9.63 [9.48, 9.79]");
  assert.equal(fmtEstimate(3, null), "3");
  assert.equal(fmtEstimate(null, null), "—");
  assert.equal(fmtP(0.0004), "<0.001");
  assert.equal(fmtP(0.0721), "0.072");
  assert.equal(fmtP(null), "—");
  assert.equal(truncate("abcdef", 4), "abc…");
  assert.equal(truncate("abc", 4), "abc");
  assert.equal(truncate("😀😀😀😀😀", 3), "😀😀…");
  assert.equal(oneLine(" a\n\nb\x07c "), "a b c");
});

Deno.test("renderLog() shows the deciding rule, the guards and the claimed gain", () => {
  const { records, confirmation } = buildFixture("guarded");
  const text = renderLog(records, {
    color: false,
    width: 160,
    claim: claimOf(confirmation!, "20260303-100000-77aa", records[4]!.sha),
  });
  const table = tableLines(text);
  assert.match(
    table[0]!,
    /^iter\s+decision\s+score\s+p\s+effect\s+rule\s+guards\s+cost\s+hypothesis$/,
  );
  assert.match(table[2]!, /● improved .* welch\s+accuracy \+0\.0%/);
  assert.match(
    table[3]!,
    /· regressed .* welch\s+accuracy −10\.0%|· regressed .* welch\s+accuracy -10\.0%/,
  );
  assert.match(
    text,
    /claimed gain -99\.000% \[-99\.017%, -98\.983%\] \(start commit and iter 4 measured interleaved at the end of the run, 4 vs 4 trials, p<0\.001\)/,
  );
  assert.match(text, /\nguards accuracy \+0\.0%/);
  // Without a confirmation nothing is claimed.
  assert.doesNotMatch(
    renderLog(records, { color: false, width: 160 }),
    /claimed gain/,
  );
});
