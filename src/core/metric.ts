/**
 * Metric extraction (spec section 5). Deterministic and pure: given the text
 * of a trial's report (or ratchet's own wall-time measurement) it returns the
 * score, or says precisely why there is none. The model is never asked.
 *
 * Rules, in order, the first that applies decides:
 * 1. `wall`: the run command's wall time, measured by ratchet;
 * 2. `pattern` (`--metric-pattern`): first capture group of the LAST match;
 *    it replaces rules 3 and 4; compiled with flags `gm`, so `^` and `$`
 *    match at line boundaries;
 * 3. `json`: the report as one JSON document, else the last JSON line that
 *    holds the metric key (dotted path for nested keys);
 * 4. `line`: the last line matching `NAME: VALUE`, `NAME=VALUE` or
 *    `NAME VALUE`, name case-insensitive and a whole word.
 *
 * "Last" everywhere: a program that prints progress lines, or a candidate
 * that prints a forged line early on, must not beat the final value.
 */

/** Which rule produced a score. */
export type MetricRule = "wall" | "pattern" | "json" | "line";

/** The outcome of extracting the metric from one report. */
export type MetricResult =
  | {
    ok: true;
    /** The score; times are in seconds. */
    value: number;
    /** Non-time unit suffix (e.g. `MB`, `%`); null for plain numbers and times. */
    unit: string | null;
    rule: MetricRule;
  }
  | {
    ok: false;
    /** Rules that were tried, in order. */
    tried: MetricRule[];
    /** What was looked for and, where it helps, what to do instead. */
    message: string;
  };

/** What `extractMetric` needs from the run's configuration. */
export interface ExtractOptions {
  metricName: string;
  metricPattern: string | null;
  /** `wall` for `--report-source wall`, `text` for stdout, stderr or a file. */
  source: "wall" | "text";
  /** The run command's wall time in seconds; required when `source` is `wall`. */
  wallSeconds?: number;
}

/** Seconds per time unit; values carrying one of these are converted to seconds. */
export const TIME_UNITS: Readonly<Record<string, number>> = {
  ns: 1e-9,
  us: 1e-6,
  "µs": 1e-6, // U+00B5 micro sign
  "μs": 1e-6, // U+03BC greek mu, which some tools print instead
  ms: 1e-3,
  s: 1,
  sec: 1,
  secs: 1,
  second: 1,
  seconds: 1,
  m: 60,
  min: 60,
  mins: 60,
  minute: 60,
  minutes: 60,
  h: 3600,
  hr: 3600,
  hrs: 3600,
  hour: 3600,
  hours: 3600,
};

// A number in any common form: sign, thousands commas, leading or trailing
// dot, exponent; or NaN/Infinity, matched so that they make the metric
// invalid instead of letting an earlier line win. The lookahead refuses a
// number that goes on (`1.2.3`, `1,23`): better no value than a wrong one.
const NUMBER_SRC = String
  .raw`[+-]?(?:(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?!\d|[,.]\d)|(?:nan|inf(?:inity)?)(?![A-Za-z]))`;
// A unit written right after the number may be any word (`512MB`, `3x`); one
// written after a space must look like a unit (`250 ms`, `512 MB`, `1 req/s`)
// so that `score: 1 score: 2` or `score: 5 points` keep their plain numbers.
const UNIT_SRC = String.raw`%|[A-Za-zµμ]+(?:/[A-Za-z]+)?`;
const SPACED_UNIT_SRC = String
  .raw`ns|us|µs|μs|ms|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|hr|h|%|(?:[kKMGTP]i?)?B(?:/s)?|[A-Za-z]+/[A-Za-z]+`;
const VALUE_SRC = String
  .raw`(${NUMBER_SRC})(?:(${UNIT_SRC})|\s(${SPACED_UNIT_SRC}))?`;
// After a value (with or without unit) nothing word-like may follow, so
// `1m30s` or `12abc3` is not read as a number.
const VALUE_END_SRC = String.raw`(?![A-Za-z0-9_µμ%])`;

const VALUE_TEXT = new RegExp(
  String.raw`^\s*${VALUE_SRC}${VALUE_END_SRC}\s*$`,
  "i",
);

/** A parsed value: finite or not, and the unit as written. */
interface RawValue {
  value: number;
  unit: string | null;
}

function parseNumberToken(token: string): number {
  const t = token.toLowerCase();
  const sign = t.startsWith("-") ? -1 : 1;
  const body = t.replace(/^[+-]/, "");
  if (body === "nan") return NaN;
  if (body === "inf" || body === "infinity") return sign * Infinity;
  return Number(t.replaceAll(",", ""));
}

/** Combine the groups of VALUE_SRC (number, attached or spaced unit): times become seconds. */
function toRawValue(
  match: RegExpExecArray | RegExpMatchArray,
  at: number,
): RawValue {
  let value = parseNumberToken(match[at] ?? "");
  const unit = match[at + 1] ?? match[at + 2];
  if (unit === undefined || unit === "") return { value, unit: null };
  const factor = TIME_UNITS[unit];
  if (factor !== undefined) {
    value *= factor;
    return { value, unit: null };
  }
  return { value, unit };
}

/**
 * Parse a value written as text (`1,234.5`, `-1.5e3`, `12ms`, `512 MB`).
 * Times are converted to seconds. Returns null when the text is not a single
 * number with an optional unit; NaN and infinities come back as such.
 */
export function parseMetricValue(
  text: string,
): { value: number; unit: string | null } | null {
  const m = VALUE_TEXT.exec(text);
  return m === null ? null : toRawValue(m, 1);
}

/** Words that make a metric name look like a duration. */
const TIME_WORDS = new Set([
  "time",
  "times",
  "duration",
  "latency",
  "wall",
  "elapsed",
  "seconds",
  "second",
  "secs",
  "sec",
  "s",
  "ms",
  "us",
  "ns",
  "millis",
  "milliseconds",
  "runtime",
  "walltime",
  "took",
]);

/** True when a metric name looks like a duration (`build_time`, `p95LatencyMs`). */
export function isTimeLikeName(name: string): boolean {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== "");
  return words.some((w) =>
    TIME_WORDS.has(w) || w.endsWith("time") || w.endsWith("latency") ||
    w.endsWith("duration")
  );
}

/** Number of capture groups of a compiled pattern. */
function captureGroupCount(source: string): number {
  // An alternative that matches the empty string makes every group report
  // itself (as undefined) in the result, whatever the pattern is.
  const m = new RegExp(`${source}|`).exec("");
  return m === null ? 0 : m.length - 1;
}

/**
 * Check a `--metric-pattern`: null when usable, else a message naming the
 * pattern and what is wrong (invalid syntax, no capture group).
 */
export function validateMetricPattern(pattern: string): string | null {
  try {
    new RegExp(pattern, "gm");
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return `--metric-pattern ${
      JSON.stringify(pattern)
    } is not a valid regular expression (${why}); use JavaScript regex syntax, e.g. "score: ([0-9.]+)"`;
  }
  if (captureGroupCount(pattern) === 0) {
    return `--metric-pattern ${
      JSON.stringify(pattern)
    } has no capture group; put parentheses around the number, e.g. "score: ([0-9.]+)"`;
  }
  return null;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

function shorten(text: string, max = 120): string {
  const t = text.trim();
  return t.length <= max ? t : `${t.slice(0, max - 1)}…`;
}

function splitLines(report: string): string[] {
  // `\r` alone ends a line too: progress bars redraw with it.
  return report.split(/\r\n|\n|\r/);
}

type Found =
  | { kind: "value"; raw: RawValue; where: string }
  | { kind: "invalid"; why: string };

/**
 * Look `name` up in a parsed JSON value: exact dotted path, where a key may
 * itself contain dots (`{"a.b": 1}`); an exact key wins over one that only
 * matches case-insensitively, which is used only when it is unambiguous.
 */
function lookupPath(
  value: unknown,
  segments: readonly string[],
): { found: true; value: unknown } | { found: false } {
  if (segments.length === 0) return { found: true, value };
  if (typeof value !== "object" || value === null) return { found: false };
  const obj = value as Record<string, unknown>;
  for (let i = segments.length; i >= 1; i--) {
    const key = segments.slice(0, i).join(".");
    let actual: string | undefined;
    if (Object.hasOwn(obj, key)) {
      actual = key;
    } else {
      const lower = key.toLowerCase();
      const candidates = Object.keys(obj).filter((k) =>
        k.toLowerCase() === lower
      );
      if (candidates.length === 1) actual = candidates[0];
    }
    if (actual === undefined) continue;
    const inner = lookupPath(obj[actual], segments.slice(i));
    if (inner.found) return inner;
  }
  return { found: false };
}

function jsonValue(value: unknown, name: string, where: string): Found {
  if (typeof value === "number") {
    return { kind: "value", raw: { value, unit: null }, where };
  }
  if (typeof value === "string") {
    const parsed = parseMetricValue(value);
    if (parsed !== null) return { kind: "value", raw: parsed, where };
  }
  return {
    kind: "invalid",
    why: `"${name}" in ${where} is ${
      shorten(JSON.stringify(value) ?? String(value), 60)
    }, not a number`,
  };
}

function tryParseJson(text: string): { ok: true; value: unknown } | {
  ok: false;
} {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function looksLikeJson(text: string): boolean {
  return text.startsWith("{") || text.startsWith("[");
}

/** Dotted paths in `doc` whose last key is `key` (case-insensitive), for a hint. */
function pathsEndingWith(doc: unknown, key: string, limit = 3): string[] {
  const out: string[] = [];
  const want = key.toLowerCase();
  let budget = 10_000; // a huge report must not make the hint expensive
  const walk = (value: unknown, path: string[]): void => {
    if (out.length >= limit || budget-- <= 0 || path.length > 16) return;
    if (typeof value !== "object" || value === null) return;
    for (const [k, v] of Object.entries(value)) {
      const next = [...path, k];
      if (k.toLowerCase() === want && path.length > 0) out.push(next.join("."));
      walk(v, next);
    }
  };
  walk(doc, []);
  return out;
}

/**
 * Rule 3: the whole report as one JSON document, else the last JSON line
 * holding the key. A report that is one JSON document is judged by this rule
 * alone: its pretty-printed lines are not `NAME: VALUE` lines.
 */
function findInJson(report: string, name: string): Found | null {
  const segments = name.split(".");
  const trimmed = report.trim();
  if (looksLikeJson(trimmed)) {
    const doc = tryParseJson(trimmed);
    if (doc.ok) {
      const hit = lookupPath(doc.value, segments);
      if (hit.found) return jsonValue(hit.value, name, "the JSON report");
      const paths = pathsEndingWith(doc.value, segments.at(-1) ?? name);
      return {
        kind: "invalid",
        why: `metric "${name}" not found in the JSON report${
          paths.length > 0
            ? `; nested keys need their dotted path, e.g. --metric-name ${
              paths.join(" or ")
            }`
            : ""
        }${wallHint(name)}`,
      };
    }
  }
  const needle = (segments[0] ?? name).toLowerCase();
  const lines = splitLines(report);
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = (lines[i] ?? "").trim();
    if (!looksLikeJson(line)) continue;
    if (!line.toLowerCase().includes(needle)) continue;
    const parsed = tryParseJson(line);
    if (!parsed.ok) continue;
    const hit = lookupPath(parsed.value, segments);
    if (hit.found) return jsonValue(hit.value, name, `JSON line ${i + 1}`);
  }
  return null;
}

/** Rule 4: the last `NAME: VALUE` / `NAME=VALUE` / `NAME VALUE` line. */
function findInLines(report: string, name: string): Found | null {
  const re = new RegExp(
    String.raw`(?<![A-Za-z0-9_])["']?${
      escapeRegExp(name)
    }["']?(?:\s*[:=]\s*|\s+)["']?${VALUE_SRC}${VALUE_END_SRC}`,
    "gi",
  );
  const needle = name.toLowerCase();
  const lines = splitLines(report);
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] ?? "";
    if (!line.toLowerCase().includes(needle)) continue;
    let last: RegExpExecArray | undefined;
    for (const m of line.matchAll(re)) last = m;
    if (last === undefined) continue;
    // A JSON line without the key (rule 3 passed it over) is not a
    // `NAME: VALUE` line, even if a nested `"name": 1` inside it looks like one.
    const trimmed = line.trim();
    if (looksLikeJson(trimmed) && tryParseJson(trimmed).ok) continue;
    return {
      kind: "value",
      raw: toRawValue(last, 1),
      where: `line ${i + 1}: ${shorten(line)}`,
    };
  }
  return null;
}

/** Rule 2: first capture group of the last match of `--metric-pattern`. */
function findWithPattern(report: string, pattern: string): Found {
  const re = new RegExp(pattern, "gm");
  let last: RegExpExecArray | undefined;
  for (const m of report.matchAll(re)) last = m;
  const shown = JSON.stringify(pattern);
  if (last === undefined) {
    return { kind: "invalid", why: `--metric-pattern ${shown} did not match` };
  }
  const group = last[1];
  if (group === undefined) {
    return {
      kind: "invalid",
      why: `the last match of --metric-pattern ${shown} (${
        shorten(last[0], 60)
      }) has no value in its first capture group`,
    };
  }
  const raw = parseMetricValue(group);
  if (raw === null) {
    return {
      kind: "invalid",
      why: `--metric-pattern ${shown} captured ${
        JSON.stringify(shorten(group, 60))
      }, which is not a number`,
    };
  }
  return { kind: "value", raw, where: `match ${shorten(last[0], 60)}` };
}

function finish(
  found: Found,
  rule: MetricRule,
  tried: MetricRule[],
  name: string,
): MetricResult {
  if (found.kind === "invalid") {
    return { ok: false, tried, message: found.why };
  }
  if (!Number.isFinite(found.raw.value)) {
    return {
      ok: false,
      tried,
      message: `metric "${name}" is ${found.raw.value}, not a finite number (${
        ruleLabel(rule)
      }, ${found.where})`,
    };
  }
  return { ok: true, value: found.raw.value, unit: found.raw.unit, rule };
}

function ruleLabel(rule: MetricRule): string {
  switch (rule) {
    case "wall":
      return "wall time";
    case "pattern":
      return "--metric-pattern";
    case "json":
      return "JSON";
    case "line":
      return "NAME: VALUE line";
  }
}

function wallHint(name: string): string {
  return isTimeLikeName(name)
    ? `; "${name}" looks like a duration: to have ratchet time the run command itself, use --report-source wall`
    : "";
}

/**
 * Extract the metric from one trial's report by the rules of spec section 5.
 * Never throws: a missing, non-numeric, NaN or infinite value is `ok: false`
 * with a message saying which rules were tried.
 */
export function extractMetric(
  report: string,
  options: ExtractOptions,
): MetricResult {
  const name = options.metricName;
  if (options.source === "wall") {
    const wall = options.wallSeconds;
    if (wall === undefined || !Number.isFinite(wall) || wall < 0) {
      return {
        ok: false,
        tried: ["wall"],
        message: `the run command's wall time was not measured (${
          wall === undefined ? "missing" : String(wall)
        })`,
      };
    }
    return { ok: true, value: wall, unit: null, rule: "wall" };
  }

  const empty = report.trim() === "" ? " (the report is empty)" : "";
  if (options.metricPattern !== null) {
    const invalid = validateMetricPattern(options.metricPattern);
    if (invalid !== null) {
      return { ok: false, tried: ["pattern"], message: invalid };
    }
    const result = finish(
      findWithPattern(report, options.metricPattern),
      "pattern",
      ["pattern"],
      name,
    );
    return result.ok
      ? result
      : { ...result, message: result.message + empty + wallHint(name) };
  }

  const json = findInJson(report, name);
  if (json !== null) return finish(json, "json", ["json"], name);
  const line = findInLines(report, name);
  if (line !== null) return finish(line, "line", ["json", "line"], name);
  return {
    ok: false,
    tried: ["json", "line"],
    message: `metric "${name}" not found in the report${empty}; tried: ` +
      `a JSON document or JSON line with the key "${name}", ` +
      `and a line like "${name}: VALUE", "${name}=VALUE" or "${name} VALUE"` +
      wallHint(name),
  };
}
