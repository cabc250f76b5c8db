import assert from "node:assert/strict";
import type { ControlLog } from "./control_log.ts";
import {
  decideOutcome,
  judgeTrial,
  type OutcomeInput,
  type TrialFacts,
} from "./trial_outcome.ts";

const okMetric: OutcomeInput["metric"] = {
  ok: true,
  value: 2.5,
  unit: null,
  rule: "line",
};

function outcome(overrides: Partial<OutcomeInput>) {
  return decideOutcome({
    timedOut: false,
    oomKilled: false,
    setupStatus: null,
    exitCode: 0,
    timeoutSeconds: 10,
    metric: okMetric,
    ...overrides,
  });
}

Deno.test("decideOutcome() maps exit codes, kills and metrics to the spec's outcomes", () => {
  assert.deepEqual(outcome({}), {
    outcome: "ok",
    score: 2.5,
    unit: null,
    rule: "line",
    detail: "",
  });
  const crashed = outcome({ exitCode: 3 });
  assert.equal(crashed.outcome, "crashed");
  assert.equal(crashed.score, null);
  assert.match(crashed.detail, /status 3/);
  assert.match(outcome({ exitCode: 139 }).detail, /signal 11/);
  assert.doesNotMatch(outcome({ exitCode: 2 }).detail, /signal/);
  assert.equal(outcome({ exitCode: null }).outcome, "crashed");
  const timeout = outcome({ timedOut: true, exitCode: null, oomKilled: true });
  assert.equal(timeout.outcome, "timeout");
  assert.match(timeout.detail, /--trial-timeout-seconds 10/);
  assert.equal(outcome({ oomKilled: true, exitCode: 137 }).outcome, "oom");
  const setup = outcome({ setupStatus: 2, exitCode: 2 });
  assert.equal(setup.outcome, "crashed");
  assert.match(setup.detail, /setup command/);
  const none = outcome({
    metric: { ok: false, message: "metric not found" },
  });
  assert.deepEqual([none.outcome, none.detail], [
    "no_metric",
    "metric not found",
  ]);
  // A crash wins over a printed metric.
  assert.equal(outcome({ exitCode: 1 }).score, null);
});

Deno.test("decideOutcome() makes a unit other than the baseline's no_metric", () => {
  const mb = { ok: true as const, value: 3, unit: "MB", rule: "line" as const };
  assert.equal(outcome({ metric: mb, expectedUnit: "MB" }).outcome, "ok");
  const differs = outcome({ metric: mb, expectedUnit: null });
  assert.equal(differs.outcome, "no_metric");
  assert.equal(differs.score, null);
  assert.equal(differs.unit, "MB");
  assert.match(differs.detail, /"MB" differs from the baseline's \(none\)/);
  assert.equal(
    outcome({ metric: okMetric, expectedUnit: "MB" }).outcome,
    "no_metric",
  );
  // Not checked when the caller has no expectation.
  assert.equal(outcome({ metric: mb }).outcome, "ok");
});

const noLog: ControlLog = {
  started: true,
  setupStatus: null,
  timeout: false,
  wall: { seconds: 0.5, clock: "ns", status: 0 },
};

function facts(overrides: Partial<TrialFacts> = {}): TrialFacts {
  return {
    reportSource: "stdout",
    metricName: "score",
    metricPattern: null,
    timeoutSeconds: 10,
    exitCode: 0,
    killedForTime: false,
    oomKilled: false,
    log: noLog,
    stdout: "score: 4\n",
    stderr: "score: 9\n",
    stdoutTruncated: false,
    stderrTruncated: false,
    report: null,
    ...overrides,
  };
}

Deno.test("judgeTrial() takes the metric from the stream or file --report-source names", () => {
  assert.equal(judgeTrial(facts()).score, 4);
  assert.equal(judgeTrial(facts({ reportSource: "stderr" })).score, 9);
  const file = judgeTrial(facts({
    reportSource: "out/r.txt",
    report: { ok: true, text: "score: 7\n", truncated: false },
  }));
  assert.deepEqual([file.outcome, file.score], ["ok", 7]);
  const wall = judgeTrial(facts({ reportSource: "wall", metricName: "time" }));
  assert.deepEqual([wall.outcome, wall.score, wall.rule], ["ok", 0.5, "wall"]);
});

Deno.test("judgeTrial() takes no metric from a report cut off at its cap", () => {
  const out = judgeTrial(facts({ stdoutTruncated: true }));
  assert.equal(out.outcome, "no_metric");
  assert.match(out.detail, /stdout passed 10 MiB and was cut off/);
  // The other stream's cap does not matter.
  assert.equal(judgeTrial(facts({ stderrTruncated: true })).outcome, "ok");
  const file = judgeTrial(facts({
    reportSource: "r.txt",
    report: { ok: true, text: "score: 7\n", truncated: true },
  }));
  assert.equal(file.outcome, "no_metric");
  assert.match(file.detail, /report file is larger than 10 MiB/);
});

Deno.test("judgeTrial() passes on why a report file could not be read", () => {
  const missing = judgeTrial(facts({
    reportSource: "r.txt",
    report: { ok: false, message: "the report file r.txt was not written" },
  }));
  assert.deepEqual([missing.outcome, missing.detail], [
    "no_metric",
    "the report file r.txt was not written",
  ]);
  assert.equal(
    judgeTrial(facts({ reportSource: "r.txt", report: null })).detail,
    "no report",
  );
});

Deno.test("judgeTrial() has no wall time when the control log lost it", () => {
  const out = judgeTrial(facts({
    reportSource: "wall",
    log: { ...noLog, wall: null },
  }));
  assert.equal(out.outcome, "no_metric");
  assert.match(out.detail, /wall time was not recorded/);
});

Deno.test("judgeTrial() counts the watchdog or a host kill as a timeout, with no exit status", () => {
  const watchdog = judgeTrial(facts({
    exitCode: 137,
    log: { ...noLog, timeout: true, wall: null },
  }));
  assert.deepEqual(
    [watchdog.outcome, watchdog.timedOut, watchdog.exitCode],
    ["timeout", true, null],
  );
  const host = judgeTrial(facts({ exitCode: null, killedForTime: true }));
  assert.deepEqual([host.outcome, host.timedOut], ["timeout", true]);
  // A watchdog line after the command finished (it raced the end) is not a
  // timeout: the wall line says the command ended by itself.
  const raced = judgeTrial(facts({ log: { ...noLog, timeout: true } }));
  assert.deepEqual([raced.outcome, raced.timedOut, raced.exitCode], [
    "ok",
    false,
    0,
  ]);
});

Deno.test("judgeTrial() reports a failed setup command and an OOM kill", () => {
  const setup = judgeTrial(facts({
    exitCode: 3,
    log: { started: false, setupStatus: 3, timeout: false, wall: null },
  }));
  assert.equal(setup.outcome, "crashed");
  assert.match(setup.detail, /--setup-command\) exited with status 3/);
  assert.equal(
    judgeTrial(facts({ exitCode: 137, oomKilled: true })).outcome,
    "oom",
  );
  const unit = judgeTrial(
    facts({ stdout: "score: 4 MB\n", expectedUnit: null }),
  );
  assert.equal(unit.outcome, "no_metric");
});
