/**
 * `deno task bench:decision`: simulate the `stat` and `mean` decision rules
 * under several noise models and print the comparison as markdown.
 *
 * With `--write-readme`, also replace the section of README.md between
 * `<!-- decision-bench:start -->` and `<!-- decision-bench:end -->` (a test
 * fails when that copy differs from what this prints). With `--write-docs`,
 * rewrite the generated sections of docs/decisions.md (bench/_decisions_doc.ts;
 * a test fails when they are stale). The numbers are deterministic: the
 * simulations are seeded.
 *
 * Usage: deno task bench:decision [--write-readme] [--write-docs]
 */
import { parseArgs } from "node:util";
import { renderDecisionTable, replaceReadmeSection } from "./_decision_sim.ts";
import {
  guardsSection,
  renderDocSections,
  replaceDocSections,
} from "./_decisions_doc.ts";

function write(stream: { writeSync(p: Uint8Array): number }, s: string) {
  const bytes = new TextEncoder().encode(s + "\n");
  let off = 0;
  while (off < bytes.length) off += stream.writeSync(bytes.subarray(off));
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    "write-readme": { type: "boolean", default: false },
    "write-docs": { type: "boolean", default: false },
  },
});

const started = performance.now();
const table = renderDecisionTable();
write(Deno.stdout, table);
// Guards: false keeps when a guard truly regresses by twice its tolerance,
// and the trials guards add (also in docs/decisions.md).
write(Deno.stdout, "\n## Guards\n\n" + guardsSection());
write(
  Deno.stderr,
  `\nsimulated in ${((performance.now() - started) / 1000).toFixed(1)} s`,
);

if (values["write-readme"]) {
  const path = new URL("../README.md", import.meta.url);
  let readme: string;
  try {
    readme = await Deno.readTextFile(path);
  } catch (error) {
    write(Deno.stderr, `Cannot read README.md: ${error}`);
    Deno.exit(1);
  }
  const next = replaceReadmeSection(readme, table);
  if (next === null) {
    write(
      Deno.stderr,
      "README.md has no <!-- decision-bench:start --> … <!-- decision-bench:end --> " +
        "markers; add them where the table belongs and run again.",
    );
    Deno.exit(1);
  }
  await Deno.writeTextFile(path, next);
  write(Deno.stderr, "README.md: decision-bench section updated");
}

if (values["write-docs"]) {
  const path = new URL("../docs/decisions.md", import.meta.url);
  const doc = await Deno.readTextFile(path);
  const docStarted = performance.now();
  const next = replaceDocSections(doc, renderDocSections());
  await Deno.writeTextFile(path, next);
  write(
    Deno.stderr,
    `docs/decisions.md: generated sections updated (${
      ((performance.now() - docStarted) / 1000).toFixed(1)
    } s)`,
  );
}
