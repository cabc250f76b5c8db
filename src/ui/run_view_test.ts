import assert from "node:assert/strict";
import { iterationLine, textView } from "./run_view.ts";
import { memoryOutput } from "./output.ts";
import { buildFixture } from "../../tests/fixtures/records/generate.ts";

Deno.test("iterationLine() shows each guard's effect", () => {
  const { records } = buildFixture("guarded");
  assert.match(
    iterationLine(records[2]!, { color: false }),
    /^iter {3}2 {2}regressed .* guards accuracy -10\.0%\n.*\n.*guard_regressed: rule=stat\/welch-t; guard accuracy −10\.0% \(tolerance 2\.0%\): worse/,
  );
  // No guards: no guard text.
  const { records: plain } = buildFixture("mixed");
  assert.doesNotMatch(iterationLine(plain[1]!, { color: false }), /guards/);
});

Deno.test("textView() prints the claimed gain when the confirmation finishes", () => {
  const output = memoryOutput();
  const view = textView(output, { live: false, now: () => 0, iterations: 4 });
  const { confirmation } = buildFixture("guarded");
  view.handle({ event: "phase", iter: 4, phase: "confirming" });
  view.handle({ event: "confirmed", confirmation: confirmation! });
  view.close();
  assert.match(
    output.stderr.join("\n"),
    /^Claimed gain -99\.000% \[-99\.017%, -98\.983%\]: start commit and iter 4 measured interleaved at the end of the run, 4 vs 4 trials, p<0\.001; guards accuracy \+0\.0%$/m,
  );
});

Deno.test("textView() with live draws its status line through Output and clears it before each line", () => {
  const output = memoryOutput({ terminals: { stdout: true, stderr: true } });
  let now = 0;
  const view = textView(output, {
    live: true,
    now: () => now,
    iterations: 4,
  });
  view.handle({ event: "phase", iter: 1, phase: "proposing" });
  assert.equal(output.statusLines.length, 1);
  assert.deepEqual(output.statusLines, [
    "\x1b[36miter 1\x1b[39m proposing · $0.000 · 0.0s",
  ]);
  now = 5000;
  view.handle({ event: "info", message: "hello" });
  // Cleared, the line printed, then drawn again.
  assert.deepEqual(output.stderr, ["hello"]);
  assert.equal(output.statusLines[1], "");
  assert.equal(
    output.statusLines[2],
    "\x1b[36miter 1\x1b[39m proposing · $0.000 · 5.0s",
  );
  view.close();
  assert.equal(output.statusLines.at(-1), "");
  view.close();
  assert.equal(output.statusLines.length, 4, "a second close writes nothing");
});

Deno.test("textView() without live never touches the status line", () => {
  const output = memoryOutput();
  const view = textView(output, { live: false, now: () => 0, iterations: 4 });
  view.handle({ event: "phase", iter: 1, phase: "proposing" });
  view.handle({ event: "info", message: "hello" });
  view.close();
  assert.deepEqual(output.statusLines, []);
  assert.deepEqual(output.stderr, ["hello"]);
});
