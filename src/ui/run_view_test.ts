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
