import assert from "node:assert/strict";
import { formatMarkdown } from "../tools/_markdown.ts";
import {
  parseTrialResults,
  readmeBlock,
  renderTrialBlock,
  replaceReadmeBlock,
  TRIAL_MARKERS,
  TRIAL_RESULTS,
  type TrialBenchResults,
} from "./_trial_results.ts";

Deno.test("README's trial-bench block is the rendering of bench/results/trial.json", async () => {
  const readme = await Deno.readTextFile(
    new URL("../README.md", import.meta.url),
  );
  const block = readmeBlock(readme);
  assert.ok(
    block !== null,
    `README.md lacks the ${TRIAL_MARKERS.start} … ${TRIAL_MARKERS.end} markers`,
  );
  const results = parseTrialResults(await Deno.readTextFile(TRIAL_RESULTS));
  assert.ok(results.rows.length > 0, "bench/results/trial.json has no rows");
  assert.equal(
    block,
    (await formatMarkdown(renderTrialBlock(results))).trim(),
    "README.md's trial-bench block is stale: run `deno task bench:trial --write`",
  );
});

const RESULTS: TrialBenchResults = {
  schema_version: 1,
  measured_at: "2026-12-03T10:00:00.000Z",
  command: "deno task bench:trial --n 15 --write",
  environment: { cpus: "2", engine: "20.10.24" },
  rows: [
    {
      what: "runner | sample repo",
      median: 175.25,
      min: 160,
      unit: "ms",
      samples: 15,
      note: "×0.55 of the docker CLI",
    },
    {
      what: "derived",
      median: 12,
      min: null,
      unit: "ms",
      samples: 0,
      note: "",
    },
    {
      what: "runner on a large repository",
      median: 1200,
      min: 1100.04,
      unit: "ms",
      samples: 5,
      note: "a row the bench did not have before",
    },
    {
      what: "peak RSS",
      median: 91.234,
      min: null,
      unit: "MB",
      samples: 1,
      note: "goal < 200 MB met",
    },
  ],
};

Deno.test("renderTrialBlock() renders any list of rows, one table row each", () => {
  const block = renderTrialBlock(RESULTS);
  assert.match(
    block,
    /^Measured by `deno task bench:trial --n 15 --write` on 2026-12-03 10:00 UTC \(cpus 2, engine 20\.10\.24\)/,
  );
  const rows = block.split("\n").filter((l) =>
    l.startsWith("| ") && !l.startsWith("| measured")
  );
  assert.deepEqual(rows, [
    "| runner \\| sample repo | 175.3 ms | 160.0 ms | 15 | ×0.55 of the docker CLI |",
    "| derived | 12.0 ms | — | derived |  |",
    "| runner on a large repository | 1200.0 ms | 1100.0 ms | 5 | a row the bench did not have before |",
    "| peak RSS | 91.2 MB | — | 1 | goal &lt; 200 MB met |",
  ]);
});

Deno.test("replaceReadmeBlock() rewrites only between the markers", () => {
  const readme =
    `# x\n\n${TRIAL_MARKERS.start}\nold\n${TRIAL_MARKERS.end}\n\ntail\n`;
  const next = replaceReadmeBlock(readme, "| a |\n| - |\n")!;
  assert.equal(
    next,
    `# x\n\n${TRIAL_MARKERS.start}\n\n| a |\n| - |\n\n${TRIAL_MARKERS.end}\n\ntail\n`,
  );
  assert.equal(readmeBlock(next), "| a |\n| - |");
  assert.equal(replaceReadmeBlock("# none\n", "t"), null);
  assert.equal(readmeBlock("# none\n"), null);
});

Deno.test("parseTrialResults() refuses a file of another shape", () => {
  assert.throws(() => parseTrialResults('{"schema_version": 2, "rows": []}'));
  assert.throws(() => parseTrialResults('{"schema_version": 1}'));
  assert.equal(parseTrialResults(JSON.stringify(RESULTS)).rows.length, 4);
});
