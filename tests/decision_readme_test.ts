import assert from "node:assert/strict";
import {
  markdownTable,
  README_MARKERS,
  readmeSection,
  renderDecisionTable,
  replaceReadmeSection,
  wrapProse,
} from "../bench/_decision_sim.ts";

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
