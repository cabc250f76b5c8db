import assert from "node:assert/strict";
import {
  extractMetric,
  isTimeLikeName,
  type MetricRule,
  parseMetricValue,
  validateMetricPattern,
} from "./metric.ts";

interface Row {
  name: string;
  report: string;
  metric?: string;
  pattern?: string;
  /** Expected value, or null when extraction must fail. */
  value: number | null;
  unit?: string | null;
  rule?: MetricRule;
}

const rows: Row[] = [
  // Line rule: the three separators, case, whole word.
  { name: "colon", report: "score: 0.93\n", value: 0.93, rule: "line" },
  { name: "equals", report: "score=42", value: 42, rule: "line" },
  { name: "space", report: "score 7", value: 7, rule: "line" },
  { name: "spaced equals", report: "score = 7.5", value: 7.5, rule: "line" },
  { name: "case-insensitive name", report: "SCORE: 3", value: 3 },
  { name: "name mid-line", report: "done; score: 12 (best)", value: 12 },
  {
    name: "name must be a whole word (suffix)",
    report: "test_score: 5\nscore: 1",
    value: 1,
  },
  { name: "name must be a whole word only", report: "scores: 5", value: null },
  { name: "prefix word is not the name", report: "myscore: 5", value: null },
  { name: "quoted name (YAML/JSON-ish)", report: `  "score": 8,`, value: 8 },
  {
    name: "dotted name",
    metric: "eval.acc",
    report: "eval.acc=0.5",
    value: 0.5,
  },
  // Last match wins; earlier forged lines do not.
  {
    name: "last line wins",
    report: "score: 1\nscore: 2\nscore: 3\n",
    value: 3,
  },
  {
    name: "forged early line does not win",
    report: "score: 999999\nrunning...\nscore: 0.5\nbye\n",
    value: 0.5,
  },
  { name: "last match within a line", report: "score: 1 score: 2", value: 2 },
  {
    name: "NaN on the last line is not ok, even after a good line",
    report: "score: 5\nscore: NaN",
    value: null,
  },
  { name: "infinity is not ok", report: "score: inf", value: null },
  { name: "-Infinity is not ok", report: "score=-Infinity", value: null },
  {
    name: "carriage-return progress",
    report: "score: 1\rscore: 2\r",
    value: 2,
  },
  // Number forms.
  { name: "negative exponent form", report: "score: -1.5e3", value: -1500 },
  { name: "thousands commas", report: "score: 1,234.5", value: 1234.5 },
  { name: "millions commas", report: "score: 12,345,678", value: 12345678 },
  { name: "leading plus", report: "score: +3", value: 3 },
  { name: "leading dot", report: "score: .5", value: 0.5 },
  { name: "trailing dot at sentence end", report: "score: 5.", value: 5 },
  { name: "capital exponent", report: "score: 2E-3", value: 0.002 },
  { name: "decimal comma refused", report: "score: 1,23", value: null },
  { name: "version-like refused", report: "score 1.2.3", value: null },
  { name: "word after number refused", report: "score: 12abc3", value: null },
  {
    name: "list after number",
    report: "score: 1, loss: 2",
    value: 1,
  },
  { name: "no number", report: "score: high", value: null },
  { name: "empty report", report: "", value: null },
  // Units.
  { name: "ms to seconds", report: "time: 250ms", metric: "time", value: 0.25 },
  { name: "spaced ms", report: "time: 250 ms", metric: "time", value: 0.25 },
  { name: "ns", report: "lat=1500ns", metric: "lat", value: 1.5e-6 },
  { name: "us", report: "lat=3us", metric: "lat", value: 3e-6 },
  { name: "micro sign", report: "lat=3µs", metric: "lat", value: 3e-6 },
  { name: "greek mu", report: "lat=3μs", metric: "lat", value: 3e-6 },
  { name: "seconds", report: "t 2.5s", metric: "t", value: 2.5 },
  { name: "m is minutes", report: "t: 2m", metric: "t", value: 120 },
  { name: "min", report: "t: 1.5min", metric: "t", value: 90 },
  { name: "h", report: "t: 2h", metric: "t", value: 7200 },
  {
    name: "compound duration refused",
    report: "t: 1m30s",
    metric: "t",
    value: null,
  },
  {
    name: "MB kept as unit",
    report: "mem: 512MB",
    metric: "mem",
    value: 512,
    unit: "MB",
  },
  {
    name: "spaced MB",
    report: "mem: 512 MB",
    metric: "mem",
    value: 512,
    unit: "MB",
  },
  {
    name: "percent",
    report: "acc: 93.5%",
    metric: "acc",
    value: 93.5,
    unit: "%",
  },
  {
    name: "rate unit",
    report: "tput: 1,200 req/s",
    metric: "tput",
    value: 1200,
    unit: "req/s",
  },
  {
    name: "spaced word is not a unit",
    report: "score: 5 points",
    value: 5,
    unit: null,
  },
  // JSON.
  {
    name: "JSON document",
    report: `{"score": 0.75}`,
    value: 0.75,
    rule: "json",
  },
  {
    name: "pretty JSON document, nested dotted path",
    metric: "metrics.eval.acc",
    report: JSON.stringify({ metrics: { eval: { acc: 0.81 } } }, null, 2),
    value: 0.81,
    rule: "json",
  },
  {
    name: "JSON numeric string",
    report: `{"score": "1,234"}`,
    value: 1234,
    rule: "json",
  },
  {
    name: "JSON string with time unit",
    metric: "t",
    report: `{"t": "15ms"}`,
    value: 0.015,
  },
  {
    name: "JSON key containing a dot",
    metric: "a.b",
    report: `{"a.b": 4}`,
    value: 4,
  },
  {
    name: "JSON array index in path",
    metric: "runs.1.s",
    report: `{"runs":[{"s":1},{"s":2}]}`,
    value: 2,
  },
  {
    name: "last JSON line among logs",
    report: [
      "starting",
      `{"score": 1, "step": 1}`,
      "INFO working",
      `{"score": 2, "step": 2}`,
      `{"event": "done"}`,
      "bye",
    ].join("\n"),
    value: 2,
    rule: "json",
  },
  {
    name: "JSON line beats an earlier or later text line",
    report: `score: 100\n{"score": 3}\nscore: 200`,
    value: 3,
    rule: "json",
  },
  {
    name: "JSON null value is not ok",
    report: `{"score": 1}\n{"score": null}`,
    value: null,
  },
  { name: "JSON boolean is not ok", report: `{"score": true}`, value: null },
  {
    name: "JSON key case-insensitive fallback",
    report: `{"Score": 6}`,
    value: 6,
  },
  {
    name: "JSON without the key falls back to lines",
    report: `{"other": 1}\nscore: 9`,
    value: 9,
    rule: "line",
  },
  {
    name: "nested key is not found without its path",
    metric: "acc",
    report: `{"metrics": {"acc": 1}}`,
    value: null,
  },
  {
    name: "nested key inside a JSON log line is not a text line",
    report: `score: 2\n{"m": {"score": 1}}`,
    value: 2,
    rule: "line",
  },
  // Pattern.
  {
    name: "pattern last match",
    pattern: "acc=([0-9.]+)",
    report: "acc=1\nacc=2\n",
    value: 2,
    rule: "pattern",
  },
  {
    name: "pattern replaces built-in rules",
    pattern: "RESULT (\\d+)",
    report: `{"score": 1}\nscore: 2\nRESULT 3`,
    value: 3,
    rule: "pattern",
  },
  {
    name: "pattern that does not match",
    pattern: "acc=(\\d+)",
    report: "score: 1",
    value: null,
  },
  {
    name: "pattern capture with unit",
    pattern: "took (\\S+)",
    report: "took 20ms",
    value: 0.02,
  },
  {
    name: "pattern capture not a number",
    pattern: "acc=(\\w+)",
    report: "acc=abc",
    value: null,
  },
  {
    name: "pattern unmatched optional group",
    pattern: "acc(?:=(\\d+))?",
    report: "acc=1\nacc",
    value: null,
  },
  {
    name: "pattern multiline anchors",
    pattern: "^s: (\\d+)$",
    report: "s: 1\nx s: 5\ns: 2\n",
    value: 2,
  },
];

for (const row of rows) {
  Deno.test(`extractMetric() table: ${row.name}`, () => {
    const result = extractMetric(row.report, {
      metricName: row.metric ?? "score",
      metricPattern: row.pattern ?? null,
      source: "text",
    });
    if (row.value === null) {
      assert.equal(result.ok, false, JSON.stringify(result));
      return;
    }
    assert.ok(result.ok, JSON.stringify(result));
    assert.ok(
      Math.abs(result.value - row.value) <=
        1e-12 * Math.max(1, Math.abs(row.value)),
      `got ${result.value}, want ${row.value}`,
    );
    assert.equal(result.unit, row.unit ?? null);
    if (row.rule !== undefined) assert.equal(result.rule, row.rule);
  });
}

Deno.test("extractMetric() returns the wall time under --report-source wall", () => {
  const result = extractMetric("score: 5", {
    metricName: "score",
    metricPattern: null,
    source: "wall",
    wallSeconds: 1.25,
  });
  assert.deepEqual(result, { ok: true, value: 1.25, unit: null, rule: "wall" });
});

Deno.test("extractMetric() fails when the wall time is missing", () => {
  const result = extractMetric("", {
    metricName: "score",
    metricPattern: null,
    source: "wall",
  });
  assert.equal(result.ok, false);
  assert.ok(!result.ok && result.tried.includes("wall"));
});

Deno.test("extractMetric() says which rules were tried when nothing matches", () => {
  const result = extractMetric("hello\n", {
    metricName: "accuracy",
    metricPattern: null,
    source: "text",
  });
  assert.ok(!result.ok);
  assert.deepEqual(result.tried, ["json", "line"]);
  assert.match(result.message, /"accuracy"/);
  assert.match(result.message, /JSON/);
  assert.match(result.message, /accuracy: VALUE/);
  assert.doesNotMatch(result.message, /report-source wall/);
});

Deno.test("extractMetric() suggests --report-source wall for a time-like metric", () => {
  for (const name of ["build_time", "duration", "p95LatencyMs", "elapsed"]) {
    const result = extractMetric("nothing", {
      metricName: name,
      metricPattern: null,
      source: "text",
    });
    assert.ok(!result.ok);
    assert.match(result.message, /--report-source wall/, name);
  }
});

Deno.test("extractMetric() reports an invalid pattern instead of throwing", () => {
  const result = extractMetric("x", {
    metricName: "score",
    metricPattern: "(unclosed",
    source: "text",
  });
  assert.ok(!result.ok);
  assert.deepEqual(result.tried, ["pattern"]);
  assert.match(result.message, /not a valid regular expression/);
});

Deno.test("extractMetric() names the NaN value and where it was found", () => {
  const result = extractMetric("a\nscore: nan\n", {
    metricName: "score",
    metricPattern: null,
    source: "text",
  });
  assert.ok(!result.ok);
  assert.match(result.message, /NaN/);
  assert.match(result.message, /line 2/);
});

Deno.test("extractMetric() hints at the dotted path of a nested JSON key", () => {
  const result = extractMetric(`{"results": {"eval": {"acc": 0.5}}}`, {
    metricName: "acc",
    metricPattern: null,
    source: "text",
  });
  assert.ok(!result.ok);
  assert.deepEqual(result.tried, ["json"]);
  assert.match(result.message, /results\.eval\.acc/);
});

Deno.test("validateMetricPattern() accepts a pattern with a capture group", () => {
  assert.equal(validateMetricPattern("score: ([0-9.]+)"), null);
  assert.equal(validateMetricPattern("(?<v>\\d+)"), null);
});

Deno.test("validateMetricPattern() rejects invalid syntax and missing groups", () => {
  assert.match(
    validateMetricPattern("([0-9]") ?? "",
    /not a valid regular expression/,
  );
  assert.match(validateMetricPattern("score: \\d+") ?? "", /no capture group/);
  assert.match(validateMetricPattern("(?:\\d+)") ?? "", /no capture group/);
  assert.match(validateMetricPattern("score: \\d+") ?? "", /"score: \\\\d\+"/);
});

Deno.test("parseMetricValue() converts ms to seconds and keeps other units", () => {
  assert.deepEqual(parseMetricValue("1,500 ms"), { value: 1.5, unit: null });
  assert.deepEqual(parseMetricValue("3.5GiB"), { value: 3.5, unit: "GiB" });
  assert.equal(parseMetricValue("fast"), null);
  assert.equal(parseMetricValue("5 apples"), null);
  assert.ok(Number.isNaN(parseMetricValue("NaN")?.value));
});

Deno.test("isTimeLikeName() recognises durations and not scores", () => {
  for (
    const n of [
      "time",
      "wall_s",
      "runtime",
      "latency_p95",
      "elapsedMs",
      "duration",
    ]
  ) {
    assert.equal(isTimeLikeName(n), true, n);
  }
  for (const n of ["score", "accuracy", "binary_size", "mismatch"]) {
    assert.equal(isTimeLikeName(n), false, n);
  }
});
