import assert from "node:assert/strict";
import { validateValues } from "./schema.ts";
import { DEFAULTS } from "./defaults.ts";
import { ConfigError } from "../errors.ts";

const invalidValues: [string, unknown, RegExp][] = [
  ["trials", 0, /whole number from 1/],
  ["trials", -3, /whole number/],
  ["trials", 2.5, /whole number/],
  ["trials", "3", /whole number/],
  ["iterations", -1, /whole number/],
  ["direction", "up", /"max", "min"/],
  ["decision", "vote", /"stat", "mean"/],
  ["confidence", 1, /strictly between 0 and 1/],
  ["confidence", 0, /strictly between 0 and 1/],
  ["min-effect", -0.1, /number/],
  ["max-trials", 0, /whole number/],
  ["max-cost-usd", -1, /number of at least 0/],
  ["memory", "lots", /size/],
  ["shm-size", "none", /size/],
  ["network", "host", /"none", "bridge"/],
  ["critic", "yes", /true or false/],
  ["harness", "tests", /list of strings/],
  ["mount", ["/a"], /SRC:DST/],
  ["pids-limit", 1, /whole number from 16/],
  ["cpus", 0, /number from 0.01/],
  ["threshold", "high", /a number/],
  ["trial-timeout-seconds", 0, /number/],
];

for (const [key, value, allowed] of invalidValues) {
  Deno.test(`validateValues() names "${key}" = ${JSON.stringify(value)} and what is allowed`, () => {
    assert.throws(
      () => validateValues({ [key]: value }, "ratchet.jsonc"),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.exitCode, 2);
        assert.equal(error.key, key);
        assert.match(error.message, new RegExp(`"${key}" in ratchet\\.jsonc`));
        assert.match(error.message, /: /);
        assert.match(error.hint ?? "", allowed);
        return true;
      },
    );
  });
}

Deno.test("validateValues() rejects unknown keys with a suggestion", () => {
  assert.throws(
    () => validateValues({ "max-trails": 3 }, "ratchet.jsonc"),
    (e: unknown) =>
      e instanceof ConfigError && /Unknown key "max-trails"/.test(e.message) &&
      /max-trials/.test(e.hint ?? ""),
  );
});

Deno.test("validateValues() refuses an API key in configuration", () => {
  assert.throws(
    () => validateValues({ "anthropic-api-key": "sk-x" }, "ratchet.jsonc"),
    (e: unknown) =>
      e instanceof ConfigError && /API key/.test(e.message) &&
      /ANTHROPIC_API_KEY/.test(e.hint ?? ""),
  );
});

Deno.test("validateValues() converts sizes, mounts and none", () => {
  const v = validateValues(
    { memory: "none", "shm-size": "256m", mount: ["/d:/data:ro"] },
    "x",
  );
  assert.equal(v.memory, null);
  assert.equal(v.shmSize, 256 * 1024 ** 2);
  assert.deepEqual(v.mount, [{
    source: "/d",
    target: "/data",
    readOnly: true,
  }]);
});

Deno.test("validateValues() reads guards from flags and files, with the default tolerance", () => {
  const v = validateValues(
    { guard: ["accuracy:max", "rss_mb:min:0.05"] },
    "ratchet.jsonc",
  );
  assert.deepEqual(v.guard, [
    { name: "accuracy", direction: "max", tolerance: 0.02 },
    { name: "rss_mb", direction: "min", tolerance: 0.05 },
  ]);
  assert.deepEqual(DEFAULTS.guard, []);
});

for (
  const [origin, value, re] of [
    [
      "flags",
      ["accuracy"],
      /^Invalid value for --guard: "accuracy" is not NAME:max\|min\[:TOL\]/,
    ],
    [
      "flags",
      ["accuracy:max:2"],
      /--guard: "accuracy:max:2": the tolerance 2 is outside 0 to 1/,
    ],
    ["flags", ["accuracy:max:-0.1"], /outside 0 to 1/],
    [
      "ratchet.jsonc",
      ["acc:sideways"],
      /^Invalid value for "guard" in ratchet.jsonc: "acc:sideways"/,
    ],
    [
      "ratchet.jsonc",
      "acc:max",
      /^Invalid value for "guard" in ratchet.jsonc: "acc:max"/,
    ],
  ] as const
) {
  Deno.test(`validateValues() refuses guard ${JSON.stringify(value)} from ${origin} (exit 2)`, () => {
    const error = assert.throws(
      () => validateValues({ guard: value }, origin),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(e.exitCode, 2);
        assert.match(e.message, re);
        assert.equal(e.key, "guard");
        return true;
      },
    );
    void error;
  });
}
