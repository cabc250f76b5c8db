import assert from "node:assert/strict";
import {
  formatTrialReport,
  outputTail,
  parseTrialReport,
  type ReportMeta,
  tailOf,
  type TrialResult,
} from "./trial_report.ts";

function result(overrides: Partial<TrialResult> = {}): TrialResult {
  return {
    outcome: "ok",
    score: 1.5,
    unit: "MB",
    rule: "line",
    exitCode: 0,
    wallSeconds: 0.25,
    stdout: "hello\nscore: 1.5 MB\n",
    stderr: "warn\n",
    stdoutTruncated: false,
    stderrTruncated: true,
    timedOut: false,
    oomKilled: false,
    reportText: null,
    detail: "",
    containerId: "abc123",
    guards: {},
    guardUnits: {},
    ...overrides,
  };
}

const META: ReportMeta = {
  runId: "r1",
  iter: 3,
  trial: 2,
  side: "candidate",
  reportSource: "out/r.txt",
  clock: "ns",
  setupOutput: "installed\n",
};

Deno.test("formatTrialReport() writes exit code, outcome, wall time, report and both streams", () => {
  const text = formatTrialReport(
    result({ reportText: "score: 1.5 MB\n" }),
    META,
  );
  assert.match(text, /iteration 3, trial 2 \(candidate\)/);
  assert.match(text, /outcome: +ok/);
  assert.match(text, /score: +1\.5 MB \(rule: line\)/);
  assert.match(text, /exit code: +0/);
  assert.match(text, /container: +abc123/);
  assert.doesNotMatch(text, /guards:/);
  assert.doesNotMatch(text, /detail:/);
  assert.match(text, /wall time: +0\.250000 s \(clock: date/);
  assert.match(text, /===== setup command output =====\ninstalled\n/);
  assert.match(text, /===== report \(out\/r\.txt\) =====\nscore: 1\.5 MB\n/);
  assert.match(
    text,
    /===== stdout \(20 bytes\) =====\nhello\nscore: 1\.5 MB\n/,
  );
  assert.match(
    text,
    /===== stderr \(5 bytes, truncated at 10 MiB\) =====\nwarn\n/,
  );
  const crashed = formatTrialReport(
    result({
      outcome: "crashed",
      exitCode: 2,
      detail: "exited 2",
      score: null,
    }),
    {
      ...META,
      iter: 0,
      side: "incumbent",
      reportSource: "stdout",
      clock: null,
      setupOutput: null,
    },
  );
  assert.match(crashed, /detail: +exited 2/);
  assert.match(crashed, /report source: stdout/);
  assert.match(crashed, /score: +— MB/);
  assert.doesNotMatch(crashed, /setup command output/);
});

Deno.test("formatTrialReport() writes the guards line and names the end-of-run confirmation", () => {
  const text = formatTrialReport(
    result({
      guards: { accuracy: 0.93, rss: null, size: 12 },
      guardUnits: { accuracy: null, rss: null, size: "KB" },
    }),
    { ...META, iter: -1, side: "baseline", clock: null },
  );
  assert.match(text, /\nguards: +accuracy=0\.93, rss=—, size=12 KB\n/);
  assert.match(text, /run r1, end-of-run confirmation, trial 2 \(baseline\)/);
  // A clock ratchet does not know is shown by its name.
  assert.match(
    formatTrialReport(result(), { ...META, clock: "zz" }),
    /\(clock: zz\)/,
  );
  assert.match(
    formatTrialReport(result({ wallSeconds: null }), META),
    /wall time: +— \(clock/,
  );
});

Deno.test("formatTrialReport() counts stream sizes in bytes, not characters", () => {
  const text = formatTrialReport(
    result({ stdout: "µs ✓", stderr: "" }),
    META,
  );
  assert.match(text, /===== stdout \(7 bytes\) =====\nµs ✓\n/);
  assert.match(text, /===== stderr \(0 bytes, truncated at 10 MiB\) =====\n$/);
});

Deno.test("parseTrialReport() reads back side, outcome and both streams of formatTrialReport()", () => {
  const text = formatTrialReport(
    result({
      outcome: "crashed",
      exitCode: 1,
      score: null,
      // A stream that prints a section line of its own.
      stdout: "line 1\n===== stderr (9 bytes) =====\nstill stdout",
      stderr: "Traceback: boom\n",
    }),
    {
      ...META,
      iter: 4,
      trial: 3,
      reportSource: "stdout",
      setupOutput: "setup\n===== stderr (1 bytes) =====\n",
    },
  );
  assert.deepEqual(parseTrialReport(text), {
    side: "candidate",
    outcome: "crashed",
    stdout: "line 1\n===== stderr (9 bytes) =====\nstill stdout\n",
    stderr: "Traceback: boom\n",
  });
  assert.equal(parseTrialReport("not a report"), null);
});

Deno.test("outputTail() labels the tail of each stream; tailOf() keeps the last lines and characters", () => {
  const long = Array.from({ length: 100 }, (_, i) => `line ${i}`).join("\n");
  const tail = outputTail(long, "");
  assert.match(tail, /^--- stdout \(tail\) ---\nline 60\n/);
  assert.match(tail, /line 99$/);
  assert.doesNotMatch(tail, /line 59\n|stderr/);
  assert.equal(
    outputTail("out\n", "err\n"),
    "--- stdout (tail) ---\nout\n--- stderr (tail) ---\nerr",
  );
  assert.equal(outputTail("", " "), "(no output)");
  const cut = tailOf("x".repeat(5000), 40, 100);
  assert.equal(cut, "…" + "x".repeat(100));
  assert.equal(tailOf("a\nb\nc\n\n", 2), "b\nc");
});
