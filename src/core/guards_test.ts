import assert from "node:assert/strict";
import {
  DEFAULT_GUARD_TOLERANCE,
  extractGuards,
  formatGuardSpec,
  type GuardSpec,
  parseGuardSpec,
} from "./guards.ts";

Deno.test("parseGuardSpec() reads NAME:max|min[:TOL]", () => {
  const ok = (text: string): GuardSpec => {
    const r = parseGuardSpec(text);
    assert.ok(r.ok, `${text}: ${r.ok ? "" : r.message}`);
    return r.guard;
  };
  assert.deepEqual(ok("accuracy:max"), {
    name: "accuracy",
    direction: "max",
    tolerance: DEFAULT_GUARD_TOLERANCE,
  });
  assert.deepEqual(ok("peak.mem_mb:min:0.1"), {
    name: "peak.mem_mb",
    direction: "min",
    tolerance: 0.1,
  });
  assert.deepEqual(ok("size:min:0"), {
    name: "size",
    direction: "min",
    tolerance: 0,
  });
  assert.equal(ok("loss:min:1").tolerance, 1);
  // A name with a colon: the direction is the last :max/:min.
  assert.equal(ok("eval:acc:max:0.05").name, "eval:acc");
  // Round trip.
  const g = ok("x:min:0.25");
  assert.deepEqual(ok(formatGuardSpec(g)), g);
});

Deno.test("parseGuardSpec() says what is wrong with a malformed spec", () => {
  const bad = (text: string, re: RegExp) => {
    const r = parseGuardSpec(text);
    assert.ok(!r.ok, text);
    assert.match(r.message, re, text);
    assert.ok(r.message.includes(JSON.stringify(text)), r.message);
  };
  bad("accuracy", /NAME:max\|min\[:TOL\]/);
  bad("accuracy:up", /":max" \(higher is better\) or ":min"/);
  bad("accuracy:max:fast", /not a number/);
  bad("accuracy:max:", /not a number/);
  bad(":max", /no guard name/);
  bad("accuracy:max:-0.01", /outside 0 to 1/);
  bad("accuracy:max:1.5", /outside 0 to 1/);
});

Deno.test("extractGuards() reads guards by the metric's rules", () => {
  const guards: GuardSpec[] = [
    { name: "accuracy", direction: "max", tolerance: 0.02 },
    { name: "mem.peak", direction: "min", tolerance: 0.1 },
  ];
  const json = extractGuards(
    ['{"time": 1.5, "accuracy": 0.91, "mem": {"peak": 512}}'],
    guards,
  );
  assert.deepEqual(json.values, { accuracy: 0.91, "mem.peak": 512 });
  assert.deepEqual(json.rules, { accuracy: "json", "mem.peak": "json" });
  assert.equal(json.missing, null);
  // The last NAME: VALUE line wins; units are kept, times become seconds.
  const lines = extractGuards(
    ["accuracy: 0.5\nlatency: 250ms\naccuracy=0.93\n"],
    [guards[0]!, { name: "latency", direction: "min", tolerance: 0 }],
  );
  assert.deepEqual(lines.values, { accuracy: 0.93, latency: 0.25 });
  const mb = extractGuards(["rss: 120 MB"], [{
    name: "rss",
    direction: "min",
    tolerance: 0,
  }]);
  assert.deepEqual([mb.values.rss, mb.units.rss], [120, "MB"]);
});

Deno.test("extractGuards() takes each guard from the first text that holds it", () => {
  const g: GuardSpec[] = [
    { name: "a", direction: "max", tolerance: 0 },
    { name: "b", direction: "max", tolerance: 0 },
  ];
  const r = extractGuards(["a: 1\nb: 2", "a: 9\nb: 8"], g);
  assert.deepEqual(r.values, { a: 1, b: 2 });
  const split = extractGuards(["a: 1", "b: 8"], g);
  assert.deepEqual(split.values, { a: 1, b: 8 });
});

Deno.test("extractGuards() names the first missing guard and the rules tried", () => {
  const g: GuardSpec[] = [
    { name: "speed", direction: "max", tolerance: 0 },
    { name: "accuracy", direction: "max", tolerance: 0 },
    { name: "recall", direction: "max", tolerance: 0 },
  ];
  const r = extractGuards(["speed: 3\n"], g);
  assert.deepEqual(r.values, { speed: 3, accuracy: null, recall: null });
  assert.ok(r.missing !== null);
  assert.equal(r.missing.name, "accuracy");
  assert.deepEqual(r.missing.tried, ["json", "line"]);
  assert.match(
    r.missing.message,
    /^guard "accuracy": metric "accuracy" not found/,
  );
  assert.match(r.missing.message, /"accuracy: VALUE"/);
  // NaN is not a value.
  const nan = extractGuards(["speed: NaN"], [g[0]!]);
  assert.equal(nan.values.speed, null);
  assert.match(nan.missing!.message, /not a finite number/);
  // No text at all.
  assert.match(
    extractGuards([], [g[0]!]).missing!.message,
    /no report to read it from/,
  );
});

Deno.test("extractGuards() refuses a unit other than the baseline's", () => {
  const g: GuardSpec[] = [{ name: "rss", direction: "min", tolerance: 0 }];
  assert.equal(
    extractGuards(["rss: 1.2 GB"], g, { expectedUnits: { rss: "GB" } }).missing,
    null,
  );
  const r = extractGuards(["rss: 1200 MB"], g, {
    expectedUnits: { rss: "GB" },
  });
  assert.equal(r.values.rss, null);
  assert.match(
    r.missing!.message,
    /unit "MB" differs from the baseline's "GB"/,
  );
});
