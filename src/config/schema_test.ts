import assert from "node:assert/strict";
import {
  checkUntrusted,
  DEFAULTS,
  finalizeConfig,
  fromFileForm,
  parseMount,
  parseSize,
  toFileForm,
  validateValues,
} from "./schema.ts";
import { OPTIONS } from "./options.ts";
import { ConfigError } from "../errors.ts";

const required = {
  "run-command": "python bench.py",
  direction: "min",
  "metric-name": "time",
  "report-source": "stdout",
};

Deno.test("DEFAULTS match spec section 3", () => {
  assert.equal(DEFAULTS.trials, 1);
  assert.equal(DEFAULTS.iterations, 20);
  assert.equal(DEFAULTS.threshold, null);
  assert.equal(DEFAULTS.patience, 0);
  assert.equal(DEFAULTS.minImprovement, 0);
  assert.equal(DEFAULTS.maxConsecutiveCrashes, 3);
  assert.equal(DEFAULTS.trialTimeoutSeconds, null);
  assert.equal(DEFAULTS.critic, false);
  assert.equal(DEFAULTS.instructions, "");
  assert.equal(DEFAULTS.decision, "stat");
  assert.equal(DEFAULTS.confidence, 0.95);
  assert.equal(DEFAULTS.minEffect, 0);
  assert.equal(DEFAULTS.maxTrials, 10);
  assert.equal(DEFAULTS.maxCostUsd, 10);
  assert.equal(DEFAULTS.maxToolCalls, 60);
  assert.equal(DEFAULTS.bashTimeoutSeconds, 120);
  assert.equal(DEFAULTS.cpus, 2);
  assert.equal(DEFAULTS.memory, 4 * 1024 ** 3);
  assert.equal(DEFAULTS.pidsLimit, 4096);
  assert.equal(DEFAULTS.shmSize, 1024 ** 3);
  assert.equal(DEFAULTS.network, "none");
});

Deno.test("OPTIONS names every flag of spec section 3", () => {
  const names = OPTIONS.map((o) => o.name).sort();
  assert.deepEqual(
    names,
    [
      "run-command",
      "direction",
      "metric-name",
      "report-source",
      "trials",
      "iterations",
      "threshold",
      "patience",
      "min-improvement",
      "max-consecutive-crashes",
      "trial-timeout-seconds",
      "critic",
      "instructions",
      "instructions-file",
      "editable",
      "harness",
      "scratch",
      "image",
      "dockerfile",
      "prepare-command",
      "setup-command",
      "check-command",
      "metric-pattern",
      "guard",
      "decision",
      "confidence",
      "min-effect",
      "max-trials",
      "model",
      "max-cost-usd",
      "max-tool-calls",
      "bash-timeout-seconds",
      "cpus",
      "memory",
      "pids-limit",
      "shm-size",
      "gpus",
      "network",
      "mount",
      "pass-env",
      "cache",
      // The file-size cap of spec section 6 (the spec leaves its name open).
      "max-file-size",
    ].sort(),
  );
});

Deno.test("parseSize() reads byte counts and k/m/g/t suffixes", () => {
  assert.equal(parseSize("4g"), 4 * 1024 ** 3);
  assert.equal(parseSize("512m"), 512 * 1024 ** 2);
  assert.equal(parseSize("1.5G"), 1.5 * 1024 ** 3);
  assert.equal(parseSize("2048"), 2048);
  assert.equal(parseSize("lots"), null);
  assert.equal(parseSize("4x"), null);
  assert.equal(parseSize("0"), null);
});

Deno.test("parseMount() reads SRC:DST and SRC:DST:ro", () => {
  assert.deepEqual(parseMount("/data:/data:ro"), {
    source: "/data",
    target: "/data",
    readOnly: true,
  });
  assert.deepEqual(parseMount("w:/weights"), {
    source: "w",
    target: "/weights",
    readOnly: false,
  });
  assert.equal(parseMount("/data"), null);
  assert.equal(parseMount("/a:relative"), null);
  assert.equal(parseMount("/a:/b:xx"), null);
});

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

Deno.test("finalizeConfig() requires the four options of a run and names them", () => {
  assert.throws(
    () => finalizeConfig([{ runCommand: "x" }], "run"),
    (e: unknown) =>
      e instanceof ConfigError &&
      /--direction, --metric-name, --report-source/.test(e.message),
  );
  // measure needs no direction
  const c = finalizeConfig(
    [{ runCommand: "x", metricName: "m", reportSource: "stdout" }],
    "measure",
  );
  assert.equal(c.runCommand, "x");
});

Deno.test("finalizeConfig() applies precedence defaults < file < flags", () => {
  const file = validateValues({ ...required, trials: 3, patience: 4 }, "f");
  const flags = validateValues({ trials: 5 }, "flags");
  const c = finalizeConfig([file, flags], "run");
  assert.equal(c.trials, 5);
  assert.equal(c.patience, 4);
  assert.equal(c.iterations, 20);
});

const crossField: [Record<string, unknown>, RegExp][] = [
  [{ trials: 5, "max-trials": 4 }, /--max-trials 4 is below the starting 5/],
  [{ "max-trials": 2 }, /below the starting 3/],
  [
    { "pass-env": ["ANTHROPIC_API_KEY"] },
    /Refusing --pass-env ANTHROPIC_API_KEY/,
  ],
  [{ "pass-env": ["1BAD"] }, /Invalid --pass-env name/],
  [{ "metric-pattern": "score=(" }, /Invalid --metric-pattern/],
  [{ "metric-pattern": "score=\\d+" }, /no capture group/],
  [{ "report-source": "/etc/passwd" }, /outside the repository/],
  [{ "report-source": "../out.txt" }, /outside the repository/],
  [
    { editable: ["src/**"], harness: ["src/**"] },
    /both --editable and --harness/,
  ],
];

for (const [values, message] of crossField) {
  Deno.test(`finalizeConfig() refuses ${JSON.stringify(values)}`, () => {
    assert.throws(
      () =>
        finalizeConfig(
          [validateValues({ ...required, ...values }, "f")],
          "run",
        ),
      (e: unknown) =>
        e instanceof ConfigError && e.exitCode === 2 && message.test(e.message),
    );
  });
}

Deno.test("finalizeConfig() allows max-trials below 3 under the mean rule", () => {
  const c = finalizeConfig(
    [validateValues({ ...required, decision: "mean", "max-trials": 1 }, "f")],
    "run",
  );
  assert.equal(c.maxTrials, 1);
});

Deno.test("checkUntrusted() refuses trust-gated keys naming --trust-config", () => {
  for (
    const key of [
      "network",
      "image",
      "dockerfile",
      "prepare-command",
      "mount",
      "pass-env",
      "gpus",
      // Spec section 3 (issue 13.4, 16.7): one side's writes reach the
      // other through a cache volume; prices of 0 defeat --max-cost-usd.
      "cache",
      "prices",
    ]
  ) {
    assert.throws(
      () => checkUntrusted({ [key]: "x" }, "ratchet.jsonc"),
      (e: unknown) =>
        e instanceof ConfigError && e.key === key &&
        e.message.includes(`"${key}"`) &&
        (e.hint ?? "").includes("--trust-config"),
    );
  }
});

Deno.test("checkUntrusted() refuses huge resource limits from a repo file", () => {
  assert.throws(() => checkUntrusted({ memory: "none" }, "r"), /memory/);
  assert.throws(() => checkUntrusted({ memory: "1t" }, "r"), /memory/);
  assert.throws(() => checkUntrusted({ cpus: 512 }, "r"), /cpus/);
  assert.throws(() => checkUntrusted({ "pids-limit": 1000000 }, "r"), /pids/);
  assert.throws(
    () => checkUntrusted({ "max-file-size": "none" }, "r"),
    /"max-file-size": "none" from r is above the untrusted ceiling of 1g/,
  );
  checkUntrusted({ memory: "8g", cpus: 4, trials: 3 }, "r");
  checkUntrusted({ "max-file-size": "1g" }, "r");
});

Deno.test("toFileForm() and fromFileForm() round-trip a config", () => {
  const c = finalizeConfig(
    [
      validateValues({
        ...required,
        mount: ["/a:/b:ro"],
        memory: "none",
        "shm-size": "512m",
        threshold: 1.5,
        harness: ["tests/**"],
        guard: ["accuracy:max", "peak.rss:min:0.1"],
        prices: {
          m: { input: 1, output: 2, cache_write: 3, cache_read: 0.1 },
        },
      }, "f"),
    ],
    "run",
  );
  const back = fromFileForm(JSON.parse(JSON.stringify(toFileForm(c))));
  assert.deepEqual(back, c);
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

Deno.test("finalizeConfig() refuses a guard that names the metric or repeats", () => {
  const withGuards = (guard: string[]) => () =>
    finalizeConfig([validateValues({ ...required, guard }, "flags")], "run");
  assert.throws(withGuards(["Time:max"]), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.exitCode, 2);
    assert.match(
      e.message,
      /--guard "Time:max:0.02" names the metric itself \(--metric-name "time"\)/,
    );
    return true;
  });
  assert.throws(
    withGuards(["acc:max", "ACC:min"]),
    /--guard "ACC" is given twice/,
  );
  assert.equal(withGuards(["acc:max"])().guard.length, 1);
});
