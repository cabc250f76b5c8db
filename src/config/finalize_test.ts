import assert from "node:assert/strict";
import { finalizeConfig } from "./finalize.ts";
import { validateValues } from "./schema.ts";
import { ConfigError } from "../errors.ts";

const required = {
  "run-command": "python bench.py",
  direction: "min",
  "metric-name": "time",
  "report-source": "stdout",
};

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
