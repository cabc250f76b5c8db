import assert from "node:assert/strict";
import {
  markdownTable,
  MODELS,
  README_MARKERS,
  readmeSection,
  renderDecisionTable,
  replaceReadmeSection,
  simulateRun,
  wrapProse,
} from "../bench/_decision_sim.ts";
import { mulberry32 } from "../src/core/rng.ts";

Deno.test("README's decision-bench section matches the simulation", async () => {
  const readme = await Deno.readTextFile(
    new URL("../README.md", import.meta.url),
  );
  const section = readmeSection(readme);
  assert.ok(
    section !== null,
    `README.md lacks the ${README_MARKERS.start} … ${README_MARKERS.end} ` +
      "markers around the decision-bench table",
  );
  // Seeded, so any difference means the rules or the simulation changed
  // after the README was written.
  assert.equal(
    section,
    renderDecisionTable(),
    "README.md's decision-bench table is stale: run " +
      "`deno task bench:decision --write-readme`",
  );
});

Deno.test("replaceReadmeSection() rewrites only between the markers", () => {
  const readme =
    `# x\n\n${README_MARKERS.start}\nold\n${README_MARKERS.end}\n\ntail\n`;
  const next = replaceReadmeSection(readme, "| a |\n| - |")!;
  assert.equal(
    next,
    `# x\n\n${README_MARKERS.start}\n\n| a |\n| - |\n\n${README_MARKERS.end}\n\ntail\n`,
  );
  assert.equal(readmeSection(next), "| a |\n| - |");
  assert.equal(replaceReadmeSection("# no markers\n", "t"), null);
  assert.equal(readmeSection("# no markers\n"), null);
});

Deno.test("markdownTable() and wrapProse() lay text out as deno fmt does", () => {
  assert.equal(
    markdownTable(["name", "n"], [["a", "1"], ["bbbbb", "10"]], (i) => i > 0),
    "| name  |   n |\n| ----- | --: |\n| a     |   1 |\n| bbbbb |  10 |",
  );
  assert.equal(wrapProse("aa bb cc", 5), "aa bb\ncc");
});

Deno.test("the end-of-run confirmation's interval covers the true gain at least 90% of the time in every noise row", () => {
  // Seeded like the README table, fewer runs (SE about 2 points at 150).
  for (const [mi, model] of MODELS.entries()) {
    for (const rule of ["stat", "mean"] as const) {
      const rng = mulberry32(4000 + mi);
      const n = 150;
      let covered = 0;
      let confirmed = 0;
      for (let r = 0; r < n; r++) {
        const res = simulateRun(rng, model, rule, 30);
        if (res.confirmationTrials > 0) confirmed++;
        const ci = res.claimedCi;
        if (ci !== null && ci[0] <= res.trueGain && res.trueGain <= ci[1]) {
          covered++;
        }
      }
      assert.ok(
        covered / n >= 0.9,
        `${model.name}, ${rule}: covered ${covered / n}`,
      );
      assert.ok(
        confirmed > n / 2,
        `${model.name}, ${rule}: confirmed ${confirmed}`,
      );
    }
  }
});
