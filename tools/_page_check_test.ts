/**
 * The docs check ignores timings and versions and nothing else: two pages
 * rendered (and laid out by `deno fmt`) from runs that differ only in those
 * compare equal; any other change is reported with its line.
 */
import assert from "node:assert/strict";
import {
  comparePages,
  formatDifferences,
  normalizePage,
} from "./_page_check.ts";
import { formatMarkdown } from "./_markdown.ts";
import { render } from "./reliability_report.ts";
import type { ScenarioResult } from "../tests/reliability/harness.ts";
import type { Summary } from "../tests/reliability/summary.ts";

function scenario(
  id: string,
  options: {
    seconds: number;
    timed?: boolean;
    recovery?: string;
    ok?: boolean;
  },
): ScenarioResult {
  const recovery = options.recovery ?? "resume";
  const steps = recovery === "run"
    ? [
      { label: "run", args: [], code: 137, seconds: 1, stderrTail: "" },
      { label: "resume", args: [], code: 3, seconds: 1, stderrTail: "" },
      { label: "run", args: [], code: 0, seconds: 1, stderrTail: "" },
    ]
    : [
      { label: "run", args: [], code: 137, seconds: 1, stderrTail: "" },
      { label: "resume", args: [], code: 0, seconds: 1, stderrTail: "" },
    ];
  const checks = [
    {
      name: "iter dense from 0, no duplicate",
      stage: "final",
      ok: true,
      detail: "",
    },
    {
      name: recovery === "run"
        ? "a new run finishes (exit 0)"
        : "resume finishes (exit 0)",
      stage: "recovery",
      ok: options.ok ?? true,
      detail: options.ok === false ? "exit 4" : "",
    },
  ];
  return {
    id,
    group: "crash",
    title: `scenario ${id}`,
    fault: `SIGKILL at ${id}`,
    recovery,
    steps,
    checks,
    ok: options.ok ?? true,
    seconds: options.seconds,
    error: null,
    ...(options.timed ? { timed: true } : {}),
  };
}

function summary(
  options: {
    seconds: number[];
    finishedAt: string;
    deno: string;
    docker: string;
    cpus: string;
    randomRecovery: string;
    failing?: string;
  },
): Summary {
  const ids = ["loop.committed", "loop.recorded", "run.stop-recorded"];
  return {
    schema_version: 1,
    environment: {
      deno: options.deno,
      os: "linux x86_64",
      cpus: options.cpus,
      docker: options.docker,
    },
    groups: {
      crash: {
        title: "SIGKILL at each write point, then resume",
        about:
          "A paragraph long enough to be wrapped by deno fmt at eighty columns, so that a longer number in it moves the line breaks of the paragraph.",
        test: "tests/e2e/reliability_crash_test.ts",
        finished_at: options.finishedAt,
        seconds: options.seconds[0]!,
        scenarios: ids.map((id, i) =>
          scenario(id, {
            seconds: options.seconds[i + 1]!,
            ...(options.failing === id ? { ok: false } : {}),
          })
        ),
      },
      random: {
        title: "kill -9 at random moments",
        about: "Timed kills.",
        test: "tests/e2e/reliability_crash_test.ts",
        finished_at: options.finishedAt,
        seconds: options.seconds[0]!,
        scenarios: [
          scenario("after 713 ms", {
            seconds: 9,
            timed: true,
            recovery: options.randomRecovery,
          }),
        ],
      },
    },
  };
}

const RUN_A = {
  seconds: [12, 9, 9.1, 7.5],
  finishedAt: "2026-11-28T14:27:00.000Z",
  deno: "2.9.6",
  docker: "20.10.24+dfsg1",
  cpus: "2",
  randomRecovery: "run",
};

const page = async (s: Summary) => await formatMarkdown(render(s, null));

Deno.test("comparePages() ignores timings, dates, versions and what a timed kill decided", async () => {
  const a = await page(summary(RUN_A));
  const b = await page(summary({
    seconds: [1234.5, 10.25, 11, 100.75],
    finishedAt: "2027-01-02T03:04:05.000Z",
    deno: "2.10.0",
    docker: "27.3.1",
    cpus: "16",
    randomRecovery: "resume",
  }));
  assert.notEqual(a, b);
  assert.deepEqual(comparePages(a, b), []);
});

Deno.test("comparePages() reports a check that no longer holds, with the committed page's lines", async () => {
  const a = await page(summary(RUN_A));
  const b = await page(summary({ ...RUN_A, failing: "loop.recorded" }));
  const differences = comparePages(a, b);
  assert.ok(differences.length > 0);
  const lines = a.split("\n");
  for (const d of differences.filter((d) => d.kind === "committed")) {
    // The line number points at the committed file.
    assert.ok(lines[d.line - 1]!.length > 0, `line ${d.line}`);
  }
  const text = formatDifferences("docs/reliability.md", differences);
  assert.match(
    text,
    /^- docs\/reliability\.md:\d+ \(committed\) \*\*4 of 4 scenarios held\*\*/m,
  );
  assert.match(text, /^\+ regenerated:\d+ \*\*3 of 4 scenarios held\*\*/m);
  assert.match(
    text,
    /^\+ regenerated:\d+ \| scenario loop\.recorded \| .* \| ❌ 1\/2 \| <t> \|$/m,
  );
  assert.match(text, /^\+ regenerated:\d+ What did not hold:$/m);
});

Deno.test("comparePages() reports a scenario added or removed, and a changed count", async () => {
  const a = await page(summary(RUN_A));
  const s = summary(RUN_A);
  s.groups.crash!.scenarios.pop();
  const differences = comparePages(a, await page(s));
  const committed = differences.filter((d) => d.kind === "committed");
  assert.ok(
    committed.some((d) => d.text.includes("scenario run.stop-recorded")),
  );
  assert.ok(
    committed.some((d) => /\*\*4 of 4 scenarios held\*\*/.test(d.text)),
  );
});

Deno.test("normalizePage() joins wrapped paragraphs, trims table cells and masks timings", () => {
  const lines = normalizePage(
    [
      "Some text that was",
      "wrapped, in 12.5 s on deno 2.9.6, cpus 2.",
      "",
      "| a   | s   |",
      "| --- | --- |",
      "| x \\| y | 9.1 |",
      "",
      "- item 2026-11-28 14:27 UTC",
    ].join("\n"),
  );
  assert.deepEqual(lines, [
    {
      line: 1,
      text: "Some text that was wrapped, in <t> s on deno <version>, cpus <n>.",
    },
    { line: 4, text: "| a | s |" },
    { line: 6, text: "| x \\| y | <t> |" },
    { line: 8, text: "- item <time>" },
  ]);
});

Deno.test("comparePages() ignores a value marked † in prose and in a table cell", () => {
  const a =
    "lowest free 497† MiB, 2† of 2000 reads\n\n| a | b |\n|---|---|\n| x | 2† of 2000 |\n";
  const b =
    "lowest free 420† MiB, 0† of 2000 reads\n\n| a | b |\n|---|---|\n| x | 0† of 2000 |\n";
  assert.deepEqual(comparePages(a, b), []);
  const c =
    "lowest free 420† MiB, 0† of 3000 reads\n\n| a | b |\n|---|---|\n| x | 0† of 2000 |\n";
  assert.equal(comparePages(a, c).length, 2);
  // Only the marked number, not the rest of the cell.
  const d = a.replace("| x | 2† of 2000 |", "| x | 2† of 3000 |");
  assert.equal(comparePages(a, d).length, 2);
  // A cell ending in " †" is timed as a whole.
  const e = "| a |\n|---|\n| `run` → 137, `resume` → 0 † |\n";
  const f = "| a |\n|---|\n| `run` → 137, `resume` → 3, `run` → 0 † |\n";
  assert.deepEqual(comparePages(e, f), []);
});

Deno.test("comparePages() ignores run ids (made from the date) and nothing else around them", () => {
  const a =
    "apply said: Nothing to apply: run 20261203-144411-4c8b kept no change\n";
  const b =
    "apply said: Nothing to apply: run 20261203-153617-c568 kept no change\n";
  assert.deepEqual(comparePages(a, b), []);
  const c =
    "apply said: Nothing to apply: run 20261203-153617-c568 kept 1 change\n";
  assert.equal(comparePages(a, c).length, 2);
});
